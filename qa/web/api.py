"""The JSON API (the HTTP contract in the README) as an `APIRouter`.

In: requests; the service through `Depends`. Out: `router` with `POST /ask`, `GET /ask?q=`,
`GET /documents/{doc_id}`, `POST /index/rebuild` and `GET /health`.

A question goes: `ask_post` / `ask_get` -> `answer_response` -> `Service.answer_json` (the
answer executor) -> `Assistant.ask` (`qa/pipeline.py`). Valid `POST /ask` requests usually
never reach this router: `qa.web.fast_ask` answers them the same way, with less overhead.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from qa.config import MAX_TOP_K
from qa.stores.base import DocumentInfo
from qa.web.deps import ReadyServiceDep, ServiceDep
from qa.web.guard import authorize, check_doc_id
from qa.web.models import (
    EXAMPLE_QUESTION,
    AnswerOut,
    AskRequest,
    DocumentOut,
    HealthOut,
    IndexReportOut,
)
from qa.web.models import error_responses as errors
from qa.web.service import Service

router = APIRouter()


async def answer_response(service: Service, question: str, top_k: int | None) -> Response:
    """The answer as JSON, computed on the answer executor. The bytes go out as they are:
    `response_model` still documents them, but FastAPI does not validate and re-encode a
    `Response` (that cost two thread-pool hops and more time than the JSON itself)."""
    try:
        body = await service.answer_json(question, top_k)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(body, media_type="application/json")


@router.post(
    "/ask",
    response_model=AnswerOut,
    tags=["answers"],
    responses=errors(400, 413, 415, 422, 503),
    summary="Answer a question",
)
async def ask_post(body: AskRequest, service: ReadyServiceDep) -> Response:
    """Answer a question with verbatim, cited sentences from the documents."""
    return await answer_response(service, body.question, body.top_k)


@router.get(
    "/ask",
    response_model=AnswerOut,
    tags=["answers"],
    responses=errors(413, 422, 503),
    summary="Answer a question (query string)",
)
async def ask_get(
    service: ReadyServiceDep,
    q: Annotated[str, Query(description="The question.", examples=[EXAMPLE_QUESTION])],
    top_k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="1..20")] = None,
) -> Response:
    """The same as `POST /ask`, for links and curl."""
    return await answer_response(service, q, top_k)


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentOut,
    tags=["documents"],
    responses=errors(400, 404, 413, 422, 503),
    summary="A document's text",
)
def get_document(doc_id: str, service: ReadyServiceDep) -> dict[str, Any]:
    """A document's plain text (all offsets point into it), title, hash and chunk count."""
    return find_document(service, doc_id).__dict__


@router.post(
    "/index/rebuild",
    response_model=IndexReportOut,
    tags=["index"],
    responses=errors(403, 409, 413, 422, 503),
    summary="Rebuild the index",
)
async def rebuild(
    request: Request,
    service: ServiceDep,
    allow_removals: Annotated[
        bool, Query(description="Go ahead even if most indexed documents would be removed.")
    ] = False,
) -> dict[str, Any]:
    """Bring the index up to date with the docs folder and switch to it. Allowed from this
    machine; from elsewhere only with `Authorization: Bearer $QA_ADMIN_TOKEN`. Waits while
    another rebuild runs; questions keep being answered meanwhile.

    409 on a reader-only server (a shared store it must not write), and when the docs folder
    lacks more than half of the indexed documents (the reply names the folder and the counts;
    nothing is changed) unless `?allow_removals=true`."""
    authorize(request, service.admin_token)
    report = await asyncio.wrap_future(service.rebuild_in_background(allow_removals))
    return report.to_dict()


@router.get(
    "/health",
    response_model=HealthOut,
    tags=["index"],
    responses={503: {"model": HealthOut}, **errors(413)},
    summary="Service status",
)
def health(service: ServiceDep) -> Response | dict[str, Any]:
    """Whether questions can be asked, and the size of the index in use."""
    body = service.health()
    if body["status"] != "ok":
        return JSONResponse(body, 503, {"Retry-After": "2"})
    return body


def find_document(service: Service, doc_id: str) -> DocumentInfo:
    """The indexed document `doc_id`, or a 400 (a doc_id leaving the folder) or 404."""
    check_doc_id(doc_id)
    document = service.assistant.document(doc_id)
    if document is None:
        raise HTTPException(
            404,
            f"no document {doc_id!r} in the index; a doc_id is a path relative to the docs "
            "folder, as in an answer's citations",
        )
    return document
