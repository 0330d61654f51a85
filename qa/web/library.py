"""The documents, managed over HTTP and from the page: list, upload, remove, rebuild status.

In: requests; the service and templates through `Depends`. Out: `router` with
`GET /documents` (the indexed documents, paged, with the skipped files and the index's
figures), `POST /documents` (multipart upload), `DELETE /documents/{doc_id}` (to the trash),
`GET /index/status` (the rebuild's stage and progress), and the page's side: `GET /library`
and its two forms, `POST /library/upload` and `POST /library/remove`; and the limits the app
and the page use (`MAX_FILES`, `MAX_UPLOAD_BYTES` for `UPLOAD_ROUTES`, `PAGE_SIZE`).

Writes (uploads, removals) are allowed where a rebuild is: `authorize` (loopback, or the admin
token) and a builder server (a reader-only one answers 409, `ReaderOnly`). They must come from
this site (`check_origin`, against CSRF) as multipart forms; `qa.web.write_access` checks all
that. Every file is checked (name, type, size, readable text, name taken) before anything is
written; then the good ones are written atomically (`qa.web.intake`, over `qa.uploads`) and a
rebuild is queued (`Service.request_rebuild`). `?wait=true` waits for it and returns its
report. What the list and the page show comes from `qa.web.catalog`.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.convertors import PathConvertor, register_url_convertor

from qa.uploads import move_to_trash
from qa.web.catalog import read_library, select, size_text, when
from qa.web.deps import ServiceDep, TemplatesDep
from qa.web.guard import check_doc_id
from qa.web.intake import MAX_FILES, read_files, refusal, store_uploads, upload_body
from qa.web.models import (
    DocumentListOut,
    IndexStatusOut,
    RemoveOut,
    UploadOut,
)
from qa.web.models import error_responses as errors
from qa.web.service import ReaderOnly, Service
from qa.web.write_access import authorize_write, needs_token, remember_token


class DocIdConvertor(PathConvertor):
    """A doc_id in a path, like `{doc_id:path}`, but never one ending in `/view` or `/file`:
    no document has that name (its extension would be missing), and
    `/documents/{doc_id}/view` and `/file` are the view page and the original file, so
    `DELETE` on them is a 405, not a removal."""

    regex = r".*(?<!/view)(?<!/file)"


register_url_convertor("doc_id", DocIdConvertor())
router = APIRouter()

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # one upload request's whole body
PAGE_SIZE = 50  # documents per page of GET /documents by default
MAX_PAGE_SIZE = 500
PAGE_FORM_ERRORS = (400, 403, 404, 409, 413, 415, 422)  # a form's errors: the page, with a message
UPLOAD_ROUTES = (("POST", "/documents"), ("POST", "/library/upload"))


# ---- form fields --------------------------------------------------------------------------


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


# ---- removals -----------------------------------------------------------------------------


def remove_document(service: Service, doc_id: str) -> str:
    """Move `doc_id`'s file to the trash and tell the removal guard it was meant; returns
    where it went, relative to the docs folder. 400 for a bad doc_id, 404 when neither the
    index nor the folder has it."""
    check_doc_id(doc_id)
    folder = service.assistant.settings.docs_dir
    try:
        moved = move_to_trash(folder, doc_id)
    except FileNotFoundError:
        raise HTTPException(404, f"no document {doc_id!r} in the docs folder") from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    service.expect_removal(doc_id)
    return moved.relative_to(folder.resolve()).as_posix()


# ---- the JSON API -------------------------------------------------------------------------


@router.get(
    "/documents",
    response_model=DocumentListOut,
    tags=["documents"],
    responses=errors(413, 422, 503),
    summary="The indexed documents",
)
def list_documents(
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0, description="Skip this many documents.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="At most this many.")] = (
        PAGE_SIZE
    ),
    q: Annotated[str, Query(max_length=200, description="Only those containing this.")] = "",
    sort: Annotated[str, Query(pattern="^(name|date|size)$")] = "name",
    desc: Annotated[bool, Query(description="Largest or newest first.")] = False,
) -> dict[str, Any]:
    """The indexed documents (title, doc_id, type, size, chunks, when indexed), a page at a
    time; the files skipped at the last rebuild, with why; the index's generation, model and
    totals."""
    service.check_ready()
    library = read_library(service)
    chosen = select(library.documents, q, sort, desc)
    return {
        "documents": [asdict(e) for e in chosen[offset : offset + limit]],
        "total": len(chosen),
        "offset": offset,
        "limit": limit,
        "skipped": library.skipped,
        "index": {
            "generation": library.generation,
            "model": library.model,
            "documents": len(library.documents),
            "chunks": library.chunks,
        },
    }


@router.post(
    "/documents",
    response_model=UploadOut,
    status_code=202,
    tags=["documents"],
    responses=errors(400, 403, 409, 413, 415, 422, 503),
    summary="Upload documents",
)
async def upload_documents(
    request: Request,
    service: ServiceDep,
    replace: Annotated[bool, Query(description="Overwrite files of the same name.")] = False,
    wait: Annotated[bool, Query(description="Answer once the rebuild is done.")] = False,
) -> Response:
    """Add files to the docs folder (multipart, field `files`, up to 10 at once) and rebuild.

    Each file is checked before anything is written: its name is made safe (a plain name in
    the docs folder), its type must be supported, its size within the limit, its text
    readable, and its name new unless `replace`. The good files are written atomically and
    the index rebuilt in the background (202; `GET /index/status` shows it; `?wait=true`
    waits and adds the rebuild's report). When no file could be saved, the status is that
    of the first refusal (409, 413, 415 or 422) and nothing was written."""
    authorize_write(request, service)
    files, fields = await read_files(request)
    replace = replace or is_true(fields.get("replace"))
    return await upload_reply(service, files, replace, wait)


async def upload_reply(
    service: Service, files: list[tuple[str, bytes]], replace: bool, wait: bool
) -> JSONResponse:
    """Store `files` (on a worker thread: checking a PDF takes time) and answer as JSON."""
    if not files:
        raise HTTPException(422, "no file was sent; choose one or more files (field 'files')")
    outcomes = await asyncio.to_thread(store_uploads, service, files, replace)
    body = upload_body(outcomes)
    if not body["saved"]:
        first = next(o for o in outcomes if not o.saved)
        return JSONResponse({"detail": refusal(outcomes), **body}, first.status)
    future = service.request_rebuild()
    if wait:
        body["rebuild"] = (await asyncio.wrap_future(future)).to_dict()
        return JSONResponse(body, 200)
    return JSONResponse(body, 202)


@router.delete(
    "/documents/{doc_id:doc_id}",
    response_model=RemoveOut,
    status_code=202,
    tags=["documents"],
    responses=errors(400, 403, 404, 409, 413, 422, 503),
    summary="Remove a document",
)
async def delete_document(
    request: Request,
    doc_id: str,
    service: ServiceDep,
    wait: Annotated[bool, Query(description="Answer once the rebuild is done.")] = False,
) -> Response:
    """Move the document's file to `.trash/` inside the docs folder (move it back to undo)
    and rebuild; the next index generation no longer cites it. Same permissions as
    uploads. Removals one by one never trip the rebuild's guard against mass removals."""
    authorize_write(request, service)
    trash = await asyncio.to_thread(remove_document, service, doc_id)
    future = service.request_rebuild()
    body: dict[str, Any] = {"removed": doc_id, "trash": trash, "rebuild": "queued"}
    if wait:
        body["rebuild"] = (await asyncio.wrap_future(future)).to_dict()
        return JSONResponse(body, 200)
    return JSONResponse(body, 202)


@router.get(
    "/index/status",
    response_model=IndexStatusOut,
    tags=["index"],
    responses=errors(413),
    summary="Rebuild progress",
)
def index_status(service: ServiceDep) -> dict[str, Any]:
    """Whether a rebuild runs or is queued, its stage (reading, chunking, embedding N of M,
    writing) and percent; the count of finished rebuilds, the last report and error."""
    return service.status()


# ---- the page -----------------------------------------------------------------------------


@router.get(
    "/library",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(413, 422, html_route=True),
    summary="The library page",
)
def library_page(
    request: Request,
    service: ServiceDep,
    templates: TemplatesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(pattern="^(name|date|size)$")] = "name",
    desc: Annotated[bool, Query()] = False,
) -> Response:
    """Every indexed document (sortable, filterable), the skipped files, the index's figures,
    the rebuild's progress, and the forms to upload and remove documents."""
    return render_library(request, service, templates, {"q": q, "sort": sort, "desc": desc})


