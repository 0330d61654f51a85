"""`POST /ask` without the web framework's per-request machinery, for plainly valid requests.

In: the FastAPI app and its `Service`. Out: `FastAsk`, an ASGI middleware that sits inside
`Guard` (which has already read the body, and adds the headers and the log line).

A request with `Content-Type: application/json` whose body parses (`json.loads`, as FastAPI
does) and validates against `AskRequest` (the route's own model, in the same Python mode) is
answered here: the answer's JSON bytes go out exactly as the route would send them. Anything
else - another route, another content type, a body that does not validate, the index not
ready, an answer that raises - goes to the app unchanged, which replies as it always has (for
an answer that raised, by asking again and turning the same error into its 422 or 503).

Why: every answer runs on two worker threads that need the GIL for half their time, and each
request's own work on the event loop takes the GIL too. FastAPI's routing, dependency and
validation layers cost the event loop a measurable share of its CPU per request, which comes
straight off HTTP throughput (figures in docs/performance.md, "Figures behind the code").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qa.web.guard import ASGIApp, Message, Receive, Scope, Send, replaying
from qa.web.models import AskRequest
from qa.web.service import PRODUCT_ERRORS, NotReady

if TYPE_CHECKING:
    from qa.web.service import Service


class FastAsk:
    """Answers valid `POST /ask` requests itself; passes everything else to `app`."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._wanted(scope):
            await self.app(scope, receive, send)
            return
        message = await receive()
        answer = await self._answer(_valid_request(message))
        if answer is None:
            # The app replies as it would have without this layer: its 400 or 422 for a
            # request that is not valid; for an answer that raised, it asks again and turns
            # the same error into its 422 or 503.
            await self.app(scope, replaying(message, receive), send)
            return
        headers = [
            (b"content-length", str(len(answer)).encode()),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, request: AskRequest | None) -> bytes | None:
        """The answer's JSON bytes; None without a valid request or when answering raised an
        error the app has a reply for."""
        if request is None:
            return None
        try:
            return await self.service.answer_json(request.question, request.top_k)
        except (ValueError, NotReady, *PRODUCT_ERRORS):
            return None

    def _wanted(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/ask"
            and self.service.ready.is_set()
            and _content_type(scope) == b"application/json"
        )


def _valid_request(message: Message) -> AskRequest | None:
    """The request of a whole, valid JSON body; None for anything else (bad JSON, a body
    that does not validate, JSON too deep for the parser, more than one message)."""
    if message["type"] != "http.request" or message.get("more_body", False):
        return None  # Guard sends the whole body in one message; anything else: the app
    try:
        return AskRequest.model_validate(json.loads(message.get("body", b"")))
    except Exception:  # noqa: BLE001 - whatever the reason, the app gives the exact reply
        return None


def _content_type(scope: Scope) -> bytes | None:
    """The media type of the request (no parameters, lower case), or None without one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return None
