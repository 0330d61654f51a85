"""The HTML side as an `APIRouter`: the question page and the document view.

In: requests; the service and templates through `Depends`. Out: `router` with `GET /` (the
question box; with `?q=`, the cited answer and the passages),
`GET /documents/{doc_id}/view?start=&end=` (the document, the span highlighted, with its page
and a link to the original file there) and `GET /documents/{doc_id}/file` (the original file:
PDFs inline in a sandbox, every other type as a download), plus `answer_view(result)`, what
the page shows of an answer.

These routes are included before the API's `GET /documents/{doc_id}`, whose path pattern
would otherwise match their paths too (see `qa.web.app`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from qa.answer import confidence_words
from qa.config import MAX_TOP_K, validate_question
from qa.web.api import find_document
from qa.web.deps import ServiceDep, TemplatesDep
from qa.web.models import error_responses as errors
from qa.web.service import PRODUCT_ERRORS, Service
from qa.web.templating import INLINE_TYPES

router = APIRouter()


@router.get(
    "/",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(400, 413, 422, 503, html_route=True),
    summary="The web page",
)
def page(
    request: Request,
    service: ServiceDep,
    templates: TemplatesDep,
    q: Annotated[str | None, Query(description="The question to answer.")] = None,
    top_k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K)] = None,
) -> Response:
    """The web page: a question box; with `q`, the cited answer and the passages."""
    context: dict[str, Any] = {
        "question": q or "",
        "top_k": top_k,
        "ready": service.ready.is_set(),
        "role": service.role,  # the footer says builder or reader-only, and where docs come from
    }
    status = 200
    if q is not None:
        try:
            question = validate_question(q)
            if not service.ready.is_set():
                status = 503
            else:
                # waits its turn on the answer executor
                context |= answer_view(service.ask(question, top_k))
        except ValueError as exc:
            status, context["error"] = 400, str(exc)
        except PRODUCT_ERRORS as exc:
            status, context["error"] = 503, str(exc)
    headers = {"Retry-After": "2"} if status == 503 else None
    return templates.TemplateResponse(request, "index.html", context, status, headers)


@router.get(
    "/documents/{doc_id:path}/view",
    response_class=HTMLResponse,
    tags=["documents"],
    responses=errors(400, 404, 413, 422, 503, html_route=True),
    summary="A document with a highlighted span",
)
def view_document(
    request: Request,
    doc_id: str,
    service: ServiceDep,
    templates: TemplatesDep,
    start: Annotated[int | None, Query(ge=0, description="Start of the highlight.")] = None,
    end: Annotated[int | None, Query(ge=0, description="End of the highlight.")] = None,
) -> Response:
    """The document as HTML, the span [start, end) in a `<mark>` scrolled into view."""
    service.check_ready()
    document = find_document(service, doc_id)
    size = len(document.text)
    if (start is None) != (end is None):
        raise HTTPException(400, "give both start and end, or neither")
    if start is not None and end is not None and not 0 <= start < end <= size:
        raise HTTPException(
            400,
            f"start and end must satisfy 0 <= start < end <= {size} "
            f"(the length of this document's text); got start={start}, end={end}",
        )
    lo, hi = (start, end) if start is not None and end is not None else (size, size)
    layout = service.assistant.layout(document.doc_id)
    context = {
        "document": document,
        "before": document.text[:lo],
        "marked": document.text[lo:hi],
        "after": document.text[hi:],
        "start": start,
        "end": end,
        "page": layout.page(lo) if start is not None else None,
        "section": layout.section(lo) if start is not None else None,
        "original": original_file(service, document.doc_id) is not None,
    }
    return templates.TemplateResponse(request, "view.html", context)


FILE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


@router.get(
    "/documents/{doc_id:path}/file",
    response_class=FileResponse,
    tags=["documents"],
    responses=errors(400, 404, 413, 422, 503),
    summary="A document's original file",
)
def document_file(doc_id: str, service: ServiceDep) -> Response:
    """The indexed document's original file from the docs folder: a PDF inline (link to
    `.../file#page=N` to open it at a page), any other type as a download. 404 when the
    index or the docs folder lacks it."""
    service.check_ready()
    document = find_document(service, doc_id)
    path = original_file(service, document.doc_id)
    if path is None:
        raise HTTPException(404, f"the original file of {doc_id!r} is not in the docs folder")
    media_type = INLINE_TYPES.get(path.suffix.lower())
    return FileResponse(
        path,
        media_type=media_type or "application/octet-stream",
        filename=path.name,
        content_disposition_type="inline" if media_type else "attachment",
        headers=FILE_HEADERS,
    )


def original_file(service: Service, doc_id: str) -> Path | None:
    """`doc_id`'s file in the docs folder, or None when it is not there, not a regular file,
    or resolves (through a symlink) to a place outside the folder."""
    root = Path(service.assistant.settings.docs_dir).resolve()
    try:
        path = (root / doc_id).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def answer_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of an `Answer.to_dict()`: its outcome, the answer split at its `[n]`
    markers, the sources (each quote in its context: `before`, the quote's `parts` with a
    short answer marked inside, `after`; with `candidates`, each one's confidence in words),
    the confidence in words."""
    citations = result.get("citations", [])
    numbers = {c["n"] for c in citations}
    segments: list[tuple[str, int | None]] = []
    for i, piece in enumerate(re.split(r"\[(\d+)\]", result.get("answer", ""))):
        if i % 2 == 0:
            if piece:
                segments.append((piece, None))
        elif int(piece) in numbers:
            segments.append(("", int(piece)))
        else:
            segments.append((f"[{piece}]", None))
    short = result.get("short_answer") or None
    sources = [{**c, **context_parts(c), "parts": quote_parts(c, short),
                "confidence_word": confidence_words(float(c.get("confidence") or 0.0))}
               for c in citations]  # fmt: skip
    confidence = float(result.get("confidence", 0.0))
    outcome = result.get("outcome") or ("answer" if result.get("answered") else "none")
    return {
        "result": result,
        "outcome": outcome,
        "segments": segments,
        "sources": sources,
        "short": short,
        "confidence_word": confidence_words(confidence),
    }


def context_parts(citation: dict[str, Any]) -> dict[str, str]:
    """The citation's context around its quote: `before` and `after` ('' without one)."""
    context = citation.get("context") or ""
    lo = citation["start"] - citation.get("context_start", citation["start"])
    hi = lo + len(citation["quote"])
    if not context or context[lo:hi] != citation["quote"]:
        return {"before": "", "after": ""}
    return {"before": context[:lo], "after": context[hi:]}


def quote_parts(citation: dict[str, Any], short: dict[str, Any] | None) -> list[tuple[str, bool]]:
    """The quote as (text, is_short_answer) pieces: the short answer highlighted when it
    lies inside this quote, else the whole quote."""
    quote_text = citation["quote"]
    if short and short.get("doc_id") == citation["doc_id"]:
        lo, hi = (
            short.get("start", -1) - citation["start"],
            short.get("end", -1) - citation["start"],
        )
        if 0 <= lo < hi <= len(quote_text):
            return [(quote_text[:lo], False), (quote_text[lo:hi], True), (quote_text[hi:], False)]
    return [(quote_text, False)]
