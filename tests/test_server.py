"""The web layer over the fake embedder: every route, every bad input, index life, headers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import qa.pipeline
import server
from qa.config import Settings
from qa.indexer import refresh
from qa.pipeline import Assistant
from qa.service import default_answer_workers
from tests.conftest import ROOT, SEED_DOC, FakeEmbedder

QUESTION = "When did Luxon take office?"
EVIL = "notes/evil.txt"
EVIL_TEXT = (
    "Security note\n\nThis page tests escaping: <script>alert(1)</script> must show as text. "
    "The office cat is named Whiskers.\n"
)
CONTRACT_FIELDS = {
    "question", "answered", "answer", "confidence", "citations", "passages", "took_ms",
}  # fmt: skip
LOCAL = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
REMOTE = {"base_url": "http://qa.example:8000", "client": ("203.0.113.9", 50000)}


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def folder(docs: Path) -> Path:
    """The seed article plus a document holding a <script> tag, in a subfolder."""
    (docs / "notes").mkdir()
    (docs / EVIL).write_text(EVIL_TEXT)
    return docs


@pytest.fixture
def assistant(folder: Path, make_assistant) -> Assistant:  # type: ignore[no-untyped-def]
    # A low threshold so the fake embedder's answers are not abstentions.
    return make_assistant(folder, FakeEmbedder(), threshold=0.05)


@contextmanager
def serve(app, **options) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A TestClient over `app`, once its first build is done."""
    with TestClient(app, **options) as client:
        wait_until(lambda: client.get("/health").status_code == 200)
        yield client


@pytest.fixture
def client(assistant: Assistant) -> Iterator[TestClient]:
    with serve(server.create_app(assistant)) as client:
        yield client


@pytest.fixture
def local(assistant: Assistant) -> Iterator[TestClient]:
    """A client that looks like a browser or curl on this machine."""
    with serve(server.create_app(assistant), **LOCAL) as client:
        yield client


# ---- the answer -----------------------------------------------------------------------------


