"""The documents, managed over HTTP and from the page: list, upload, remove, rebuild status.

In: requests; the service and templates through `Depends`. Out: `router` with
`GET /documents` (the indexed documents, paged, with the skipped files and the index's
figures), `POST /documents` (multipart upload), `DELETE /documents/{doc_id}` (to the trash),
`GET /index/status` (the rebuild's stage and progress), and the page's side: `GET /library`
and its two forms, `POST /library/upload` and `POST /library/remove`.

Writes (uploads, removals) are allowed where a rebuild is: `authorize` (loopback, or the admin
token) and a builder server (a reader-only one answers 409, `ReaderOnly`). They must come from
this site (`check_origin`, against CSRF) as multipart forms. Every file is checked (name,
type, size, readable text, name taken) before anything is written; then the good ones are
written atomically (`qa.uploads`) and a rebuild is queued (`Service.request_rebuild`).
`?wait=true` waits for it and returns its report.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.datastructures import UploadFile

from qa.documents import check_content
from qa.uploads import AlreadyExists, NameRefused, move_to_trash, safe_name, write_file
from qa.web.deps import ServiceDep, TemplatesDep
from qa.web.guard import ADMIN_COOKIE, authorize, check_doc_id, check_origin, is_local
from qa.web.models import (
    DocumentListOut,
    IndexStatusOut,
    RemoveOut,
    UploadOut,
)
from qa.web.models import error_responses as errors
from qa.web.service import ReaderOnly, Service


class DocIdConvertor(PathConvertor):
    """A doc_id in a path, like `{doc_id:path}`, but never one ending in `/view`: no document
    has that name (its extension would be missing), and `/documents/{doc_id}/view` is the
    view page, so `DELETE` on a view path is a 405, not a removal."""

    regex = r".*(?<!/view)"


register_url_convertor("doc_id", DocIdConvertor())
router = APIRouter()

MAX_FILES = 10  # files per upload request
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # one upload request's whole body
PAGE_SIZE = 50  # documents per page of GET /documents by default
MAX_PAGE_SIZE = 500
PAGE_FORM_ERRORS = (400, 403, 404, 409, 413, 415, 422)  # a form's errors: the page, with a message
UPLOAD_ROUTES = (("POST", "/documents"), ("POST", "/library/upload"))


# ---- what the library shows ---------------------------------------------------------------


@dataclass(frozen=True)
class LibraryEntry:
    """One indexed document as the library lists it."""

    doc_id: str
    title: str
    type: str  # the extension without its dot: txt, md, pdf...
    size: int  # bytes of the file in the docs folder (of its text if the file is gone)
    chunks: int
    indexed_at: float | None  # when this version entered the index (Unix seconds)


@dataclass
class Library:
    """The documents of the index in use, the files skipped at the last rebuild, and the
    index's figures."""

    documents: list[LibraryEntry] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    generation: str | None = None
    model: str = ""
    chunks: int = 0


def read_library(service: Service) -> Library:
    """The library of `service`'s current index (empty while it is not ready)."""
    library = Library(model=service.assistant.embedder.name)
    report = service.last_report
    library.skipped = list(report.skipped) if report else []
    if not service.ready.is_set():
        return library
    snapshot = service.assistant.snapshot()
    folder = service.assistant.settings.docs_dir
    times = service.assistant.indexed_at()
    for doc_id in snapshot.doc_ids():
        info = snapshot.document(doc_id)
        if info is None:
            continue
        indexed = times.get(doc_id)
        library.documents.append(
            LibraryEntry(
                doc_id=doc_id,
                title=info.title,
                type=Path(doc_id).suffix.lstrip(".").lower(),
                size=_file_size(folder / doc_id, info.text),
                chunks=info.chunks,
                indexed_at=indexed.at if indexed and indexed.sha256 == info.sha256 else None,
            )
        )
    library.generation, library.model = snapshot.version, snapshot.model
    library.chunks = snapshot.chunk_count
    return library


def _file_size(path: Path, text: str) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return len(text.encode("utf-8"))


SORTS = ("name", "date", "size")


def select(
    entries: list[LibraryEntry], text: str = "", sort: str = "name", descending: bool = False
) -> list[LibraryEntry]:
    """`entries` whose doc_id, title or type contains `text` (any case), sorted by `sort`:
    name (title, then doc_id), date (indexed), or size."""
    needle = text.strip().casefold()
    chosen = [
        e for e in entries if needle in f"{e.doc_id}\n{e.title}\n{e.type}".casefold()
    ]  # fmt: skip
    keys = {
        "name": lambda e: (e.title.casefold(), e.doc_id),
        "date": lambda e: (e.indexed_at or 0.0, e.doc_id),
        "size": lambda e: (e.size, e.doc_id),
    }
    return sorted(chosen, key=keys.get(sort, keys["name"]), reverse=descending)


