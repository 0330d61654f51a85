"""Who may change the documents: the checks before every write, the page's admin sessions and
its form tokens.

In: a request, the service (its admin token, its role), the token a person typed into the
page and the form token the page's forms carry, if any. Out: `authorize_write(request,
service, typed, form)` (returns, or raises an HTTPException 403 for a cross-site request or a
client without the admin token, `ReaderOnly` (409) on a reader-only server); the admin
session: `remember_token(response, ...)` (after the right token was typed: a fresh random
session id in `ADMIN_COOKIE`, kept server-side with its expiry), `forget_session(response,
request)` (the page's Lock button), `needs_token(request, service)` and `has_session`; the
form token: `form_token(request, response)` (the value the page puts in its forms, setting
`FORM_COOKIE` when the browser has none) and `form_token_valid(request, presented)`.

Why a form token: over plain HTTP to another machine Chromium sends `Origin: null` and no
`Sec-Fetch-Site` on our own form posts, exactly as on a post a hostile page makes it send.
The form token is an HMAC, under a key only this process knows, of a random value in a
SameSite=Strict cookie: another site can neither read the cookie nor compute the token, so a
form that carries a token matching the cookie was rendered by this server for this browser.

Admin sessions and the form key live in this process's memory: a restart ends every session
and asks for a page reload before the next form (the message says so).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from qa.web.guard import ADMIN_COOKIE, authorize, check_origin, is_local
from qa.web.service import Service

FORM_COOKIE = "qa_form"
FORM_FIELD = "form_token"
DEFAULT_SESSION_HOURS = 12.0
MAX_SESSIONS = 1000  # unlocks are rare; past this, the oldest sessions end
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_FORM_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class _Session:
    expires: float
    token_mark: bytes  # which admin token it was issued under (a keyed hash, not the token)


class AdminSessions:
    """The admin sessions issued by unlocking: each a fresh random id, stored only as its
    SHA-256 with its expiry and the admin token it was issued under (a changed token ends
    them). Thread-safe; `clock` is for tests."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = MAX_SESSIONS) -> None:
        self.clock = clock
        self.limit = limit
        self._sessions: dict[bytes, _Session] = {}
        self._lock = threading.Lock()

    def issue(self, token: str, ttl_seconds: float) -> str:
        """A new session id, valid for `ttl_seconds` while the admin token stays `token`."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._drop_expired(now)
            while len(self._sessions) >= self.limit:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[_digest(session_id)] = _Session(now + ttl_seconds, _mark(token))
        return session_id

    def valid(self, session_id: str | None, token: str | None) -> bool:
        """Whether `session_id` was issued under the admin `token` and has not expired."""
        if not session_id or not token or not _COOKIE_VALUE.match(session_id):
            return False
        with self._lock:
            session = self._sessions.get(_digest(session_id))
        if session is None or session.expires <= self.clock():
            return False
        return hmac.compare_digest(session.token_mark, _mark(token))

    def end(self, session_id: str | None) -> None:
        """Forget `session_id` (Lock); unknown ids are ignored."""
        if session_id:
            with self._lock:
                self._sessions.pop(_digest(session_id), None)

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]


SESSIONS = AdminSessions()  # this process's sessions (one app per process)


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def _mark(token: str) -> bytes:
    return hmac.new(token.encode(), b"qa-admin-session", hashlib.sha256).digest()


# ---- the checks ---------------------------------------------------------------------------


def authorize_write(
    request: Request,
    service: Service,
    typed: str | None = None,
    form: str | None = None,
    sessions: AdminSessions = SESSIONS,
) -> None:
    """The checks every write passes, in order: from this site (403; a valid form token
    `form` vouches for a form post that carries `Origin: null`), allowed to change the index
    (403: loopback, or the admin token as a header, typed into the page, or the page's
    admin session cookie) and on a builder server (409)."""
    check_origin(request, vouched=form_token_valid(request, form))
    token = service.admin_token
    if token and not typed and has_session(request, service, sessions):
        typed = token
    authorize(request, token, typed or "")
    service.check_builder()


def has_session(request: Request, service: Service, sessions: AdminSessions = SESSIONS) -> bool:
    """Whether the request's admin cookie names a live session for the current token."""
    return sessions.valid(request.cookies.get(ADMIN_COOKIE), service.admin_token)


def needs_token(request: Request, service: Service, sessions: AdminSessions = SESSIONS) -> bool:
    """Whether the page must ask for the admin token before a write."""
    return not is_local(request) and not has_session(request, service, sessions)


def remember_token(
    response: Response,
    request: Request,
    service: Service,
    typed: str,
    hours: float = DEFAULT_SESSION_HOURS,
    sessions: AdminSessions = SESSIONS,
) -> bool:
    """After a write authorised by a token typed into the page, from another machine: start
    a session of `hours` and set its id as the admin cookie (HttpOnly, SameSite=Strict,
    Secure over https). True when a session was started."""
    if not (typed and service.admin_token and not is_local(request)):
        return False
    session_id = sessions.issue(service.admin_token, hours * 3600)
    response.set_cookie(
        ADMIN_COOKIE, session_id, max_age=int(hours * 3600), path="/",
        httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return True


def forget_session(
    response: Response, request: Request, sessions: AdminSessions = SESSIONS
) -> None:
    """End the request's admin session server-side and delete its cookie."""
    sessions.end(request.cookies.get(ADMIN_COOKIE))
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="strict")


# ---- the form token -----------------------------------------------------------------------


def _form_mac(cookie: str) -> str:
    return hmac.new(_FORM_KEY, cookie.encode(), hashlib.sha256).hexdigest()


def form_token(request: Request, response: Response) -> str:
    """The token the page's forms carry for this browser: the HMAC of its `FORM_COOKIE`,
    which is set on `response` (HttpOnly, SameSite=Strict) when the request has none."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not _COOKIE_VALUE.match(cookie):
        cookie = secrets.token_urlsafe(24)
        response.set_cookie(
            FORM_COOKIE, cookie, path="/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return _form_mac(cookie)


def form_token_valid(request: Request, presented: str | None) -> bool:
    """Whether `presented` is the form token of the request's `FORM_COOKIE` (constant time)."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not presented or not _COOKIE_VALUE.match(cookie):
        return False
    return hmac.compare_digest(presented.encode(), _form_mac(cookie).encode())
