"""The web layer: a FastAPI app over `qa.pipeline.Assistant`, thin routes and nothing else.

In: an `Assistant`. Out: `create_app(assistant)` -> the FastAPI app, and `run(settings, host,
port, watch)`, which `qa serve` calls to serve it with uvicorn.

Routes (the HTTP contract of DESIGN.md): `POST /ask`, `GET /ask?q=&top_k=`,
`GET /documents/{doc_id}`, `GET /documents/{doc_id}/view?start=&end=`, `POST /index/rebuild`,
`GET /health`, `GET /` and `GET /?q=` (the page), plus `/docs` (OpenAPI, served offline).

Index life: on start a background thread brings the index up to date and warms the model;
until then questions get a 503 that says so. Rebuilds (`POST /index/rebuild`, `--watch`) take
turns on one lock: a second request waits for the running one, then runs its own refresh, so
its report reflects the folder as it was when it asked. Queries are answered from the old
snapshot until the new one is switched in. An index rebuilt by another process (`qa index`) is
picked up by `Assistant.snapshot()`, which checks the store's version at most once a second.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.cli import confidence_words
from qa.config import MAX_QUESTION_CHARS, MAX_TOP_K, Settings, validate_question
from qa.embedding import ModelError
from qa.indexer import DocsFolderError, IndexReport
from qa.pipeline import Assistant
from qa.store import IndexProblem

log = logging.getLogger("qa.server")

WEB = Path(__file__).resolve().parent / "web"
MAX_BODY_BYTES = 64 * 1024
WATCH_QUIET_MS = 500  # rebuild once the docs folder has been quiet this long...
WATCH_MAX_WAIT_MS = 3000  # ...or at the latest this long after the first change
EXAMPLE_QUESTION = "When did Luxon take office?"
# Failures a person can fix (docs folder, index, model); shown as a 503 with their message.
PRODUCT_ERRORS = (DocsFolderError, IndexProblem, ModelError)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline style attributes; scripts stay 'self' only.
DOCS_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


# ---- request and response models (shown on /docs) ----------------------------------------


class AskRequest(BaseModel):
    """The body of `POST /ask`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": EXAMPLE_QUESTION, "top_k": 5}]}
    )

    question: StrictStr = Field(
        description=f"A question about the documents, 1..{MAX_QUESTION_CHARS} characters.",
        examples=[EXAMPLE_QUESTION],
    )
    top_k: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_TOP_K,
        description=f"How many passages to retrieve, 1..{MAX_TOP_K} (default 5).",
        examples=[5],
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return validate_question(value)


class _Open(BaseModel):
    """Response models keep fields they do not declare, so fields added later pass through."""

    model_config = ConfigDict(extra="allow")


class CitationOut(_Open):
    n: int = Field(description="The number of the `[n]` marker in `answer`.", examples=[1])
    doc_id: str = Field(examples=["japan-new-zealand-information-sharing.txt"])
    title: str
    quote: str = Field(description="Verbatim: `text_of(doc_id)[start:end] == quote`.")
    start: int
    end: int
    score: float


class PassageOut(_Open):
    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


class AnswerOut(_Open):
    """The answer: the same object as `qa ask --json`. Optional `short_answer`
    (`{text, start, end, doc_id}`) when the answerer finds a short span."""

    question: str = Field(examples=[EXAMPLE_QUESTION])
    answered: bool = Field(description="False when the documents do not answer the question.")
    answer: str = Field(description="Verbatim quotes, each followed by its `[n]` marker.")
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[CitationOut]
    passages: list[PassageOut]
    took_ms: float


class DocumentOut(BaseModel):
    doc_id: str = Field(examples=["japan-new-zealand-information-sharing.txt"])
    title: str
    sha256: str
    text: str = Field(description="The plain text every offset refers to.")
    chunks: int


class SkippedOut(BaseModel):
    path: str
    reason: str


