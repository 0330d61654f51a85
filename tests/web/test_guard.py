"""The guard middleware (qa/web/guard.py): body limit, a JSON 500 without details, security
headers, one log line per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi.testclient import TestClient

from qa.pipeline import Assistant
from tests.support.web import (
    QUESTION,
)


def test_a_body_over_64_kb_is_refused(client: TestClient) -> None:
    big = b'{"question": "' + b"a" * 70_000 + b'"}'
    response = client.post("/ask", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "64 KB" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(70):
            yield b"a" * 1024

    response = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_an_unexpected_error_is_a_json_500_without_details(
    client: TestClient, assistant: Assistant, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    monkeypatch.setattr(assistant, "ask", broken)
    with caplog.at_level(logging.ERROR, logger="qa.server"):
        response = client.post("/ask", json={"question": QUESTION})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "secret internals" in caplog.text  # the log keeps what the client does not see


def test_every_response_has_the_security_headers(client: TestClient) -> None:
    responses = [
        client.get("/"),
        client.get("/ask", params={"q": QUESTION}),
        client.get("/ask"),
        client.get("/documents/nothing.txt"),
        client.get("/static/style.css"),
        client.get("/health"),
        client.post("/ask", content=b"x" * 70_000),
        client.get("/no/such/route"),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp


def test_one_log_line_per_request_with_its_time(client: TestClient, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="qa.server"):
        client.get("/ask", params={"q": QUESTION})
        client.get("/documents/nothing.txt")
    lines = [r.getMessage() for r in caplog.records if r.name == "qa.server"]
    assert any(line.startswith("GET /ask 200 ") and line.endswith(" ms") for line in lines)
    assert any(line.startswith("GET /documents/nothing.txt 404 ") for line in lines)
    assert not any(QUESTION in line for line in lines)  # questions stay out of the log
    with caplog.at_level(logging.INFO, logger="qa.server"):
        client.get("/documents/a%0aGET%20/forged%20200%201.0%20ms")
    assert not any("\n" in r.getMessage() for r in caplog.records if r.name == "qa.server")


def _request(*headers: tuple[str, str]):  # type: ignore[no-untyped-def]
    from fastapi import Request

    raw = [(b"host", b"10.0.0.5:8000")] + [(k.encode(), v.encode()) for k, v in headers]
    return Request({"type": "http", "method": "POST", "path": "/library/upload",
                    "query_string": b"", "headers": raw, "client": ("10.0.0.9", 5000)})  # fmt: skip


def test_the_origin_check_takes_origin_null_only_when_something_vouches() -> None:
    import pytest
    from fastapi import HTTPException

    from qa.web.guard import check_origin

    accepted = [
        ((), False),  # not a browser: curl, scripts
        ((("origin", "http://10.0.0.5:8000"),), False),  # our own page, Origin kept
        ((("origin", "null"), ("sec-fetch-site", "same-origin")), False),  # https or loopback
        ((("origin", "null"),), True),  # plain HTTP to another machine, with a form token
    ]
    for headers, vouched in accepted:
        check_origin(_request(*headers), vouched)
    refused = [
        ((("origin", "null"),), False),  # a hostile page under no-referrer looks like this
        ((("origin", "http://evil.example"),), True),  # a token never excuses another site
        ((("origin", "http://10.0.0.5:9999"),), True),  # another port is another site
        ((("sec-fetch-site", "cross-site"), ("origin", "null")), True),
        ((("sec-fetch-site", "same-site"),), False),
        ((("origin", "http://[bad"),), False),
    ]
    for headers, vouched in refused:
        with pytest.raises(HTTPException) as caught:
            check_origin(_request(*headers), vouched)
        assert caught.value.status_code == 403 and "another web site" in caught.value.detail


def test_a_form_over_the_body_limit_gets_a_page_not_json(client: TestClient) -> None:
    big = b"x" * (64 * 1024 + 1)
    page = client.post("/ask", content=big, headers={"accept": "text/html"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "larger than 64 KB" in page.text and 'href="/library"' in page.text
