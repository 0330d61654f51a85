"""Who may change the documents: the checks before every write, and the page's admin cookie.

In: a request, the service (its admin token, its role) and the token a person typed into
the page, if any. Out: `authorize_write(request, service, typed)` (returns, or raises an
HTTPException 403 for a cross-site request or a client without the admin token, `ReaderOnly`
(409) on a reader-only server), `remember_token(response, ...)` (sets `ADMIN_COOKIE` after a write
the typed token allowed), `needs_token(request, service)` (whether the page must ask for the
token) and `cookie_value(token)` (what the cookie holds: a keyed hash, never the token).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import Response

from qa.web.guard import ADMIN_COOKIE, authorize, check_origin, is_local
from qa.web.service import Service


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
