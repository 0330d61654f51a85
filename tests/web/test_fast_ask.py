"""The short way through for `POST /ask` (`qa.web.fast_ask`): it answers plainly valid requests
itself, and every reply, valid request or not, is the one the app gives without it."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.pipeline import Assistant
from qa.stores.base import IndexProblem
from qa.web.app import create_app
from qa.web.fast_ask import FastAsk
from tests.support.fakes import FakeEmbedder

QUESTION = "When did Luxon take office?"
JSON = "application/json"

# (body, content type): valid and not, every kind of reply /ask gives.
REQUESTS: list[tuple[bytes, str | None]] = [
    (json.dumps({"question": QUESTION}).encode(), JSON),
    (json.dumps({"question": QUESTION, "top_k": 2}).encode(), "application/json; charset=utf-8"),
    (json.dumps({"question": QUESTION, "top_k": None}).encode(), "Application/JSON"),
    (json.dumps({"question": QUESTION, "extra": 1}).encode(), JSON),
    (json.dumps({"question": QUESTION}).encode(), None),  # no content type: the app's way
    (json.dumps({"question": QUESTION}).encode(), "text/plain"),  # refused: 415
    (json.dumps({"question": QUESTION}).encode(), "application/x-www-form-urlencoded"),
    (json.dumps({"question": QUESTION, "top_k": 0}).encode(), JSON),
    (json.dumps({"question": QUESTION, "top_k": 21}).encode(), JSON),
    (json.dumps({"question": QUESTION, "top_k": "3"}).encode(), JSON),
    (json.dumps({"question": QUESTION, "top_k": True}).encode(), JSON),
    (json.dumps({"question": QUESTION, "top_k": 2.0}).encode(), JSON),
    (json.dumps({"question": ""}).encode(), JSON),
    (json.dumps({"question": "   "}).encode(), JSON),
    (json.dumps({"question": "x" * 5000}).encode(), JSON),
    (json.dumps({"question": 42}).encode(), JSON),
    (json.dumps({"top_k": 3}).encode(), JSON),
    (b"[]", JSON),
    (b"null", JSON),
    (b"", JSON),
    (b'{"question": "x"', JSON),
    (b'{"question": "\\ud800 Luxon?"}', JSON),
    (b'{"question": ' + b"[" * 20000 + b"]" * 20000 + b"}", JSON),
    (b'{"question": "x", "top_k": NaN}', JSON),
]


@pytest.fixture
def assistant(docs: Path, make_assistant) -> Assistant:  # type: ignore[no-untyped-def]
    built = make_assistant(docs, FakeEmbedder(), threshold=0.05)
    built.refresh()
    return built


def _client(assistant: Assistant, short_way: bool) -> TestClient:
    app = create_app(assistant, build_on_start=False)
    if not short_way:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not FastAsk]
    return TestClient(app)


def _reply(client: TestClient, body: bytes, content_type: str | None) -> dict[str, Any]:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/ask", content=body, headers=headers)
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if isinstance(payload, dict):
        payload.pop("took_ms", None)  # the only field that differs between two answers
    kept = ("content-type", "content-security-policy", "x-content-type-options", "allow")
    return {
        "status": response.status_code,
        "body": payload,
        "headers": {name: response.headers.get(name) for name in kept},
    }


def test_every_reply_is_the_one_the_app_gives_without_the_short_way(assistant) -> None:  # type: ignore[no-untyped-def]
    with _client(assistant, True) as fast, _client(assistant, False) as plain:
        for body, content_type in REQUESTS:
            got = _reply(fast, body, content_type)
            assert got == _reply(plain, body, content_type), (body[:60], content_type)
        statuses = {_reply(fast, body, kind)["status"] for body, kind in REQUESTS}
        assert statuses == {200, 400, 415, 422}


def test_replies_match_when_the_index_is_not_ready_or_broken(assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"question": QUESTION}).encode()
    with _client(assistant, True) as fast, _client(assistant, False) as plain:
        for client in (fast, plain):
            client.app.state.service.ready.clear()  # type: ignore[attr-defined]
        not_ready = _reply(fast, body, JSON)
        assert not_ready["status"] == 503 and not_ready == _reply(plain, body, JSON)
        for client in (fast, plain):
            client.app.state.service.ready.set()  # type: ignore[attr-defined]

        def broken(question: str, top_k: int | None = None) -> None:
            raise IndexProblem("the index is damaged: dense.faiss is missing")

        monkeypatch.setattr(assistant, "ask", broken)
        damaged = _reply(fast, body, JSON)
        assert damaged["status"] == 503 and "dense.faiss" in damaged["body"]["detail"]
        assert damaged == _reply(plain, body, JSON)


# ---- the middleware on its own --------------------------------------------------------------


class FakeService:
    """What FastAsk uses of `Service`: `ready` and `answer_json`."""

    def __init__(self, answer: bytes | Exception) -> None:
        self.ready = threading.Event()
        self.ready.set()
        self.answer = answer
        self.asked: list[tuple[str, int | None]] = []

    async def answer_json(self, question: str, top_k: int | None) -> bytes:
        self.asked.append((question, top_k))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _run(service: FakeService, body: bytes, path: str = "/ask") -> tuple[list[bytes], list]:  # type: ignore[type-arg]
    """Send one request through FastAsk over an app that records the bodies it was given."""
    seen: list[bytes] = []
    sent: list = []  # type: ignore[type-arg]

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive() -> dict:  # type: ignore[type-arg]
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message) -> None:  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(b"content-type", b"application/json")]}  # fmt: skip
    asyncio.run(FastAsk(app, service)(scope, receive, send))  # type: ignore[arg-type]
    return seen, sent


def test_a_valid_request_is_answered_without_the_app() -> None:
    service = FakeService(b'{"answer": "yes"}')
    seen, sent = _run(service, b'{"question": "Who?", "top_k": 3}')
    assert seen == [] and service.asked == [("Who?", 3)]
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"]) == {b"content-length": b"17", b"content-type": JSON.encode()}
    assert sent[1]["body"] == b'{"answer": "yes"}'


@pytest.mark.parametrize(
    "answer", [ValueError("bad question"), IndexProblem("damaged")], ids=["422", "503"]
)
def test_an_answer_that_raises_goes_to_the_app_with_the_same_body(answer: Exception) -> None:
    body = b'{"question": "Who?"}'
    seen, sent = _run(FakeService(answer), body)
    assert seen == [body] and sent[0]["status"] == 418


def test_other_requests_go_to_the_app_untouched() -> None:
    for body, path in [(b'{"question": 1}', "/ask"), (b"{", "/ask"), (b'{"question": "a"}', "/x")]:
        service = FakeService(b"{}")
        seen, sent = _run(service, body, path)
        assert seen == [body] and service.asked == [] and sent[0]["status"] == 418
    not_ready = FakeService(b"{}")
    not_ready.ready.clear()
    seen, _ = _run(not_ready, b'{"question": "a"}')
    assert seen == [b'{"question": "a"}'] and not_ready.asked == []


def test_the_page_and_other_routes_still_work(assistant) -> None:  # type: ignore[no-untyped-def]
    with _client(assistant, True) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ask", params={"q": QUESTION}).status_code == 200
        assert client.get("/").status_code == 200