def render_library(
    request: Request,
    service: Service,
    templates: Any,
    options: dict[str, Any],
    status: int = 200,
    **extra: Any,
) -> Response:
    library = read_library(service)
    shown = select(library.documents, options["q"], options["sort"], options["desc"])
    context = {
        "library": library,
        "shown": shown,
        "status": service.status(),
        "role": service.role,
        "ready": service.ready.is_set(),
        "needs_token": needs_token(request, service),
        "max_files": MAX_FILES,
        "max_file_mb": service.assistant.settings.max_bytes // (1024 * 1024),
        "max_upload_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "when": when,
        "size_text": size_text,
        **options,
        **extra,
    }
    return templates.TemplateResponse(request, "library.html", context, status)


@router.post(
    "/library/upload",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(*PAGE_FORM_ERRORS, html_route=True),
    summary="The page's upload form",
)
async def library_upload(
    request: Request, service: ServiceDep, templates: TemplatesDep
) -> Response:
    """The upload form's target: like `POST /documents`, answered with the library page
    showing what was saved and what was refused, and why."""
    options = {"q": "", "sort": "name", "desc": False}
    try:
        files, fields = await read_files(request)
        typed = fields.get("token", "")
        authorize_write(request, service, typed)
        if not files:
            raise HTTPException(422, "no file was chosen; choose one or more files")
    except (HTTPException, ReaderOnly) as exc:
        return page_error(request, service, templates, exc)
    outcomes = await asyncio.to_thread(
        store_uploads, service, files, is_true(fields.get("replace"))
    )
    status = 200
    if any(o.saved for o in outcomes):
        service.request_rebuild()
    else:
        status = next(o.status for o in outcomes)
    response = render_library(
        request, service, templates, options, status, outcomes=outcomes,
        needs_token=needs_token(request, service) and not typed,
    )  # fmt: skip
    remember_token(response, request, service, typed)
    return response