# ---- uploads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one uploaded file: `saved` as `doc_id` (`replaced` an older file), or
    refused with `status` and `reason`."""

    filename: str
    doc_id: str | None = None
    saved: bool = False
    replaced: bool = False
    status: int = 200
    reason: str = ""


def store_uploads(service: Service, files: list[tuple[str, bytes]], replace: bool) -> list[Outcome]:
    """Check every (filename, bytes) first, then write the good ones atomically into the
    docs folder under their safe names. A name already in the folder (or twice in this
    request) is refused unless `replace`; a refused file is never written."""
    folder = service.assistant.settings.docs_dir
    checked = [_check_upload(folder, name, data, replace, service) for name, data in files]
    seen: set[str] = set()
    outcomes = []
    for (name, data), outcome in zip(files, checked, strict=True):
        if outcome.status == 200 and outcome.doc_id in seen:
            outcome = Outcome(name, status=409, reason="sent twice in this request")
        if outcome.status == 200 and outcome.doc_id:
            seen.add(outcome.doc_id)
            outcome = _write(folder, outcome, data, replace)
        outcomes.append(outcome)
    return outcomes


def _check_upload(
    folder: Path, filename: str, data: bytes, replace: bool, service: Service
) -> Outcome:
    """An `Outcome` that is either refused (why) or ready to write (status 200, doc_id)."""
    try:
        name = safe_name(filename)
    except NameRefused as exc:
        return Outcome(filename, status=422, reason=str(exc))
    problem = check_content(name, data, service.assistant.settings.max_bytes)
    if problem:
        status = 413 if "too large" in problem else 415 if "unsupported" in problem else 422
        return Outcome(filename, name, status=status, reason=problem)
    target = folder / name
    if target.exists() or target.is_symlink():
        if not replace:
            return Outcome(
                filename, name, status=409,
                reason=f"{name} already exists; tick 'replace' (replace=true) to overwrite it",
            )  # fmt: skip
        if target.is_symlink() or not target.is_file():
            return Outcome(filename, name, status=409, reason=f"{name} is not a regular file")
    return Outcome(filename, name)


def _write(folder: Path, outcome: Outcome, data: bytes, replace: bool) -> Outcome:
    name = outcome.doc_id or ""
    existed = (folder / name).exists()
    try:
        write_file(folder, name, data, replace)
    except AlreadyExists as exc:  # taken meanwhile, by a concurrent upload
        return Outcome(outcome.filename, name, status=409, reason=str(exc))
    except (OSError, ValueError) as exc:
        return Outcome(outcome.filename, name, status=422, reason=f"cannot write {name}: {exc}")
    return Outcome(outcome.filename, name, saved=True, replaced=existed and replace)


async def read_files(request: Request) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """The uploaded files (name, bytes) and the other fields of a multipart request; 415 for
    any other body, 413 for more than `MAX_FILES` files, 422 for none."""
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise HTTPException(
            415, "send the files as multipart/form-data (curl -F files=@report.pdf ...)"
        )
    form = await request.form(max_files=MAX_FILES + 1, max_fields=20)
    files, fields = [], {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if value.filename:  # a file input left empty sends a nameless part
                files.append((value.filename, await value.read()))
        else:
            fields[key] = value
    if len(files) > MAX_FILES:
        raise HTTPException(413, f"too many files: at most {MAX_FILES} per upload")
    return files, fields


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


# ---- who may write ------------------------------------------------------------------------


def cookie_value(token: str) -> str:
    """What the admin cookie holds: a keyed hash of the token, never the token itself."""
    return hmac.new(token.encode(), b"qa-admin-cookie", hashlib.sha256).hexdigest()


def authorize_write(request: Request, service: Service, typed: str | None = None) -> None:
    """The checks every write passes, in order: from this site (403), allowed to change the
    index (403: loopback, or the admin token as a header, typed into the page, or the page's
    cookie) and on a builder server (409)."""
    check_origin(request)
    token = service.admin_token
    cookie = request.cookies.get(ADMIN_COOKIE)
    if token and not typed and cookie and hmac.compare_digest(cookie, cookie_value(token)):
        typed = token
    authorize(request, token, typed or "")
    service.check_builder()


def remember_token(response: Response, request: Request, service: Service, typed: str) -> None:
    """After a write authorised by a token typed into the page: set the admin cookie
    (HttpOnly, SameSite=Strict, for 8 hours) so the next form does not ask again."""
    if typed and service.admin_token and not is_local(request):
        response.set_cookie(
            ADMIN_COOKIE, cookie_value(service.admin_token), max_age=8 * 3600,
            httponly=True, samesite="strict", secure=request.url.scheme == "https",
        )  # fmt: skip


def needs_token(request: Request, service: Service) -> bool:
    """Whether the page must ask for the admin token before a write."""
    if is_local(request):
        return False
    cookie = request.cookies.get(ADMIN_COOKIE) or ""
    token = service.admin_token
    return not (token and hmac.compare_digest(cookie, cookie_value(token)))


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


def upload_body(outcomes: list[Outcome]) -> dict[str, Any]:
    saved = [{"filename": o.filename, "doc_id": o.doc_id, "replaced": o.replaced}
             for o in outcomes if o.saved]  # fmt: skip
    rejected = [{"filename": o.filename, "status": o.status, "reason": o.reason}
                for o in outcomes if not o.saved]  # fmt: skip
    return {"saved": saved, "rejected": rejected, "rebuild": "queued" if saved else None}


def refusal(outcomes: list[Outcome]) -> str:
    """One message naming every refused file and why."""
    refused = [f"{o.filename}: {o.reason}" for o in outcomes if not o.saved]
    return "nothing was saved; " + "; ".join(refused)


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


def when(seconds: float | None) -> str:
    """A Unix time as local `YYYY-MM-DD HH:MM`, or an em dash when unknown."""
    if not seconds:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def size_text(size: int) -> str:
    """A byte count for people: 812 B, 4.2 KB, 1.3 MB."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"
