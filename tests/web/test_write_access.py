"""Who may change the documents (qa/web/write_access.py): this site only (a form token vouches
for `Origin: null`), loopback or the admin token (as typed, or as the page's admin session,
a random id the server keeps with its expiry), and a builder server."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import HTTPException, Request
from fastapi.responses import Response

from qa.web.guard import ADMIN_COOKIE
from qa.web.service import ReaderOnly
from qa.web.write_access import (
    FORM_COOKIE,
    AdminSessions,
    authorize_write,
    forget_session,
    form_token,
    form_token_valid,
    needs_token,
    remember_token,
)

TOKEN = "s3cret-token"


def request(client: str, host: str, *headers: tuple[str, str]) -> Request:
    raw = [(b"host", host.encode())] + [(k.encode(), v.encode()) for k, v in headers]
    scope = {
        "type": "http", "method": "POST", "path": "/library/upload", "query_string": b"",
        "headers": raw, "client": (client, 50000), "scheme": "http", "server": (host, 8000),
    }  # fmt: skip
    return Request(scope)


def remote(*headers: tuple[str, str]) -> Request:
    return request("203.0.113.9", "qa.example:8000", *headers)


def local(*headers: tuple[str, str]) -> Request:
    return request("127.0.0.1", "127.0.0.1:8000", *headers)


def service(token: str = TOKEN, builder: bool = True) -> SimpleNamespace:
    def check_builder() -> None:
        if not builder:
            raise ReaderOnly("this server is reader-only")

    return SimpleNamespace(admin_token=token, check_builder=check_builder)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session_cookie(sessions: AdminSessions, token: str = TOKEN, hours: float = 12.0) -> tuple:
    return ("cookie", f"{ADMIN_COOKIE}={sessions.issue(token, hours * 3600)}")


def test_each_unlock_is_a_fresh_random_session_that_expires_server_side() -> None:
    clock = Clock()
    sessions = AdminSessions(clock)
    first, second = sessions.issue(TOKEN, 3600), sessions.issue(TOKEN, 3600)
    assert first != second and TOKEN not in first and len(first) >= 40
    assert sessions.valid(first, TOKEN) and sessions.valid(second, TOKEN)
    assert not sessions.valid(first, "another-token")  # a changed token ends them
    assert not sessions.valid("forged-but-well-formed-value-1234", TOKEN)
    clock.now += 3599
    assert sessions.valid(first, TOKEN)
    clock.now += 2
    assert not sessions.valid(first, TOKEN) and not sessions.valid(second, TOKEN)


def test_ending_a_session_and_the_limit_on_sessions() -> None:
    sessions = AdminSessions(limit=2)
    a, b = sessions.issue(TOKEN, 60), sessions.issue(TOKEN, 60)
    sessions.end(a)
    assert not sessions.valid(a, TOKEN) and sessions.valid(b, TOKEN)
    c, d = sessions.issue(TOKEN, 60), sessions.issue(TOKEN, 60)
    assert not sessions.valid(b, TOKEN) and sessions.valid(c, TOKEN) and sessions.valid(d, TOKEN)


def test_loopback_the_token_or_a_live_session_may_write() -> None:
    clock = Clock()
    sessions = AdminSessions(clock)
    authorize_write(local(), service(), sessions=sessions)  # type: ignore[arg-type]
    authorize_write(remote(), service(), TOKEN, sessions=sessions)  # type: ignore[arg-type]
    cookie = session_cookie(sessions, hours=1)
    authorize_write(remote(cookie), service(), sessions=sessions)  # type: ignore[arg-type]
    forged = ("cookie", f"{ADMIN_COOKIE}={TOKEN}")
    clock.now += 3601
    for refused in (remote(), remote(forged), remote(cookie)):
        with pytest.raises(HTTPException) as caught:
            authorize_write(refused, service(), sessions=sessions)  # type: ignore[arg-type]
        assert caught.value.status_code == 403


def test_cross_site_and_reader_only_writes_are_refused() -> None:
    with pytest.raises(HTTPException) as caught:
        authorize_write(local(("origin", "http://evil.example")), service())  # type: ignore[arg-type]
    assert caught.value.status_code == 403
    with pytest.raises(ReaderOnly):
        authorize_write(local(), service(builder=False))  # type: ignore[arg-type]


def test_a_valid_form_token_vouches_for_origin_null_and_nothing_else_does() -> None:
    issued = Response()
    token = form_token(remote(), issued)
    cookie_header = issued.headers["set-cookie"]
    assert cookie_header.startswith(f"{FORM_COOKIE}=") and "HttpOnly" in cookie_header
    assert "SameSite=strict" in cookie_header
    value = cookie_header.split(";")[0].split("=", 1)[1]
    cookie = ("cookie", f"{FORM_COOKIE}={value}")
    null = ("origin", "null")
    assert form_token_valid(remote(cookie), token)
    assert value not in token  # the token is a keyed hash of the cookie, not the cookie
    again = Response()
    assert form_token(remote(cookie), again) == token and "set-cookie" not in again.headers
    authorize_write(remote(null, cookie), service(), TOKEN, token)  # type: ignore[arg-type]
    stranger = ("cookie", f"{FORM_COOKIE}=another-value-of-the-right-form")
    refused = [
        (remote(null), token),  # the browser has no form cookie
        (remote(null, cookie), None),  # the cookie alone: it travels with any request
        (remote(null, cookie), "0" * 64),  # a made-up token
        (remote(null, stranger), token),  # another browser's token
    ]
    for request_, presented in refused:
        with pytest.raises(HTTPException) as caught:
            authorize_write(request_, service(), TOKEN, presented)  # type: ignore[arg-type]
        assert caught.value.status_code == 403 and "another web site" in str(caught.value.detail)
    evil = remote(("origin", "http://evil.example"), cookie)
    with pytest.raises(HTTPException):  # a token never excuses a foreign Origin
        authorize_write(evil, service(), TOKEN, token)  # type: ignore[arg-type]


def test_the_page_asks_for_the_token_until_a_session_vouches() -> None:
    sessions = AdminSessions()
    assert not needs_token(local(), service(), sessions)  # type: ignore[arg-type]
    assert needs_token(remote(), service(), sessions)  # type: ignore[arg-type]
    cookie = session_cookie(sessions)
    assert not needs_token(remote(cookie), service(), sessions)  # type: ignore[arg-type]
    assert needs_token(remote(cookie), service(token=""), sessions)  # type: ignore[arg-type]


def test_a_typed_token_starts_a_strict_httponly_session_for_remote_clients() -> None:
    sessions = AdminSessions()
    response = Response()
    assert remember_token(response, remote(), service(), TOKEN, 2.0, sessions)  # type: ignore[arg-type]
    cookie = response.headers["set-cookie"]
    value = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.valid(value, TOKEN) and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=7200" in cookie
    other = Response()
    remember_token(other, remote(), service(), TOKEN, 2.0, sessions)  # type: ignore[arg-type]
    assert other.headers["set-cookie"].split(";")[0] != cookie.split(";")[0]  # fresh each time
    for typed, client in (("", remote()), (TOKEN, local())):
        untouched = Response()
        remember_token(untouched, client, service(), typed, 2.0, sessions)  # type: ignore[arg-type]
        assert "set-cookie" not in untouched.headers
    locked = Response()
    forget_session(locked, remote(("cookie", f"{ADMIN_COOKIE}={value}")), sessions)
    assert not sessions.valid(value, TOKEN) and "Max-Age=0" in locked.headers["set-cookie"]
