"""The web layer: a FastAPI app over `qa.pipeline.Assistant`, thin routes and nothing else.

In: an `Assistant`. Out: `create_app(assistant)` -> the FastAPI app, and `run(settings, host,
port, watch)`, which `qa serve` calls to serve it with uvicorn.

Routes (the HTTP contract of DESIGN.md): `POST /ask`, `GET /ask?q=&top_k=`,
`GET /documents/{doc_id}`, `GET /documents/{doc_id}/view?start=&end=`, `POST /index/rebuild`,
`GET /health`, `GET /` and `GET /?q=` (the page), plus `/docs` (OpenAPI, served offline).

The parts live in `qa/`: request and response models in `qa.api_models`, the middleware
(security headers, body limit, request log) and who may rebuild in `qa.http_guard`, the index's
life (first build, readiness, one rebuild at a time, --watch) in `qa.service`, and the short
way through for plainly valid `POST /ask` requests in `qa.fast_ask`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from qa.api_models import (
    EXAMPLE_QUESTION,
    AnswerOut,
    AskRequest,
    DocumentOut,
    HealthOut,
    IndexReportOut,
)
from qa.api_models import error_responses as _errors
from qa.cli import confidence_words
from qa.config import MAX_TOP_K, Settings, validate_question
from qa.fast_ask import FastAsk
from qa.http_guard import Guard, authorize, check_doc_id, is_loopback
from qa.pipeline import Assistant
from qa.service import PRODUCT_ERRORS, NotReady, Service

log = logging.getLogger("qa.server")

WEB = Path(__file__).resolve().parent / "web"
GRACEFUL_SHUTDOWN_SECONDS = 5


# ---- input checks -------------------------------------------------------------------------


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
    answer_workers: int | None = None,
) -> FastAPI:
    """The FastAPI app over `assistant`.

    `build_on_start`: refresh the index and warm the model in a background thread, answering
    503 until done (False: ready at once, for an index already built). `watch`: rebuild when
    the docs folder changes. `admin_token`: the bearer token for `POST /index/rebuild` from
    other machines (default: env `QA_ADMIN_TOKEN`; unset means only loopback may rebuild).
    `answer_workers`: how many questions are answered at once; more wait their turn (default:
    env `QA_ANSWER_WORKERS`, else one per CPU)."""
    token = admin_token if admin_token is not None else os.environ.get("QA_ADMIN_TOKEN")
    service = Service(assistant, token, answer_workers)

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
    app.add_middleware(FastAsk, service=service)  # inside Guard: added first
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
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return response

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> Response:
        return reply(request, 503, f"{exc}; try again in a few seconds (GET /health shows it)")

    for kind in PRODUCT_ERRORS:

        @app.exception_handler(kind)
        async def product_error(request: Request, exc: Exception) -> Response:
            return reply(request, 503, str(exc))


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _add_api_routes(app: FastAPI, service: Service) -> None:
    async def ready() -> Service:  # async: no thread-pool hop for a flag check
        service.check_ready()
        return service

    needs_index = [Depends(ready)]

    async def ask(question: str, top_k: int | None) -> Response:
        """The answer as JSON, computed on the answer executor. The bytes go out as they are:
        `response_model` still documents them, but FastAPI does not validate and re-encode a
        `Response` (that cost two thread-pool hops and more time than the JSON itself)."""
        try:
            body = await service.answer_json(question, top_k)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(body, media_type="application/json")

    @app.post(
        "/ask",
        response_model=AnswerOut,
        tags=["answers"],
        responses=_errors(400, 413, 415, 422, 503),
        dependencies=needs_index,
        summary="Answer a question",
    )
    async def ask_post(body: AskRequest) -> Response:
        """Answer a question with verbatim, cited sentences from the documents."""
        return await ask(body.question, body.top_k)

    @app.get(
        "/ask",
        response_model=AnswerOut,
        tags=["answers"],
        responses=_errors(413, 422, 503),
        dependencies=needs_index,
        summary="Answer a question (query string)",
    )
    async def ask_get(
        q: Annotated[str, Query(description="The question.", examples=[EXAMPLE_QUESTION])],
        top_k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="1..20")] = None,
    ) -> Response:
        """The same as `POST /ask`, for links and curl."""
        return await ask(q, top_k)

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        tags=["documents"],
        responses=_errors(400, 404, 413, 422, 503),
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
        responses=_errors(403, 413, 503),
        summary="Rebuild the index",
    )
    async def rebuild(request: Request) -> dict[str, Any]:
        """Bring the index up to date with the docs folder and switch to it. Allowed from this
        machine; from elsewhere only with `Authorization: Bearer $QA_ADMIN_TOKEN`. Waits while
        another rebuild runs; questions keep being answered meanwhile."""
        authorize(request, service.admin_token)
        report = await asyncio.wrap_future(service.rebuild_in_background())
        return report.to_dict()

    @app.get(
        "/health",
        response_model=HealthOut,
        tags=["index"],
        responses={503: {"model": HealthOut}, **_errors(413)},
        summary="Service status",
    )
    def health() -> Response | dict[str, Any]:
        """Whether questions can be asked, and the size of the index in use."""
        body = service.health()
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


# ---- the page -----------------------------------------------------------------------------


def _add_page_routes(app: FastAPI, service: Service, templates: Jinja2Templates) -> None:
    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        headers = {"Retry-After": "2"} if status == 503 else None
        return templates.TemplateResponse(request, name, context, status, headers)

    @app.get(
        "/",
        response_class=HTMLResponse,
        tags=["page"],
        responses=_errors(400, 413, 422, 503, html_route=True),
        summary="The web page",
    )
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
            result = service.ask(question, top_k)  # waits its turn on the answer executor
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
        responses=_errors(400, 404, 413, 422, 503, html_route=True),
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
    if not is_loopback(host) and not os.environ.get("QA_ADMIN_TOKEN"):
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
        # On SIGTERM, requests in flight get this long to finish, then a 503 (see Guard).
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
        log_level="info",
    )
