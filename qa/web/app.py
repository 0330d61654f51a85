"""The app factory: composes the routers, middleware and error handlers; and `run`.

In: an `Assistant`. Out: `create_app(assistant)` -> the FastAPI app, and `run(settings, host,
port, watch)`, which `qa serve` (and the checkout's `server.py`) call to serve it with uvicorn.

A request passes `Guard` (headers, body limit, log; `qa.web.guard`), then `FastAsk` (valid
`POST /ask`; `qa.web.fast_ask`), then FastAPI's routing to one of the routers: `pages` (the
page, the document view), `library` (the documents: list, upload, remove, rebuild status),
`api` (the JSON contract), `apidocs` (/docs). Routes get the shared
`Service` (`qa.web.service`) and the templates through `qa.web.deps`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qa.config import Settings
from qa.pipeline import Assistant
from qa.resources import static_dir
from qa.web import api, apidocs, library, pages
from qa.web.errors import add_error_handlers
from qa.web.fast_ask import FastAsk
from qa.web.guard import Guard, is_loopback
from qa.web.service import Service
from qa.web.templating import make_templates

log = logging.getLogger("qa.server")

GRACEFUL_SHUTDOWN_SECONDS = 5
TAGS = [
    {"name": "answers", "description": "Ask questions."},
    {"name": "documents", "description": "The documents: their text, list, upload, removal."},
    {"name": "index", "description": "Index state and rebuilds."},
    {"name": "page", "description": "The HTML page."},
]


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
    env `QA_ANSWER_WORKERS`, else one per CPU). Whether the server writes its index at all is
    `assistant.settings.role(watch)`: a shared store without a named docs folder is only read."""
    token = admin_token if admin_token is not None else os.environ.get("QA_ADMIN_TOKEN")
    service = Service(assistant, token, answer_workers, assistant.settings.role(watch))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
        openapi_tags=TAGS,
    )
    app.state.service = service
    app.state.templates = make_templates()
    app.add_middleware(FastAsk, service=service)  # inside Guard: added first
    app.add_middleware(Guard, limits=dict.fromkeys(library.UPLOAD_ROUTES, library.MAX_UPLOAD_BYTES))
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    apidocs.mount_assets(app)
    add_error_handlers(app, app.state.templates)
    app.include_router(pages.router)  # first: its view path would match the API's document path
    app.include_router(library.router)
    app.include_router(api.router)
    app.include_router(apidocs.router)
    return app


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, watch: bool = False) -> None:
    """Serve the page and the API with uvicorn until interrupted (what `qa serve` does)."""
    import uvicorn

    _configure_logging()
    # Builds run in a child process: this one never loads torch or parses a file.
    app = create_app(Assistant(settings, preload=True, build_in_child=True), watch=watch)
    if not is_loopback(host) and not os.environ.get("QA_ADMIN_TOKEN"):
        log.warning(
            "listening on %s: other machines can ask questions; POST /index/rebuild stays "
            "refused for them until QA_ADMIN_TOKEN is set",
            host,
        )
    role = settings.role(watch)
    log.info("serving %s as %s on http://%s:%d", role.docs, role.mode, host, port)
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


def _configure_logging() -> None:
    """One line per record on stderr, at INFO, with the libraries' chatter turned down."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.INFO)  # bm25s sets its own logger to DEBUG on import
    for noisy in ("faiss", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
