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
