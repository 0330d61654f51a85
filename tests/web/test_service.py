"""The index's life in a server (qa/web/service.py): answer workers, readiness, rebuilds taking
turns, --watch, a damaged or missing index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import qa.indexer
import qa.pipeline
from qa.config import Settings
from qa.indexer import refresh
from qa.pipeline import Assistant
from qa.web.app import create_app
from qa.web.service import default_answer_workers
from tests.support.fakes import ROOT, SEED_DOC, FakeEmbedder
from tests.support.web import (
    DAMAGES,
    LOCAL,
    QUESTION,
    damage_index,
    serve,
    wait_until,
)


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
    app = create_app(assistant, answer_workers=2)
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


def test_questions_before_the_index_is_ready_get_a_503(assistant: Assistant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()
    original = assistant.refresh

    def slow_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(assistant, "refresh", slow_refresh)
    with TestClient(create_app(assistant)) as client:
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
    app = create_app(make_assistant(tmp_path / "nowhere", FakeEmbedder()))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/health").json()["status"] == "error")
        health = client.get("/health")
        assert health.status_code == 503 and "does not exist" in health.json()["error"]
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "does not exist" in response.json()["detail"]


def test_a_missing_index_is_a_503(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_assistant(folder, FakeEmbedder()), build_on_start=False)
    with TestClient(app) as client:
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "index" in response.json()["detail"].lower()


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

    monkeypatch.setattr(qa.indexer, "refresh", slow_refresh)
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
    with serve(create_app(serving)) as client:
        (folder / "new.txt").write_text("The harbour bridge opened in 1932 after eight years.")
        other = Assistant(settings, embedder=FakeEmbedder())
        refresh(folder, other.store, other.embedder)
        changed = time.monotonic()
        wait_until(lambda: client.get("/documents/new.txt").status_code == 200, timeout=5)
        assert time.monotonic() - changed < 2.5
        assert client.get("/health").json()["documents"] == 3


def test_watch_rebuilds_after_the_docs_folder_changes(assistant: Assistant, folder: Path) -> None:
    app = create_app(assistant, watch=True)
    with serve(app) as client:
        time.sleep(0.3)  # let the watcher start
        (folder / "watched.txt").write_text("Kiwis cannot fly, but they run fast at night.")
        wait_until(lambda: client.get("/documents/watched.txt").status_code == 200, timeout=15)
        (folder / "watched.txt").unlink()
        wait_until(lambda: client.get("/documents/watched.txt").status_code == 404, timeout=15)
    watchers = [t for t in threading.enumerate() if t.name == "qa-watch"]
    assert not watchers, "the watcher stops on shutdown"


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
    app = create_app(serving, build_on_start=False)
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
    with TestClient(create_app(serving, build_on_start=False)) as client:
        response = client.get("/ask", params={"q": QUESTION})
        assert response.status_code == 503 and "damaged" in response.json()["detail"]
        result = subprocess.run(
            [sys.executable, "-m", "tests.support.build_worker", str(folder),
             str(tmp_path / "index")],
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
    app = create_app(Assistant(gone, embedder=FakeEmbedder()))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/health").json()["status"] == "error")
        detail = client.get("/ask", params={"q": QUESTION}).json()["detail"]
        assert "does not exist" in detail and "damaged" in detail and "qa index" in detail


def test_watch_logs_and_skips_a_change_that_removes_most_documents(
    assistant: Assistant, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = [folder / f"note{n:02d}.txt" for n in range(10)]
    for n, path in enumerate(notes):
        path.write_text(f"Note {n}\n\nThe number {n} is written here.")
    app = create_app(assistant, watch=True)
    with serve(app) as client:
        assert client.get("/health").json()["documents"] == 12
        time.sleep(0.3)  # let the watcher start
        for path in notes[:8]:
            path.unlink()
        wait_until(lambda: "change skipped" in caplog.text, timeout=15)
        assert "refusing to remove 8 of the 12" in caplog.text
        assert client.get("/health").json()["documents"] == 12
