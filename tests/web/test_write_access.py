"""Who may change the documents (qa/web/write_access.py): this site only, loopback or the
admin token (as typed, or as the page's cookie, which holds a keyed hash of it), and a
builder server."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import HTTPException, Request
from fastapi.responses import Response

from qa.web.guard import ADMIN_COOKIE
from qa.web.service import ReaderOnly
from qa.web.write_access import authorize_write, cookie_value, needs_token, remember_token

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


def test_the_cookie_holds_a_keyed_hash_not_the_token() -> None:
    value = cookie_value(TOKEN)
    assert value == cookie_value(TOKEN) and len(value) == 64 and TOKEN not in value
    assert value != cookie_value("another-token")


def test_loopback_the_token_or_the_cookie_may_write() -> None:
    authorize_write(local(), service())  # type: ignore[arg-type]
    authorize_write(remote(), service(), TOKEN)  # type: ignore[arg-type]
    cookie = ("cookie", f"{ADMIN_COOKIE}={cookie_value(TOKEN)}")
    authorize_write(remote(cookie), service())  # type: ignore[arg-type]
    forged = ("cookie", f"{ADMIN_COOKIE}={TOKEN}")
    for refused in (remote(), remote(forged)):
        with pytest.raises(HTTPException) as caught:
            authorize_write(refused, service())  # type: ignore[arg-type]
        assert caught.value.status_code == 403


def test_cross_site_and_reader_only_writes_are_refused() -> None:
    with pytest.raises(HTTPException) as caught:
        authorize_write(local(("origin", "http://evil.example")), service())  # type: ignore[arg-type]
    assert caught.value.status_code == 403
    with pytest.raises(ReaderOnly):
        authorize_write(local(), service(builder=False))  # type: ignore[arg-type]


def test_the_page_asks_for_the_token_until_the_cookie_vouches() -> None:
    assert not needs_token(local(), service())  # type: ignore[arg-type]
    assert needs_token(remote(), service())  # type: ignore[arg-type]
    cookie = ("cookie", f"{ADMIN_COOKIE}={cookie_value(TOKEN)}")
    assert not needs_token(remote(cookie), service())  # type: ignore[arg-type]
    assert needs_token(remote(cookie), service(token=""))  # type: ignore[arg-type]


def test_a_typed_token_is_remembered_in_a_strict_httponly_cookie_for_remote_clients() -> None:
    response = Response()
    remember_token(response, remote(), service(), TOKEN)  # type: ignore[arg-type]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{ADMIN_COOKIE}={cookie_value(TOKEN)};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    for typed, client in (("", remote()), (TOKEN, local())):
        untouched = Response()
        remember_token(untouched, client, service(), typed)  # type: ignore[arg-type]
        assert "set-cookie" not in untouched.headers
