"""What stands between the network and the routes: headers, body limit, request log, auth.

In: an ASGI app and requests. Out: `Guard` (the outermost ASGI middleware), `authorize(request,
token, presented)` (who may rebuild the index or change its documents), `check_origin(request)`
(refuses cross-site writes: CSRF), `check_doc_id(doc_id)` (doc_ids that try to leave the docs
folder) and `is_loopback(host)`.

`Guard` logs one line per request (method, raw path, status, time; never the question), adds
the security headers to every response, errors included, refuses request bodies over
`MAX_BODY_BYTES` (413, whatever Content-Length says, chunked or not; a few routes, the uploads,
get a larger limit of their own), answers 503 to a request
cancelled by a shutdown, and turns an unexpected exception into a JSON 500 without a stack
trace (the log keeps it).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import HTTPException, Request

log = logging.getLogger("qa.server")

MAX_BODY_BYTES = 64 * 1024

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline style attributes; scripts stay 'self' only.
DOCS_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

# The page of an error Guard answers itself (before any route: a body too large for a form).
HTML_ERROR = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Error {status}</title>'
    '<link rel="stylesheet" href="/static/style.css"><main><p class="notice error" role="alert">'
    '{detail}</p><p><a href="/library">Back to the library</a></p></main></html>'
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(send: Send, status: int, detail: str, html: bool = False) -> None:
    """`{"detail": ...}` with `status`; a small page instead for a browser (`html`)."""
    if html:
        body = HTML_ERROR.format(status=status, detail=escape(detail)).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Outermost layer: logs one line per request (method, path, status, time), adds the
    security headers to every response, refuses bodies over `limit` bytes (413), and turns
    an unexpected exception into a JSON 500 without a stack trace (the log keeps it)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        limits: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """`limit`: the body limit of every route but those in `limits`, which maps
        (method, path) to that route's own limit (uploads)."""
        self.app = app
        self.limit = limit
        self.limits = limits or {}

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
                headers = list(message.get("headers", []))
                own = {bytes(name).lower() for name, _ in headers}
                # A route that sets one of these itself (a document's original file sets its
                # own, stricter policy) keeps its own.
                message["headers"] = headers + [
                    (name, value)
                    for name, value in (
                        (b"x-content-type-options", b"nosniff"),
                        (b"content-security-policy", csp.encode()),
                        (b"referrer-policy", b"no-referrer"),
                        (b"x-frame-options", b"DENY"),
                    )
                    if name not in own
                ]
            await send(message)

        try:
            limit = self.limits.get((scope["method"], path), self.limit)
            replay = await self._read_body(scope, receive, limit)
            if replay is None:
                accept = dict(scope.get("headers", [])).get(b"accept", b"")
                html = b"text/html" in accept
                await _send_json(send_with_headers, 413, too_large(limit), html)
            else:
                await self.app(scope, replay, send_with_headers)
        except asyncio.CancelledError:
            # The server is shutting down and this request ran past the grace period.
            if status == 0:
                await _send_json(
                    send_with_headers,
                    503,
                    "the server is shutting down; this request did not finish, try it again",
                )
            raise
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

    async def _read_body(self, scope: Scope, receive: Receive, limit: int) -> Receive | None:
        """The request body read up front (at most `limit` bytes), as a new `receive`;
        None when it is too large."""
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return None
            if not message.get("more_body", False):
                break
        first: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return replaying(first, receive)


def too_large(limit: int) -> str:
    """The 413 message for a body over `limit` bytes."""
    if limit >= 1024 * 1024:
        return f"the request body is larger than {limit / (1024 * 1024):.0f} MB"
    return f"the request body is larger than {limit // 1024} KB"


def replaying(message: Message, receive: Receive) -> Receive:
    """A `receive` that returns `message` first, then whatever `receive` returns: for a layer
    that has read the request's message and hands the request on."""
    pending = [message]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


# ---- doc_ids ------------------------------------------------------------------------------

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


# ---- who may rebuild ----------------------------------------------------------------------

# The cookie the library page sets once a person typed the right admin token (HttpOnly,
# SameSite=Strict: scripts cannot read it and other sites' requests do not carry it).
ADMIN_COOKIE = "qa_admin"


def authorize(request: Request, token: str | None, presented: str | None = None) -> None:
    """Let loopback clients through; others need the admin token, sent as `Authorization:
    Bearer <token>`, or `presented` (typed into the page, or vouched for by the page's
    `ADMIN_COOKIE`: see `qa.web.write_access`). HTTPException 403 without a configured token,
    without any token (which also gets `WWW-Authenticate: Bearer`) and with a wrong token."""
    if is_local(request):
        return
    if not token:
        raise HTTPException(
            403,
            "rebuilding or changing documents from another machine is disabled: set "
            "QA_ADMIN_TOKEN on the server and send 'Authorization: Bearer <token>'",
        )
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    candidate = bearer if scheme.lower() == "bearer" and bearer.strip() else presented or ""
    if not candidate.strip():
        raise HTTPException(
            403,
            "send 'Authorization: Bearer <QA_ADMIN_TOKEN>' (or type the admin token on the "
            "page) to rebuild or change documents from another machine",
            {"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(candidate.strip().encode(), token.encode()):
        raise HTTPException(403, "the admin token is wrong")


def check_origin(request: Request, vouched: bool = False) -> None:
    """Refuse a write another web site's page makes a browser send (CSRF): HTTPException 403
    when the browser says (`Sec-Fetch-Site`) the request comes from another site, when
    `Origin` names another host:port than the `Host` asked for, or when `Origin` is `null`
    and nothing vouches for the request. Clients that are not browsers send neither header
    and pass; they cannot be made to carry a victim's credentials.

    `Origin: null` is what Chromium sends on a same-origin form post under our
    `Referrer-Policy: no-referrer`, and also what a page of another site can make it send.
    Two things vouch for it: `Sec-Fetch-Site: same-origin` (which no page can forge; only
    sent to potentially trustworthy origins: https, loopback), and `vouched`, which the
    caller sets when the form carried a valid form token (`qa.web.write_access`): the only
    proof left over plain HTTP to another machine."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise HTTPException(403, "refused: this request comes from another web site")
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin == "null":
        if fetch_site == "same-origin" or vouched:
            return
        raise HTTPException(
            403,
            "refused: this request comes from another web site (Origin: null and no valid "
            "form token; reload the library page and send the form again)",
        )
    host = request.headers.get("host", "")
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        netloc = None
    if netloc is None or netloc.lower() != host.lower():
        raise HTTPException(403, "refused: this request comes from another web site (Origin)")


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IPv4/IPv6 addresses (also IPv4-mapped ones)."""
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


def is_local(request: Request) -> bool:
    """A client on this machine talking to us directly: loopback address, no proxy headers,
    and a loopback Host and Origin (which stops a web page from rebinding its DNS to us)."""
    if not is_loopback(request.client.host if request.client else None):
        return False
    if any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip")):
        return False
    if not is_loopback(_hostname("//" + request.headers.get("host", ""))):
        return False
    origin = request.headers.get("origin")
    if origin == "null" and request.headers.get("sec-fetch-site") == "same-origin":
        return True  # a form post from our own page (see `check_origin`)
    return origin is None or is_loopback(_hostname(origin))


def _hostname(url: str) -> str | None:
    """The host part of `url`; None when it cannot be parsed (e.g. `Host: [`)."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
