"""The documents, managed over HTTP and from the page: list, upload, remove, rebuild status.

In: requests; the service and templates through `Depends`. Out: `router` with
`GET /documents` (the indexed documents, paged, with the skipped files and the index's
figures), `POST /documents` (multipart upload), `DELETE /documents/{doc_id}` (to the trash),
`GET /index/status` (the rebuild's stage and progress), and the page's side: `GET /library`,
the removal's confirmation `GET /library/remove?doc_id=`, and its forms, `POST
/library/upload`, `/library/remove`, `/library/token` (unlock) and `/library/lock`, each
answered by a redirect to the page showing its result (post/redirect/get, `qa.web.flash`);
and the limits the app and the page use (`MAX_FILES`, `MAX_UPLOAD_BYTES` for
`UPLOAD_ROUTES`, `PAGE_SIZE`).

Writes (uploads, removals) are allowed where a rebuild is: `authorize` (loopback, or the admin
token) and a builder server (a reader-only one answers 409, `ReaderOnly`). They must come from
this site (`check_origin`, against CSRF; the page's forms carry a form token, which is what
vouches for them when a browser sends `Origin: null`) as multipart forms;
`qa.web.write_access` checks all that. Only files the library could list (supported type,
no hidden part) can be removed. Every file is checked (name, type, size, readable text,
name taken) before anything is written; then the good ones are written atomically
(`qa.web.intake`, over `qa.uploads`) and a rebuild is queued (`Service.request_rebuild`).
`?wait=true` waits for it and returns its
report. What the list and the page show comes from `qa.web.catalog`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.convertors import PathConvertor, register_url_convertor

from qa.documents import SUPPORTED_SUFFIXES
from qa.uploads import TRASH, move_to_trash
from qa.web.catalog import megabytes, read_library, select, size_text, when
from qa.web.deps import ServiceDep, TemplatesDep
from qa.web.flash import FLASHES
from qa.web.guard import check_doc_id, check_origin
from qa.web.intake import MAX_FILES, read_files, refusal, store_uploads, upload_body
from qa.web.models import (
    DocumentListOut,
    IndexStatusOut,
    RemoveOut,
    UploadOut,
)
from qa.web.models import error_responses as errors
from qa.web.service import ReaderOnly, Service
from qa.web.write_access import (
    FORM_FIELD,
    authorize_write,
    forget_session,
    form_token,
    form_token_valid,
    has_session,
    needs_token,
    remember_token,
)


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
# The forms' answer once they were read and come from this site, whatever the outcome.
REDIRECT: dict[int | str, dict[str, Any]] = {
    303: {"description": "Done or refused: the library page it redirects to says which."}
}


# ---- form fields --------------------------------------------------------------------------


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


# ---- removals -----------------------------------------------------------------------------


def removable(doc_id: str) -> bool:
    """Whether `doc_id` names a file the library could list: no hidden part (`.trash/`,
    `.hiddenfile`, temporary uploads) and a supported type. Only those may be removed."""
    return not any(part.startswith(".") for part in doc_id.split("/")) and (
        PurePosixPath(doc_id).suffix.lower() in SUPPORTED_SUFFIXES
    )


def remove_document(service: Service, doc_id: str) -> str:
    """Move `doc_id`'s file to the trash and tell the removal guard it was meant; returns
    where it went, relative to the docs folder. 400 for a bad doc_id, 404 when the folder
    has no such file or it is not one the library lists (hidden, unsupported type)."""
    check_doc_id(doc_id)
    if doc_id.split("/")[0] == TRASH:
        raise HTTPException(400, f"{doc_id!r} is in the trash, not in the library")
    if not removable(doc_id):
        raise HTTPException(
            404,
            f"no document {doc_id!r}: only listed documents can be removed (supported types, "
            "not hidden)",
        )
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

SortParam = Annotated[str, Query(pattern="^(name|date|size)$")]


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
    sort: SortParam = "name",
    desc: Annotated[bool, Query()] = False,
    done: Annotated[str, Query(max_length=64, description="A form's result to show.")] = "",
) -> Response:
    """Every indexed document (sortable, filterable), the skipped files, the index's figures,
    the rebuild's progress, and the forms to upload and remove documents. `done`: the key
    a form's redirect carries, to show what that form did (post/redirect/get)."""
    shown = FLASHES.get(done) or {}
    if done and not shown:
        shown = {"error": "that result is no longer kept; the list below is up to date"}
    return render_library(
        request, service, templates, {"q": q, "sort": sort, "desc": desc}, **shown
    )


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
        "session": has_session(request, service),
        "session_hours": session_hours(service),
        "max_files": MAX_FILES,
        "accepted": ",".join(SUPPORTED_SUFFIXES),
        "max_file_mb": megabytes(service.assistant.settings.max_bytes, 1),
        "max_upload_mb": megabytes(MAX_UPLOAD_BYTES),
        "when": when,
        "size_text": size_text,
        **options,
        **extra,
    }
    return with_form_token(request, templates, "library.html", context, status)