@router.post(
    "/library/remove",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(*PAGE_FORM_ERRORS, html_route=True),
    summary="The page's remove button",
)
async def library_remove(
    request: Request, service: ServiceDep, templates: TemplatesDep
) -> Response:
    """A remove button's target: like `DELETE /documents/{doc_id}`, answered with the
    library page."""
    options = {"q": "", "sort": "name", "desc": False}
    try:
        _, fields = await read_files(request)
        typed = fields.get("token", "")
        authorize_write(request, service, typed)
        doc_id = fields.get("doc_id", "")
        trash = await asyncio.to_thread(remove_document, service, doc_id)
    except (HTTPException, ReaderOnly) as exc:
        return page_error(request, service, templates, exc)
    service.request_rebuild()
    response = render_library(
        request, service, templates, options, removed={"doc_id": doc_id, "trash": trash},
        needs_token=needs_token(request, service) and not typed,
    )  # fmt: skip
    remember_token(response, request, service, typed)
    return response


@router.post(
    "/library/token",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(*PAGE_FORM_ERRORS, html_route=True),
    summary="The page's admin token form",
)
async def library_token(request: Request, service: ServiceDep, templates: TemplatesDep) -> Response:
    """Check the admin token a person typed; when right, the page remembers it in an
    HttpOnly, SameSite=Strict cookie (holding a keyed hash of it, not the token)."""
    try:
        _, fields = await read_files(request)
        typed = fields.get("token", "")
        if not typed.strip():
            raise HTTPException(403, "type the admin token (QA_ADMIN_TOKEN of the server)")
        authorize_write(request, service, typed)
    except (HTTPException, ReaderOnly) as exc:
        return page_error(request, service, templates, exc)
    options = {"q": "", "sort": "name", "desc": False}
    response = render_library(
        request, service, templates, options, unlocked=True, needs_token=False
    )
    remember_token(response, request, service, typed)
    return response


def page_error(
    request: Request, service: Service, templates: Any, exc: HTTPException | ReaderOnly
) -> Response:
    """The library page with the error that stopped a form, and its status (4xx)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 409
    detail = str(exc.detail) if isinstance(exc, HTTPException) else str(exc)
    options = {"q": "", "sort": "name", "desc": False}
    return render_library(request, service, templates, options, status, error=detail)