class IndexReportOut(_Open):
    """What the rebuild did: the `qa index --json` object."""

    documents: int
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks: int
    embedded: int = Field(description="Chunks whose vectors were computed in this run.")
    skipped: list[SkippedOut]
    seconds: float


class HealthOut(_Open):
    status: str = Field(description="`ok`, `starting` (index being built) or `error`.")
    documents: int
    chunks: int
    model: str
    index_version: str | None = None
    rebuilding: bool = False
    last_rebuild: IndexReportOut | None = None
    error: str | None = None


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong and what to do about it.")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


# ---- shared state: the assistant, readiness, rebuilds -------------------------------------


class NotReady(Exception):
    """A question arrived before the index was ready."""


class Service:
    """What the routes share: the one Assistant, whether it is ready, and one rebuild at a
    time. Background work (first build, folder watcher) runs in daemon threads."""

    def __init__(self, assistant: Assistant, admin_token: str | None) -> None:
        self.assistant = assistant
        self.admin_token = admin_token or None
        self.ready = threading.Event()
        self.error: str | None = None
        self.last_report: IndexReport | None = None
        self._rebuild_lock = threading.Lock()
        self._rebuilding = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding

    def rebuild(self) -> IndexReport:
        """Bring the index up to date and switch to it; waits while another rebuild runs."""
        report = self._refresh()
        self.error = None
        self.ready.set()
        return report

    def _refresh(self) -> IndexReport:
        with self._rebuild_lock:
            self._rebuilding = True
            try:
                self.last_report = self.assistant.refresh()
            finally:
                self._rebuilding = False
        return self.last_report

    def check_ready(self) -> None:
        if not self.ready.is_set():
            reason = f": {self.error}" if self.error else ""
            raise NotReady(f"the index is not ready yet{reason}")

    def start(self, build: bool, watch: bool) -> None:
        """Start the first build (or mark ready at once) and, with `watch`, the watcher."""
        if build:
            self._spawn(self._first_build, "qa-first-build")
        else:
            self.ready.set()
        if watch:
            self._spawn(self._watch, "qa-watch")

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the background threads to stop and wait for them a little."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _first_build(self) -> None:
        """Refresh the index, load the model, then accept questions."""
        started = time.perf_counter()
        try:
            self._refresh()
        except PRODUCT_ERRORS as exc:
            self.error = str(exc)
            try:
                self.assistant.snapshot()
            except IndexProblem:
                log.error("index not ready: %s", exc)
                return
            log.warning("cannot refresh the index (%s); answering from the index on disk", exc)
        except Exception as exc:  # noqa: BLE001 - keep serving; /health and 503s say why
            self.error = f"index build failed: {exc}"
            log.exception("index build failed")
            return
        try:
            # One question through the whole pipeline loads everything it loads lazily
            # (the model, the search indexes, the answerer's helpers) before the first user.
            self.assistant.ask(EXAMPLE_QUESTION)
        except ModelError as exc:
            self.error = str(exc)
            log.error("%s", exc)
            return
        except Exception:  # noqa: BLE001 - a warm-up failure must not keep the server down
            log.exception("warm-up question failed")
        self.ready.set()
        log.info("ready in %.1f s: %s", time.perf_counter() - started, _summary(self.last_report))

    def _watch(self) -> None:
        """Rebuild shortly after files in the docs folder change, until `stop()`."""
        from watchfiles import DefaultFilter, watch

        docs = self.assistant.settings.docs_dir.resolve()
        index = str(self.assistant.settings.index_dir.resolve())
        default = DefaultFilter()

        def wanted(change: Any, path: str) -> bool:
            return default(change, path) and not path.startswith(index)

        log.info("watching %s for changes", docs)
        try:
            for changes in watch(
                docs,
                watch_filter=wanted,
                step=WATCH_QUIET_MS,
                debounce=WATCH_MAX_WAIT_MS,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                log.info("%d change(s) in the docs folder; rebuilding", len(changes))
                try:
                    log.info("rebuilt: %s", _summary(self.rebuild()))
                except PRODUCT_ERRORS as exc:
                    log.warning("rebuild after change failed: %s", exc)
                except Exception:  # noqa: BLE001 - keep watching; the next change retries
                    log.exception("rebuild after change failed")
        except FileNotFoundError as exc:
            log.warning("cannot watch %s: %s", docs, exc)


def _summary(report: IndexReport | None) -> str:
    if report is None:
        return "no build"
    return (
        f"{report.documents} documents, {report.chunks} chunks ({report.added} added, "
        f"{report.updated} updated, {report.removed} removed, {report.embedded} embedded, "
        f"{report.seconds:.1f} s)"
    )


# ---- middleware: request log, security headers, body limit, no stack traces --------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Outermost layer: logs one line per request (method, path, status, time), adds the
    security headers to every response, refuses bodies over `limit` bytes (413), and turns
    an unexpected exception into a JSON 500 without a stack trace (the log keeps it)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        path: str = scope["path"]
        csp = DOCS_CSP if path == "/docs" else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", csp.encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
            await send(message)

        try:
            replay = await self._read_body(scope, receive)
            if replay is None:
                await _send_json(
                    send_with_headers,
                    413,
                    f"the request body is larger than {self.limit // 1024} KB",
                )
            else:
                await self.app(scope, replay, send_with_headers)
        except Exception:  # noqa: BLE001 - the client gets a message, the log the traceback
            log.exception("unexpected error in %s %s", scope["method"], path)
            if status == 0:
                await _send_json(
                    send_with_headers, 500, "internal error; the server log has the details"
                )
        finally:
            took = (time.perf_counter() - started) * 1000
            # The raw, still percent-encoded path: a %0a in it cannot forge a log line.
            raw = scope.get("raw_path") or path.encode()
            log.info(
                "%s %s %d %.1f ms", scope["method"], raw.decode("ascii", "replace"), status, took
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """The request body read up front (at most `limit` bytes), as a new `receive`;
        None when it is too large."""
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return None
            if not message.get("more_body", False):
                break
        first: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        pending = [first]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        return replay


# ---- input checks -------------------------------------------------------------------------

BAD_DOC_ID = (
    "doc_id must be a path inside the docs folder, like 'reports/2024.txt'; "
    "'..', '.', absolute paths, backslashes, NUL and encoded forms of them are refused"
)


def check_doc_id(doc_id: str) -> str:
    """`doc_id` when it is a plain relative path; HTTPException 400 when it tries to leave
    the docs folder, in any encoding. (Lookups only ever go through the index, never the
    filesystem; refusing these early gives a clear message.)"""
    decoded = doc_id
    for _ in range(3):  # %2e%2e, %252e%252e, ...
        decoded = unquote(decoded)
    parts = decoded.split("/")
    if (
        not doc_id
        or "\x00" in decoded
        or "\\" in decoded
        or decoded.startswith("/")
        or re.match(r"^[A-Za-z]:", decoded)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise HTTPException(400, BAD_DOC_ID)
    return doc_id


def _human_errors(errors: list[dict[str, Any]]) -> str:
    """Pydantic's validation errors as one sentence a person can act on."""
    sentences = []
    for error in errors:
        where = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(where) or "the request body"
        kind = error.get("type", "")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "missing":
            sentences.append(f"{field} is missing")
        elif kind == "json_invalid":
            sentences.append(
                "the request body is not valid JSON; send for example "
                f'{{"question": "{EXAMPLE_QUESTION}", "top_k": 5}}'
            )
        elif kind == "model_attributes_type":
            sentences.append(
                f"{field} must be a JSON object like "
                f'{{"question": "{EXAMPLE_QUESTION}", "top_k": 5}}'
            )
        elif message.startswith(field):
            sentences.append(message)
        else:
            sentences.append(f"{field}: {message}")
    return "; ".join(sentences)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# ---- the app ------------------------------------------------------------------------------


def create_app(
    assistant: Assistant,
    *,
    build_on_start: bool = True,
    watch: bool = False,
    admin_token: str | None = None,
) -> FastAPI:
    """The FastAPI app over `assistant`.

    `build_on_start`: refresh the index and warm the model in a background thread, answering
    503 until done (False: ready at once, for an index already built). `watch`: rebuild when
    the docs folder changes. `admin_token`: the bearer token for `POST /index/rebuild` from
    other machines (default: env `QA_ADMIN_TOKEN`; unset means only loopback may rebuild)."""
    token = admin_token if admin_token is not None else os.environ.get("QA_ADMIN_TOKEN")
    service = Service(assistant, token)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        service.start(build_on_start, watch)
        yield
        service.stop()

    app = FastAPI(
        title="qa: questions over your documents",
        description=(
            "Answers are sentences copied verbatim from the documents, each with a numbered "
            "citation (`doc_id`, `start`, `end`) into the document's text. Offline."
        ),
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "answers", "description": "Ask questions."},
            {"name": "documents", "description": "The cited documents' text."},
            {"name": "index", "description": "Index state and rebuilds."},
            {"name": "page", "description": "The HTML page."},
        ],
    )
    app.state.service = service
    app.add_middleware(Guard)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    templates = _templates()
    _add_error_handlers(app, templates)
    _add_view_route(app, service, templates)
    _add_api_routes(app, service)
    _add_page_routes(app, service, templates)
    _add_docs_routes(app)
    return app


def _templates() -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader(WEB / "templates"), autoescape=True, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip
    environment.globals["view_url"] = view_url
    return Jinja2Templates(env=environment)


def view_url(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The link to a document's view page, highlighting [start, end) when given."""
    url = f"/documents/{quote(doc_id, safe='/')}/view"
    if start is None or end is None:
        return url
    return f"{url}?start={start}&end={end}#quote"


def _add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    def reply(request: Request, status: int, detail: str, **extra: Any) -> Response:
        headers = {"Retry-After": "2"} if status == 503 else None
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html", {"status": status, "detail": detail}, status, headers
            )
        return JSONResponse({"detail": detail, **extra}, status, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
        if "json" not in request.headers.get("content-type", "") and any(
            e["type"] == "model_attributes_type" and tuple(e["loc"]) == ("body",) for e in errors
        ):
            # Refused on purpose: a form post from another site must not reach /ask.
            detail = "send the body as JSON with the header 'Content-Type: application/json'"
            return reply(request, 415, detail, errors=errors)
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return reply(request, status, _human_errors(errors), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = reply(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> Response:
        return reply(request, 503, f"{exc}; try again in a few seconds (GET /health shows it)")

    for kind in PRODUCT_ERRORS:

        @app.exception_handler(kind)
        async def product_error(request: Request, exc: Exception) -> Response:
            return reply(request, 503, str(exc))


def _add_api_routes(app: FastAPI, service: Service) -> None:
    def ready() -> Service:
        service.check_ready()
        return service

    needs_index = [Depends(ready)]

    def ask(question: str, top_k: int | None) -> dict[str, Any]:
        try:
            return service.assistant.ask(question, top_k).to_dict()
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post(
        "/ask",
        response_model=AnswerOut,
        tags=["answers"],
        responses=_errors(400, 413, 422, 503),
        dependencies=needs_index,
        summary="Answer a question",
    )
    def ask_post(body: AskRequest) -> dict[str, Any]:
        """Answer a question with verbatim, cited sentences from the documents."""
        return ask(body.question, body.top_k)

    @app.get(
        "/ask",
        response_model=AnswerOut,
        tags=["answers"],
        responses=_errors(422, 503),
        dependencies=needs_index,
        summary="Answer a question (query string)",
    )
    def ask_get(
        q: Annotated[str, Query(description="The question.", examples=[EXAMPLE_QUESTION])],
        top_k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="1..20")] = None,
    ) -> dict[str, Any]:
        """The same as `POST /ask`, for links and curl."""
        return ask(q, top_k)

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        tags=["documents"],
        responses=_errors(400, 404, 503),
        dependencies=needs_index,
        summary="A document's text",
    )
    def get_document(doc_id: str) -> dict[str, Any]:
        """A document's plain text (all offsets point into it), title, hash and chunk count."""
        return _document(service, doc_id).__dict__

    @app.post(
        "/index/rebuild",
        response_model=IndexReportOut,
        tags=["index"],
        responses=_errors(401, 403, 503),
        summary="Rebuild the index",
    )
    def rebuild(request: Request) -> dict[str, Any]:
        """Bring the index up to date with the docs folder and switch to it. Allowed from this
        machine; from elsewhere only with `Authorization: Bearer $QA_ADMIN_TOKEN`. Waits while
        another rebuild runs; questions keep being answered meanwhile."""
        _authorize(request, service.admin_token)
        return service.rebuild().to_dict()

    @app.get("/health", response_model=HealthOut, tags=["index"], summary="Service status")
    def health() -> Response | dict[str, Any]:
        """Whether questions can be asked, and the size of the index in use."""
        body = _health(service)
        if body["status"] != "ok":
            return JSONResponse(body, 503, {"Retry-After": "2"})
        return body


def _document(service: Service, doc_id: str):  # type: ignore[no-untyped-def]
    check_doc_id(doc_id)
    document = service.assistant.document(doc_id)
    if document is None:
        raise HTTPException(
            404,
            f"no document {doc_id!r} in the index; a doc_id is a path relative to the docs "
            "folder, as in an answer's citations",
        )
    return document


def _health(service: Service) -> dict[str, Any]:
    documents = chunks = 0
    version = None
    if service.ready.is_set():
        try:
            snapshot = service.assistant.snapshot()
            documents, chunks, version = (
                snapshot.document_count,
                snapshot.chunk_count,
                snapshot.version,
            )
        except IndexProblem as exc:
            service.error = str(exc)
    status = "ok" if service.ready.is_set() and version else "starting"
    if status != "ok" and service.error:
        status = "error"
    return {
        "status": status,
        "documents": documents,
        "chunks": chunks,
        "model": service.assistant.embedder.name,
        "index_version": version,
        "rebuilding": service.rebuilding,
        "last_rebuild": service.last_report.to_dict() if service.last_report else None,
        "error": service.error,  # also when ok: e.g. a refresh failed, the old index serves
    }


def _authorize(request: Request, token: str | None) -> None:
    """Let loopback clients through; others need the admin bearer token."""
    if _is_local(request):
        return
    if not token:
        raise HTTPException(
            403,
            "rebuilding from another machine is disabled: set QA_ADMIN_TOKEN on the server "
            "and send 'Authorization: Bearer <token>'",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise HTTPException(
            401,
            "send 'Authorization: Bearer <QA_ADMIN_TOKEN>' to rebuild from another machine",
            {"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise HTTPException(403, "the admin token is wrong")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped and mapped.is_loopback))


def _is_local(request: Request) -> bool:
    """A client on this machine talking to us directly: loopback address, no proxy headers,
    and a loopback Host and Origin (which stops a web page from rebinding its DNS to us)."""
    if not _is_loopback(request.client.host if request.client else None):
        return False
    if any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip")):
        return False
    if not _is_loopback(urlsplit("//" + request.headers.get("host", "")).hostname):
        return False
    origin = request.headers.get("origin")
    return origin is None or _is_loopback(urlsplit(origin).hostname)


# ---- the page -----------------------------------------------------------------------------


def _add_page_routes(app: FastAPI, service: Service, templates: Jinja2Templates) -> None:
    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        headers = {"Retry-After": "2"} if status == 503 else None
        return templates.TemplateResponse(request, name, context, status, headers)

    @app.get("/", response_class=HTMLResponse, tags=["page"], summary="The web page")
    def page(
        request: Request,
        q: Annotated[str | None, Query(description="The question to answer.")] = None,
        top_k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K)] = None,
    ) -> Response:
        """The web page: a question box; with `q`, the cited answer and the passages."""
        base: dict[str, Any] = {
            "question": q or "",
            "top_k": top_k,
            "ready": service.ready.is_set(),
        }
        if q is None:
            return render(request, "index.html", **base)
        try:
            question = validate_question(q)
        except ValueError as exc:
            return render(request, "index.html", 400, error=str(exc), **base)
        if not service.ready.is_set():
            return render(request, "index.html", 503, **base)
        try:
            result = service.assistant.ask(question, top_k).to_dict()
        except PRODUCT_ERRORS as exc:
            return render(request, "index.html", 503, error=str(exc), **base)
        return render(request, "index.html", **base, **answer_view(result))


def _add_view_route(app: FastAPI, service: Service, templates: Jinja2Templates) -> None:
    """`GET /documents/{doc_id}/view`; added before `GET /documents/{doc_id}`, which would
    otherwise match its paths too."""

    @app.get(
        "/documents/{doc_id:path}/view",
        response_class=HTMLResponse,
        tags=["documents"],
        responses=_errors(400, 404, 503),
        summary="A document with a highlighted span",
    )
    def view_document(
        request: Request,
        doc_id: str,
        start: Annotated[int | None, Query(ge=0, description="Start of the highlight.")] = None,
        end: Annotated[int | None, Query(ge=0, description="End of the highlight.")] = None,
    ) -> Response:
        """The document as HTML, the span [start, end) in a `<mark>` scrolled into view."""
        service.check_ready()
        document = _document(service, doc_id)
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
        return templates.TemplateResponse(
            request,
            "view.html",
            {
                "document": document,
                "before": document.text[:lo],
                "marked": document.text[lo:hi],
                "after": document.text[hi:],
                "start": start,
                "end": end,
            },
        )


def answer_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of an `Answer.to_dict()`: the answer split at its `[n]` markers,
    the sources (with a short answer marked inside its quote), the confidence in words."""
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
    sources = [{**c, "parts": _quote_parts(c, short)} for c in citations]
    confidence = float(result.get("confidence", 0.0))
    return {
        "result": result,
        "segments": segments,
        "sources": sources,
        "short": short,
        "confidence_word": confidence_words(confidence),
    }


def _quote_parts(citation: dict[str, Any], short: dict[str, Any] | None) -> list[tuple[str, bool]]:
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


# ---- /docs without a CDN ------------------------------------------------------------------


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qa API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
DOCS_INIT = (
    "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', "
    "deepLinking: true, validatorUrl: null});\n"
)


def _add_docs_routes(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the `swagger-ui-bundle-v2` package, so it works offline,
    started by a script file rather than FastAPI's inline script (the CSP forbids those)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @app.get("/docs/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(DOCS_INIT, media_type="text/javascript")


# ---- running it ---------------------------------------------------------------------------


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, watch: bool = False) -> None:
    """Serve the page and the API with uvicorn until interrupted (what `qa serve` does)."""
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.INFO)  # bm25s sets its own logger to DEBUG on import
    for noisy in ("faiss", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app = create_app(Assistant(settings), watch=watch)
    if not _is_loopback(host) and not os.environ.get("QA_ADMIN_TOKEN"):
        log.warning(
            "listening on %s: other machines can ask questions; POST /index/rebuild stays "
            "refused for them until QA_ADMIN_TOKEN is set",
            host,
        )
    log.info("serving %s on http://%s:%d", settings.docs_dir, host, port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,  # Guard logs one line per request, with its time
        proxy_headers=False,  # never take a client address from a header
        server_header=False,
        log_level="info",
    )