def test_post_ask_returns_the_contract_object_with_verbatim_quotes(client: TestClient) -> None:
    response = client.post("/ask", json={"question": QUESTION, "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= CONTRACT_FIELDS
    assert body["question"] == QUESTION and body["answered"] is True
    assert 0.0 <= body["confidence"] <= 1.0
    assert 1 <= len(body["passages"]) <= 3
    assert body["citations"]
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]
        document = client.get(f"/documents/{citation['doc_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["quote"]


def test_get_ask_answers_the_same_as_post(client: TestClient) -> None:
    posted = client.post("/ask", json={"question": QUESTION, "top_k": 2}).json()
    got = client.get("/ask", params={"q": QUESTION, "top_k": 2}).json()
    for body in (posted, got):
        body.pop("took_ms")
    assert got == posted


def test_fields_added_to_the_answer_pass_through(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = qa.pipeline.Assistant.ask

    def ask_with_extra(self, question, top_k=None):  # type: ignore[no-untyped-def]
        result = original(self, question, top_k)
        to_dict = result.to_dict
        result.to_dict = lambda: {**to_dict(), "short_answer": {"text": "x"}, "extra": 1}
        return result

    monkeypatch.setattr(qa.pipeline.Assistant, "ask", ask_with_extra)
    body = client.get("/ask", params={"q": QUESTION}).json()
    assert body["short_answer"] == {"text": "x"} and body["extra"] == 1


def test_ask_sends_the_answer_object_as_json(client: TestClient, assistant: Assistant) -> None:
    response = client.post("/ask", json={"question": QUESTION, "top_k": 2})
    assert response.headers["content-type"] == "application/json"
    expected = assistant.ask(QUESTION, 2).to_dict()
    body = response.json()
    assert body.pop("took_ms") >= 0 and expected.pop("took_ms") >= 0
    assert body == expected


def test_questions_queue_for_the_answer_workers_and_health_does_not_wait(
    assistant: Assistant, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """With 2 answer workers, 6 slow questions run at most 2 at a time, all get their answer,
    and /health and the documents answer at once meanwhile."""
    running, most, lock = [0], [0], threading.Lock()
    original = qa.pipeline.Assistant.ask

    def slow_ask(self, question, top_k=None):  # type: ignore[no-untyped-def]
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        try:
            return original(self, question, top_k)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(qa.pipeline.Assistant, "ask", slow_ask)
    app = server.create_app(assistant, answer_workers=2)
    statuses: list[int] = []
    with serve(app) as client:
        threads = [
            threading.Thread(
                target=lambda: statuses.append(
                    client.get("/ask", params={"q": QUESTION}).status_code
                )
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: running[0] == 2)
            started = time.monotonic()
            assert client.get("/health").status_code == 200
            assert client.get(f"/documents/{SEED_DOC}").status_code == 200
            assert time.monotonic() - started < 0.25, "health waited behind the questions"
        finally:
            for thread in threads:
                thread.join(10)
    assert statuses == [200] * 6 and most[0] == 2


@pytest.mark.parametrize(("value", "workers"), [("3", 3), (" 1 ", 1), ("", None)])
def test_answer_workers_come_from_the_environment(monkeypatch, value: str, workers) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_ANSWER_WORKERS", value)
    expected = workers or max(1, len(os.sched_getaffinity(0)))
    assert default_answer_workers() == expected


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_answer_workers_setting_says_what_it_needs(monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_ANSWER_WORKERS", value)
    with pytest.raises(ValueError, match="QA_ANSWER_WORKERS must be a whole number >= 1"):
        default_answer_workers()


def test_default_top_k_is_five(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    (folder / "more.txt").write_text(
        "\n\n".join(
            f"Paragraph {i} about Luxon and the office of prime minister." for i in range(40)
        )
    )
    app = server.create_app(make_assistant(folder, FakeEmbedder()))
    with serve(app) as client:
        assert len(client.post("/ask", json={"question": QUESTION}).json()["passages"]) == 5


# ---- bad input ------------------------------------------------------------------------------

BAD_BODIES = [
    (b'{"question": ""}', 422, "empty"),
    (b'{"question": "   \\n\\t "}', 422, "empty"),
    (('{"question": "' + "why " * 300 + '"}').encode(), 422, "limit is 1000"),
    (b'{"question": 42}', 422, "valid string"),
    (b'{"question": ["a"]}', 422, "valid string"),
    (b'{"question": null}', 422, "valid string"),
    (b'{"top_k": 3}', 422, "question is missing"),
    (b'{"question": "When?", "top_k": "5"}', 422, "top_k"),
    (b'{"question": "When?", "top_k": 2.5}', 422, "top_k"),
    (b'{"question": "When?", "top_k": true}', 422, "top_k"),
    (b'{"question": "When?", "top_k": 0}', 422, "greater than or equal to 1"),
    (b'{"question": "When?", "top_k": 21}', 422, "less than or equal to 20"),
    (b'{"question": "When?", "top_k": -3}', 422, "top_k"),
    (b'{"question": "When?"', 400, "not valid JSON"),
    (b"question=When", 400, "not valid JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b'"When?"', 422, "JSON object"),
    (b"", 422, "missing"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_bad_post_bodies_get_a_4xx_with_a_message(
    client: TestClient, body: bytes, status: int, message: str
) -> None:
    response = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    detail = response.json()["detail"]
    assert isinstance(detail, str) and message in detail
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "q is missing"),
        ("?q=", "empty"),
        ("?q=%20%20", "empty"),
        ("?q=" + "a" * 1001, "limit is 1000"),
        ("?q=When&top_k=0", "greater than or equal to 1"),
        ("?q=When&top_k=21", "less than or equal to 20"),
        ("?q=When&top_k=five", "valid integer"),
        ("?q=a%00b", "NUL"),
    ],
)
def test_bad_get_queries_get_a_422_with_a_message(
    client: TestClient, query: str, message: str
) -> None:
    response = client.get("/ask" + query)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_a_body_that_is_not_declared_json_gets_a_415(client: TestClient) -> None:
    response = client.post("/ask", content=b'{"question": "When?"}')  # like curl -d
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


def test_a_body_over_64_kb_is_refused(client: TestClient) -> None:
    big = b'{"question": "' + b"a" * 70_000 + b'"}'
    response = client.post("/ask", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "64 KB" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(70):
            yield b"a" * 1024

    response = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_wrong_method_is_a_405_that_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/ask", json={"question": QUESTION})
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert client.delete("/index/rebuild").headers["allow"] == "POST"


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


# ---- documents ------------------------------------------------------------------------------


def test_get_document_returns_its_text_and_metadata(client: TestClient, folder: Path) -> None:
    body = client.get(f"/documents/{EVIL}").json()
    assert body["doc_id"] == EVIL and body["text"] == EVIL_TEXT
    assert body["title"] and len(body["sha256"]) == 64 and body["chunks"] >= 1
    seed = client.get(f"/documents/{SEED_DOC}").json()
    assert seed["text"] == (folder / SEED_DOC).read_text(encoding="utf-8-sig")


def test_unknown_document_is_404(client: TestClient) -> None:
    for path in ("/documents/nothing.txt", "/documents/nothing.txt/view?start=0&end=1"):
        response = client.get(path)
        assert response.status_code == 404
        assert "no document 'nothing.txt'" in response.json()["detail"]


TRAVERSALS = [
    "/documents/%2e%2e/%2e%2e/etc/passwd",
    "/documents/..%2f..%2fetc%2fpasswd",
    "/documents/%252e%252e%252fetc%252fpasswd",
    "/documents/notes/%2e%2e/%2e%2e/secret.txt",
    "/documents/%2fetc%2fpasswd",
    "/documents//etc/passwd",
    "/documents/C:%5cWindows%5cwin.ini",
    "/documents/notes%5c..%5cevil.txt",
    "/documents/notes/evil.txt%00.png",
    "/documents/%2e/notes/evil.txt",
    "/documents/%2e%2e/etc/passwd/view?start=0&end=1",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_doc_ids_that_leave_the_docs_folder_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "inside the docs folder" in response.json()["detail"]


def test_view_page_marks_the_span(client: TestClient) -> None:
    start = EVIL_TEXT.index("The office cat")
    end = len(EVIL_TEXT) - 1
    response = client.get(f"/documents/{EVIL}/view", params={"start": start, "end": end})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert (
        '<mark id="quote" tabindex="-1" autofocus>The office cat is named Whiskers.</mark>' in html
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_doc_ids_with_spaces_and_signs_link_to_their_view_page(
    local: TestClient, folder: Path
) -> None:
    (folder / "notes" / "week #1 100%.txt").write_text("Minutes\n\nThe kiwi lays large eggs.")
    assert local.post("/index/rebuild").json()["added"] == 1
    doc_id = "notes/week #1 100%.txt"
    link = server.view_url(doc_id, 9, 34)
    assert link.startswith("/documents/notes/week%20%231%20100%25.txt/view?")
    html = local.get(link).text
    assert '<mark id="quote" tabindex="-1" autofocus>The kiwi lays large eggs.</mark>' in html
    assert local.get(link.replace("/view", "").split("?")[0]).json()["doc_id"] == doc_id


def test_view_page_without_a_span_shows_the_whole_document(client: TestClient) -> None:
    html = client.get(f"/documents/{SEED_DOC}/view").text
    assert "<mark" not in html and "Luxon, who took office" in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?start=5&end=2", 400, "0 <= start < end"),
        ("?start=5&end=5", 400, "0 <= start < end"),
        ("?start=0&end=100000", 400, f"<= {len(EVIL_TEXT)}"),
        ("?start=5", 400, "both start and end"),
        ("?start=-1&end=3", 422, "greater than or equal to 0"),
        ("?start=one&end=3", 422, "valid integer"),
    ],
)
def test_view_page_refuses_spans_out_of_range(
    client: TestClient, query: str, status: int, message: str
) -> None:
    response = client.get(f"/documents/{EVIL}/view{query}")
    assert response.status_code == status and message in response.json()["detail"]


def test_errors_for_browsers_are_html_pages(client: TestClient) -> None:
    response = client.get(f"/documents/{EVIL}/view?start=5&end=2", headers={"accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "0 &lt;= start &lt; end" in response.text


# ---- the page -------------------------------------------------------------------------------


def test_page_without_a_question_shows_the_box(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<input id="q" name="q"' in response.text and "<script" not in response.text
    assert '<link rel="stylesheet" href="/static/style.css">' in response.text
    css = client.get("/static/style.css")
    assert css.status_code == 200 and len(css.content) < 8000


def test_page_shows_the_answer_with_linked_numbered_sources(client: TestClient) -> None:
    response = client.get("/", params={"q": QUESTION})
    assert response.status_code == 200
    html = response.text
    answer = client.get("/ask", params={"q": QUESTION}).json()
    assert f'value="{QUESTION}"' in html  # the last question stays in the box
    assert "confidence" in html.lower()
    for citation in answer["citations"]:
        n = citation["n"]
        assert f'<a class="cite" href="#source-{n}"' in html
        assert f'<li id="source-{n}"' in html
        link = server.view_url(citation["doc_id"], citation["start"], citation["end"])
        assert f'href="{link.replace("&", "&amp;")}"' in html
    assert "<details" in html and "Retrieved passages" in html


def test_page_says_when_the_documents_do_not_answer(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    app = server.create_app(make_assistant(folder, FakeEmbedder(), threshold=1.0))
    with serve(app) as client:
        html = client.get("/", params={"q": "What is the boiling point of tungsten?"}).text
        assert "The documents don't say" in html
        assert 'class="sources"' not in html and "<details" in html


def test_page_escapes_documents_and_the_question(client: TestClient) -> None:
    question = 'Whiskers <script>alert("q")</script> cat?'
    html = client.get("/", params={"q": question}).text
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the document, in the passages


def test_page_with_a_bad_question_is_a_400_page(client: TestClient) -> None:
    for q in ("", "   ", "x" * 1001):
        response = client.get("/", params={"q": q})
        assert response.status_code == 400
        assert 'class="notice error"' in response.text


def test_page_shows_a_short_answer_inside_its_quote(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = qa.pipeline.Assistant.ask

    def ask_with_short(self, question, top_k=None):  # type: ignore[no-untyped-def]
        result = original(self, question, top_k)
        first = result.citations[0]
        short = {"text": first.quote[:4], "start": first.start, "end": first.start + 4,
                 "doc_id": first.doc_id}  # fmt: skip
        to_dict = result.to_dict
        result.to_dict = lambda: {**to_dict(), "short_answer": short}
        return result

    monkeypatch.setattr(qa.pipeline.Assistant, "ask", ask_with_short)
    body = client.get("/ask", params={"q": QUESTION}).json()
    html = client.get("/", params={"q": QUESTION}).text
    assert f'<blockquote><strong class="hit">{body["citations"][0]["quote"][:4]}</strong>' in html


# ---- headers, logs, docs --------------------------------------------------------------------


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


def test_openapi_has_models_with_examples_and_docs_work_offline(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/ask", "/documents/{doc_id}", "/index/rebuild", "/health"} <= set(schema["paths"])
    ask = schema["components"]["schemas"]["AskRequest"]
    assert ask["examples"][0]["question"] == QUESTION
    docs = client.get("/docs")
    assert docs.status_code == 200 and "<script>" not in docs.text  # no inline script
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/init.js",
    ):
        assert client.get(asset).status_code == 200


# ---- readiness ------------------------------------------------------------------------------


def test_health_reports_the_index(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == FakeEmbedder.name
    assert body["documents"] == 2 and body["chunks"] >= 2
    assert body["last_rebuild"]["added"] == 2


def test_questions_before_the_index_is_ready_get_a_503(assistant: Assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()
    original = assistant.refresh

    def slow_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(assistant, "refresh", slow_refresh)
    with TestClient(server.create_app(assistant)) as client:
        response = client.post("/ask", json={"question": QUESTION})
        assert response.status_code == 503 and "not ready" in response.json()["detail"]
        assert response.headers["retry-after"] == "2"
        assert client.get(f"/documents/{SEED_DOC}").status_code == 503
        assert client.get("/health").json()["status"] == "starting"
        assert client.get("/", params={"q": QUESTION}).status_code == 503
        page = client.get("/")
        assert page.status_code == 200 and "being built" in page.text
        release.set()
        wait_until(lambda: client.get("/health").status_code == 200)
        assert client.post("/ask", json={"question": QUESTION}).status_code == 200


def test_a_missing_docs_folder_is_a_503_that_says_why(tmp_path: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    app = server.create_app(make_assistant(tmp_path / "nowhere", FakeEmbedder()))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/health").json()["status"] == "error")
        health = client.get("/health")
        assert health.status_code == 503 and "does not exist" in health.json()["error"]
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "does not exist" in response.json()["detail"]


def test_a_missing_index_is_a_503(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    app = server.create_app(make_assistant(folder, FakeEmbedder()), build_on_start=False)
    with TestClient(app) as client:
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "index" in response.json()["detail"].lower()


# ---- rebuilds -------------------------------------------------------------------------------


def test_rebuild_from_this_machine_picks_up_a_new_document(local: TestClient, folder: Path) -> None:
    (folder / "new.txt").write_text("The harbour bridge opened in 1932 after eight years.")
    response = local.post("/index/rebuild")
    assert response.status_code == 200
    report = response.json()
    assert {"documents", "added", "updated", "removed", "unchanged", "chunks", "embedded",
            "skipped", "seconds"} <= set(report)  # fmt: skip
    assert (report["added"], report["documents"], report["unchanged"]) == (1, 3, 2)
    assert local.get("/documents/new.txt").status_code == 200
    again = local.post("/index/rebuild").json()
    assert (again["added"], again["embedded"]) == (0, 0)


def test_a_failed_rebuild_says_why_and_keeps_the_old_index(local: TestClient, folder: Path) -> None:
    for path in folder.rglob("*.txt"):
        path.unlink()
    response = local.post("/index/rebuild")
    assert response.status_code == 503 and "holds no documents" in response.json()["detail"]
    assert local.get("/ask", params={"q": QUESTION}).status_code == 200


def test_rebuild_from_elsewhere_is_refused_without_a_token(assistant: Assistant) -> None:
    with serve(server.create_app(assistant, admin_token=""), **REMOTE) as client:
        response = client.post("/index/rebuild")
        assert response.status_code == 403 and "QA_ADMIN_TOKEN" in response.json()["detail"]
        bearer = client.post("/index/rebuild", headers={"authorization": "Bearer anything"})
        assert bearer.status_code == 403


def test_rebuild_from_elsewhere_needs_the_right_token(assistant: Assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret-token")
    with serve(server.create_app(assistant), **REMOTE) as client:
        missing = client.post("/index/rebuild")
        assert missing.status_code == 403 and missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/index/rebuild", headers={"authorization": "Bearer s3cret-tokeN"})
        assert wrong.status_code == 403
        basic = client.post("/index/rebuild", headers={"authorization": "Basic s3cret-token"})
        assert basic.status_code == 403
        right = client.post("/index/rebuild", headers={"authorization": "Bearer s3cret-token"})
        assert right.status_code == 200 and right.json()["documents"] == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-for": "203.0.113.9"},
        {"forwarded": "for=203.0.113.9"},
        {"host": "attacker.example:8000"},
        {"origin": "http://attacker.example"},
    ],
)
def test_loopback_through_a_proxy_or_from_a_web_page_is_not_local(
    assistant: Assistant, headers: dict[str, str]
) -> None:
    with serve(server.create_app(assistant, admin_token=""), **LOCAL) as client:
        assert client.post("/index/rebuild", headers=headers).status_code == 403
        assert client.post("/index/rebuild", headers={"origin": "http://localhost:8000"}).is_success


def test_two_rebuilds_never_run_at_once_and_queries_go_on(
    local: TestClient, folder: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    running, overlap, entered = [0], [0], threading.Event()
    release = threading.Event()

    def slow_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
        running[0] += 1
        overlap[0] = max(overlap[0], running[0])
        entered.set()
        release.wait(10)
        try:
            return refresh(*args, **kwargs)
        finally:
            running[0] -= 1

    monkeypatch.setattr(qa.pipeline, "refresh", slow_refresh)
    (folder / "new.txt").write_text("The harbour bridge opened in 1932 after eight years.")
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(local.post("/index/rebuild").status_code))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    assert entered.wait(5)
    # While a rebuild holds the lock, questions are answered from the old snapshot.
    assert local.get("/ask", params={"q": QUESTION}).status_code == 200
    assert local.get("/health").json()["rebuilding"] is True
    assert local.get("/documents/new.txt").status_code == 404
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [200, 200] and overlap[0] == 1
    assert local.get("/documents/new.txt").status_code == 200


def test_an_index_rebuilt_by_another_process_is_picked_up(folder: Path, tmp_path: Path) -> None:
    """A second store over the same index folder stands for `qa index` in another process."""
    settings = Settings(docs_dir=folder, index_dir=tmp_path / "shared-index", threshold=0.05)
    serving = Assistant(settings, embedder=FakeEmbedder(), reload_interval=1.0)
    with serve(server.create_app(serving)) as client:
        (folder / "new.txt").write_text("The harbour bridge opened in 1932 after eight years.")
        other = Assistant(settings, embedder=FakeEmbedder())
        refresh(folder, other.store, other.embedder)
        changed = time.monotonic()
        wait_until(lambda: client.get("/documents/new.txt").status_code == 200, timeout=5)
        assert time.monotonic() - changed < 2.5
        assert client.get("/health").json()["documents"] == 3


def test_watch_rebuilds_after_the_docs_folder_changes(assistant: Assistant, folder: Path) -> None:
    app = server.create_app(assistant, watch=True)
    with serve(app) as client:
        time.sleep(0.3)  # let the watcher start
        (folder / "watched.txt").write_text("Kiwis cannot fly, but they run fast at night.")
        wait_until(lambda: client.get("/documents/watched.txt").status_code == 200, timeout=15)
        (folder / "watched.txt").unlink()
        wait_until(lambda: client.get("/documents/watched.txt").status_code == 404, timeout=15)
    watchers = [t for t in threading.enumerate() if t.name == "qa-watch"]
    assert not watchers, "the watcher stops on shutdown"


# ---- running --------------------------------------------------------------------------------


def test_run_binds_loopback_by_default(monkeypatch, docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    server.run(Settings(docs_dir=docs, index_dir=tmp_path / "i"))
    assert seen["host"] == "127.0.0.1" and seen["proxy_headers"] is False


# ---- a damaged index ------------------------------------------------------------------------

DAMAGES = ["truncate", "garbage", "manifest", "missing-file", "current", "current-garbage"]


def damage_index(index: Path, damage: str) -> None:
    """Damage the live generation of the FAISS index in `index` in one of several ways."""
    live = index / (index / "CURRENT").read_text().strip()
    if damage == "truncate":
        vectors = live / "chunk_vectors.npy"
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "garbage":
        texts = live / "texts.jsonl"
        texts.write_bytes(bytes(range(256)) * (texts.stat().st_size // 256 + 1))
    elif damage == "manifest":
        (live / "manifest.json").write_text("{not json")
    elif damage == "missing-file":
        (live / "sentences.npy").unlink()
    elif damage == "current-garbage":
        (index / "CURRENT").write_bytes(bytes(range(256)))
    else:
        (index / "CURRENT").write_text("gen-999999\n")


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_index_is_a_503_with_its_reason_until_a_rebuild(
    folder: Path, tmp_path: Path, damage: str
) -> None:
    """No good index in memory (the server did not build on start): every route that needs
    the index says what is wrong, with 503; `POST /index/rebuild` repairs it."""
    settings = Settings(docs_dir=folder, index_dir=tmp_path / "index", threshold=0.05)
    builder = Assistant(settings, embedder=FakeEmbedder())
    builder.refresh()
    damage_index(tmp_path / "index", damage)
    serving = Assistant(settings, embedder=FakeEmbedder(), reload_interval=0.0)
    app = server.create_app(serving, build_on_start=False)
    with TestClient(app, raise_server_exceptions=False, **LOCAL) as client:
        for response in (
            client.get("/ask", params={"q": QUESTION}),
            client.post("/ask", json={"question": QUESTION}),
            client.get(f"/documents/{SEED_DOC}"),
            client.get(f"/documents/{SEED_DOC}/view"),
            client.get("/health"),
        ):
            assert response.status_code == 503, response.text
            body = response.json()
            message = body.get("detail") or body.get("error")
            assert "qa index" in message, message
            assert "Traceback" not in response.text
        page = client.get("/", params={"q": QUESTION})
        assert page.status_code == 503 and "qa index" in page.text
        rebuilt = client.post("/index/rebuild")
        assert rebuilt.status_code == 200, rebuilt.text
        assert rebuilt.json()["rebuilt"] is True and rebuilt.json()["reason"].startswith("rebuilt")
        answer = client.get("/ask", params={"q": QUESTION})
        assert answer.status_code == 200 and answer.json()["citations"]
        assert client.get("/health").json()["status"] == "ok"


def test_a_damaged_index_is_repaired_by_qa_index_in_another_process(
    folder: Path, tmp_path: Path
) -> None:
    settings = Settings(docs_dir=folder, index_dir=tmp_path / "index", threshold=0.05)
    Assistant(settings, embedder=FakeEmbedder()).refresh()
    damage_index(tmp_path / "index", "garbage")
    serving = Assistant(settings, embedder=FakeEmbedder(), reload_interval=0.0)
    with TestClient(server.create_app(serving, build_on_start=False)) as client:
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "damaged" in response.json()["detail"]
        result = subprocess.run(
            [sys.executable, "-m", "tests.build_worker", str(folder), str(tmp_path / "index")],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "damaged" in json.loads(result.stdout.splitlines()[-1])["reason"]
        assert client.get("/ask", params={"q": QUESTION}).status_code == 200


@pytest.mark.parametrize("damage", DAMAGES)
def test_damage_on_disk_while_serving_keeps_the_index_in_memory(
    local: TestClient, tmp_path: Path, damage: str
) -> None:
    """With a good index in memory, damage on disk never stops the answers; the next rebuild
    notices it (checksums) and writes a whole new index."""
    before = local.get("/ask", params={"q": QUESTION}).json()
    damage_index(tmp_path / "index", damage)
    time.sleep(0.05)
    after = local.get("/ask", params={"q": QUESTION})
    assert after.status_code == 200
    assert after.json()["citations"] == before["citations"]
    assert local.get(f"/documents/{SEED_DOC}").status_code == 200
    rebuilt = local.post("/index/rebuild").json()
    assert rebuilt["rebuilt"] is True and rebuilt["embedded"] == rebuilt["chunks"] > 0
    assert local.get("/ask", params={"q": QUESTION}).json()["citations"] == before["citations"]


def test_no_docs_folder_and_a_damaged_index_say_both(folder: Path, tmp_path: Path) -> None:
    settings = Settings(docs_dir=folder, index_dir=tmp_path / "index", threshold=0.05)
    Assistant(settings, embedder=FakeEmbedder()).refresh()
    damage_index(tmp_path / "index", "truncate")
    gone = replace(settings, docs_dir=tmp_path / "gone")
    app = server.create_app(Assistant(gone, embedder=FakeEmbedder()))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/health").json()["status"] == "error")
        detail = client.get("/ask", params={"q": QUESTION}).json()["detail"]
        assert "does not exist" in detail and "damaged" in detail and "qa index" in detail
