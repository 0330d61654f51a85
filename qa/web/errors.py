"""Every error as a message a person can act on: JSON for programs, a small page for browsers.

In: the app and its templates. Out: `add_error_handlers(app, templates)`, which turns
validation errors into 400/415/422 with one readable sentence, HTTP errors into their status
(405 with every allowed method), `NotReady` into 503 with `Retry-After`, a rebuild refused
(`ReaderOnly`, `TooManyRemovals`, with its counts) into 409, and the product's expected
failures (docs folder, index, model) into 503 with their message.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from qa.indexer import TooManyRemovals
from qa.web.models import EXAMPLE_QUESTION
from qa.web.service import PRODUCT_ERRORS, NotReady, ReaderOnly

EXAMPLE_BODY = f'{{"question": "{EXAMPLE_QUESTION}", "top_k": 5}}'


def choices(pattern: str) -> str | None:
    """The alternatives of a pattern like `^(name|date|size)$` as `name, date or size`."""
    found = re.fullmatch(r"\^\(([\w|-]+)\)\$", pattern)
    if not found:
        return None
    options = found.group(1).split("|")
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


def _plain(field: str, kind: str, ctx: dict[str, Any]) -> str | None:
    """A plain sentence for the errors whose pydantic wording shows a regular expression or
    says nothing useful; None for the others, whose wording is kept (clients match it)."""
    if kind == "string_pattern_mismatch":
        options = choices(str(ctx.get("pattern", "")))
        return f"{field} must be {options}" if options else f"{field} is not in the expected form"
    if kind == "bool_parsing":
        return f"{field} must be true or false"
    return None


def human_errors(errors: list[dict[str, Any]]) -> str:
    """Pydantic's validation errors as one sentence a person can act on."""
    sentences = []
    for error in errors:
        where = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(where) or "the request body"
        kind = error.get("type", "")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        plain = _plain(field, kind, error.get("ctx") or {})
        if plain:
            sentences.append(plain)
        elif kind == "missing":
            sentences.append(f"{field} is missing")
        elif kind == "json_invalid":
            sentences.append(f"the request body is not valid JSON; send for example {EXAMPLE_BODY}")
        elif kind == "model_attributes_type":
            sentences.append(f"{field} must be a JSON object like {EXAMPLE_BODY}")
        elif message.startswith(field):
            sentences.append(message)
        else:
            sentences.append(f"{field}: {message}")
    return "; ".join(sentences)


def wants_html(request: Request) -> bool:
    """Whether the client is a browser asking for a page rather than JSON."""
    return "text/html" in request.headers.get("accept", "")


def add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """Register the handlers described in the module docstring on `app`."""

    def reply(request: Request, status: int, detail: str, **extra: Any) -> Response:
        headers = {"Retry-After": "2"} if status == 503 else None
        if wants_html(request):
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
        return reply(request, status, human_errors(list(exc.errors())), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = reply(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(app, request))
        return response

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> Response:
        return reply(request, 503, f"{exc}; try again in a few seconds (GET /health shows it)")

    @app.exception_handler(ReaderOnly)
    async def reader_only(request: Request, exc: ReaderOnly) -> Response:
        return reply(request, 409, str(exc))

    @app.exception_handler(TooManyRemovals)
    async def too_many_removals(request: Request, exc: TooManyRemovals) -> Response:
        return reply(request, 409, str(exc), **exc.counts())

    for kind in PRODUCT_ERRORS:

        @app.exception_handler(kind)
        async def product_error(request: Request, exc: Exception) -> Response:
            return reply(request, 503, str(exc))


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's).
    Asked of the routes method by method, so routers included into the app count too."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in app.routes):
            allowed.append(method)
    return allowed