def with_form_token(
    request: Request, templates: Any, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    """Template `name` rendered with the browser's form token (setting its cookie if new)."""
    holder = Response()
    context = {**context, "form_token": form_token(request, holder)}
    response: Response = templates.TemplateResponse(request, name, context, status)
    for key, value in holder.headers.items():
        if key == "set-cookie":
            response.headers.append(key, value)
    return response


def session_hours(service: Service) -> float:
    """How long an unlocked page stays unlocked (`QA_ADMIN_SESSION_HOURS`)."""
    return service.assistant.settings.admin_session_hours


@router.get(
    "/library/remove",
    response_class=HTMLResponse,
    tags=["page"],
    responses=errors(400, 404, 413, 422, html_route=True),
    summary="Confirm a removal",
)
def library_remove_confirm(
    request: Request,
    service: ServiceDep,
    templates: TemplatesDep,
    doc_id: Annotated[str, Query(max_length=1000)],
) -> Response:
    """The page that asks before a document is removed: its name, where it goes, and a
    Remove button (a POST to `/library/remove`); works without JavaScript."""
    check_doc_id(doc_id)
    path = service.assistant.settings.docs_dir / doc_id
    if not removable(doc_id) or not (path.is_file() or path.is_symlink()):
        raise HTTPException(404, f"no document {doc_id!r} to remove")
    info = service.assistant.snapshot().document(doc_id) if service.ready.is_set() else None
    context = {
        "doc_id": doc_id,
        "title": info.title if info else doc_id,
        "needs_token": needs_token(request, service),
        "role": service.role,
    }
    return with_form_token(request, templates, "library_remove.html", context)


FormAction = Callable[
    [Request, Service, dict[str, str], list[tuple[str, bytes]], Response],
    Awaitable[dict[str, Any]],
]


async def form_post(
    request: Request, service: Service, templates: Any, action: FormAction
) -> Response:
    """A library form's post: read it, check it comes from this site, then do `action` and
    redirect (303) to the page showing the result, whatever it was (post/redirect/get: a
    reload posts nothing). A form that cannot be read, or comes from another site, gets
    the page with its error and status at once: nothing was done, nothing is kept."""
    try:
        files, fields = await read_files(request)
        check_origin(request, vouched=form_token_valid(request, fields.get(FORM_FIELD)))
    except HTTPException as exc:
        return page_error(request, service, templates, exc)
    response = RedirectResponse("/library", 303)
    try:
        authorize_write(request, service, fields.get("token", ""), fields.get(FORM_FIELD))
        result = await action(request, service, fields, files, response)
    except (HTTPException, ReaderOnly) as exc:
        result = {"error": error_text(exc)}
    response.headers["location"] = "/library?" + urlencode({"done": FLASHES.put(result)})
    return response


async def _upload(
    request: Request,
    service: Service,
    fields: dict[str, str],
    files: list[tuple[str, bytes]],
    response: Response,
) -> dict[str, Any]:
    if not files:
        raise HTTPException(422, "no file was chosen; choose one or more files")
    outcomes = await asyncio.to_thread(
        store_uploads, service, files, is_true(fields.get("replace"))
    )
    if any(o.saved for o in outcomes):
        service.request_rebuild()
    _remember(response, request, service, fields)
    return {"outcomes": [asdict(o) for o in outcomes]}


async def _remove(
    request: Request,
    service: Service,
    fields: dict[str, str],
    files: list[tuple[str, bytes]],
    response: Response,
) -> dict[str, Any]:
    doc_id = fields.get("doc_id", "")
    trash = await asyncio.to_thread(remove_document, service, doc_id)
    service.request_rebuild()
    _remember(response, request, service, fields)
    return {"removed": {"doc_id": doc_id, "trash": trash}}


async def _unlock(
    request: Request,
    service: Service,
    fields: dict[str, str],
    files: list[tuple[str, bytes]],
    response: Response,
) -> dict[str, Any]:
    if not fields.get("token", "").strip():
        raise HTTPException(403, "type the admin token (QA_ADMIN_TOKEN of the server)")
    return {"unlocked": _remember(response, request, service, fields)}


def _remember(
    response: Response, request: Request, service: Service, fields: dict[str, str]
) -> bool:
    return remember_token(
        response, request, service, fields.get("token", ""), session_hours(service)
    )


@router.post(
    "/library/upload",
    response_class=HTMLResponse,
    tags=["page"],
    responses={**errors(*PAGE_FORM_ERRORS, html_route=True), **REDIRECT},
    summary="The page's upload form",
)
async def library_upload(
    request: Request, service: ServiceDep, templates: TemplatesDep
) -> Response:
    """The upload form's target: like `POST /documents`, then a redirect (303) to the
    library page showing what was saved and what was refused, and why."""
    return await form_post(request, service, templates, _upload)


@router.post(
    "/library/remove",
    response_class=HTMLResponse,
    tags=["page"],
    responses={**errors(*PAGE_FORM_ERRORS, html_route=True), **REDIRECT},
    summary="The page's remove button",
)
async def library_remove(
    request: Request, service: ServiceDep, templates: TemplatesDep
) -> Response:
    """The removal's confirmation button: like `DELETE /documents/{doc_id}`, then a
    redirect (303) to the library page saying where the file went."""
    return await form_post(request, service, templates, _remove)


@router.post(
    "/library/token",
    response_class=HTMLResponse,
    tags=["page"],
    responses={**errors(*PAGE_FORM_ERRORS, html_route=True), **REDIRECT},
    summary="The page's admin token form",
)
async def library_token(request: Request, service: ServiceDep, templates: TemplatesDep) -> Response:
    """Check the admin token a person typed; when right, a session starts: a fresh random
    id in an HttpOnly, SameSite=Strict cookie, which the server honours for
    `QA_ADMIN_SESSION_HOURS` (12 by default). Then a redirect (303) to the page."""
    return await form_post(request, service, templates, _unlock)


@router.post(
    "/library/lock",
    response_class=HTMLResponse,
    tags=["page"],
    responses={**errors(*PAGE_FORM_ERRORS, html_route=True), **REDIRECT},
    summary="The page's Lock button",
)
async def library_lock(request: Request, service: ServiceDep, templates: TemplatesDep) -> Response:
    """End this browser's admin session (server-side too), then a redirect (303) to the page."""
    try:
        _, fields = await read_files(request)
        check_origin(request, vouched=form_token_valid(request, fields.get(FORM_FIELD)))
    except HTTPException as exc:
        return page_error(request, service, templates, exc)
    response = RedirectResponse("/library", 303)
    forget_session(response, request)
    response.headers["location"] = "/library?" + urlencode({"done": FLASHES.put({"locked": True})})
    return response


def error_text(exc: HTTPException | ReaderOnly) -> str:
    return str(exc.detail) if isinstance(exc, HTTPException) else str(exc)


def page_error(
    request: Request, service: Service, templates: Any, exc: HTTPException | ReaderOnly
) -> Response:
    """The library page with the error that stopped a form, and its status (4xx)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 409
    options = {"q": "", "sort": "name", "desc": False}
    return render_library(request, service, templates, options, status, error=error_text(exc))
