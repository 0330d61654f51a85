"""The JSON API (qa/web/api.py): the answer contract, bad input, documents, health, rebuilds and
who may ask for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import qa
import qa.pipeline
from qa.pipeline import Assistant
from qa.web.app import create_app
from tests.support.fakes import SEED_DOC, FakeEmbedder
from tests.support.web import (
    CONTRACT_FIELDS,
    EVIL,
    EVIL_TEXT,
    LOCAL,
    QUESTION,
    REMOTE,
    serve,
)


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


def test_default_top_k_is_five(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    (folder / "more.txt").write_text(
        "\n\n".join(
            f"Paragraph {i} about Luxon and the office of prime minister." for i in range(40)
        )
    )
    app = create_app(make_assistant(folder, FakeEmbedder()))
    with serve(app) as client:
        assert len(client.post("/ask", json={"question": QUESTION}).json()["passages"]) == 5


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


def test_health_reports_the_index(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == FakeEmbedder.name
    assert body["documents"] == 2 and body["chunks"] >= 2
    assert body["last_rebuild"]["added"] == 2
    assert body["version"] == qa.__version__ and body["version"].count(".") >= 2


def test_the_page_footer_shows_the_version(client: TestClient) -> None:
    assert f"qa-assistant {qa.__version__}" in client.get("/").text


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
    with serve(create_app(assistant, admin_token=""), **REMOTE) as client:
        response = client.post("/index/rebuild")
        assert response.status_code == 403 and "QA_ADMIN_TOKEN" in response.json()["detail"]
        bearer = client.post("/index/rebuild", headers={"authorization": "Bearer anything"})
        assert bearer.status_code == 403


def test_rebuild_from_elsewhere_needs_the_right_token(assistant: Assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QA_ADMIN_TOKEN", "s3cret-token")
    with serve(create_app(assistant), **REMOTE) as client:
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
    with serve(create_app(assistant, admin_token=""), **LOCAL) as client:
        assert client.post("/index/rebuild", headers=headers).status_code == 403
        assert client.post("/index/rebuild", headers={"origin": "http://localhost:8000"}).is_success


def _notes(folder: Path, count: int) -> list[Path]:
    paths = [folder / f"note{n:02d}.txt" for n in range(count)]
    for n, path in enumerate(paths):
        path.write_text(f"Note {n}\n\nThe number {n} is written here.")
    return paths


def test_health_and_page_say_builder_and_where_documents_come_from(local: TestClient) -> None:
    health = local.get("/health").json()
    assert health["mode"] == "builder" and health["docs"].endswith("docs")
    assert health["store"].startswith("faiss") and health["cache"] is None  # all local
    assert "builder" in local.get("/").text


def test_rebuild_that_would_remove_most_documents_is_a_409_until_allowed(
    local: TestClient, folder: Path
) -> None:
    notes = _notes(folder, 10)
    assert local.post("/index/rebuild").json()["documents"] == 12
    for path in notes[:8]:
        path.unlink()
    refused = local.post("/index/rebuild")
    assert refused.status_code == 409
    body = refused.json()
    assert (body["removing"], body["indexed"], body["folder"]) == (8, 12, str(folder))
    assert "allow_removals=true" in body["detail"]
    assert local.get("/health").json()["documents"] == 12  # nothing changed
    allowed = local.post("/index/rebuild", params={"allow_removals": "true"})
    assert allowed.status_code == 200 and allowed.json()["removed"] == 8
    assert local.get("/health").json()["documents"] == 4
