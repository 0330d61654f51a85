"""SIGTERM to a real `qa serve`: during a question, during a rebuild request, and while a new
index generation is being written. The process must exit promptly, the request in flight must
finish or get a clean 503, and the previous index must stay live and whole; a half-written
generation is never loaded and the next build removes it.

The server is `python -m tests.support.serve_worker` (the real CLI and pipeline, the fake embedder),
slowed down where a test needs to land the signal inside a step (see that module).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa.indexer import refresh
from qa.stores.faiss_store import FaissStore
from tests.support.build_worker import run_build
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder
from tests.support.live_server import LiveServer, start_server

EXIT_WITHIN = 10.0  # seconds from SIGTERM to a finished process
QUESTION = "When did Luxon take office?"


def make_docs(folder: Path, count: int, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    for i in range(count):
        sentences = (f"Document {i} {tag} sentence {j} mentions topic{i % 7}." for j in range(30))
        text = " ".join(sentences)
        (folder / f"doc{i:03d}.txt").write_text(text)


def indexed(tmp_path: Path, count: int = 30) -> tuple[Path, Path, str]:
    """A docs folder (tag v1) and its index, built in this process; returns its version."""
    docs, index = tmp_path / "docs", tmp_path / "index"
    make_docs(docs, count, "v1")
    store = FaissStore(index)
    refresh(docs, store, FakeEmbedder())
    return docs, index, str(store.version())


def terminate(server: LiveServer) -> float:
    """SIGTERM, then wait for the exit; returns the seconds it took."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(EXIT_WITHIN * 2)
    except subprocess.TimeoutExpired:
        server.process.kill()
        pytest.fail(f"qa serve still running {EXIT_WITHIN * 2:.0f} s after SIGTERM")
    took = time.monotonic() - started
    print(f"exited {took:.2f} s after SIGTERM with status {server.process.returncode}")
    return took


def in_thread(call, results: list) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run `call()` in a thread, appending its result or exception to `results`."""

    def run() -> None:
        try:
            results.append(call())
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def assert_previous_index_is_live(index: Path, version: str, count: int) -> None:
    store = FaissStore(index)
    assert store.version() == version
    snapshot = store.open()  # loads completely: sizes and checksums verified
    assert snapshot.document_count == count + 1
    assert "v1" in snapshot.document("doc000.txt").text


def test_sigterm_during_a_question_lets_it_finish_and_exits_promptly(tmp_path: Path) -> None:
    docs, index, version = indexed(tmp_path)
    server = start_server(docs, index, env={"QA_FAKE_QUERY_DELAY": "1.5", "QA_THRESHOLD": "0.05"})
    results: list = []
    asking = in_thread(
        lambda: httpx.get(server.url + "/ask", params={"q": QUESTION}, timeout=30), results
    )
    time.sleep(0.5)  # the question is being answered (it takes 1.5 s)
    took = terminate(server)
    asking.join(30)
    assert took < EXIT_WITHIN, f"exit took {took:.1f} s"
    response = results[0]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200 and response.json()["citations"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=2)
    log = server.log()
    assert "Traceback" not in log, log
    assert_previous_index_is_live(index, version, 30)


def test_sigterm_during_a_rebuild_request_answers_503_and_keeps_the_index(tmp_path: Path) -> None:
    docs, index, version = indexed(tmp_path)
    # Nothing changed, so the first build embeds nothing; the rebuild below takes a minute.
    server = start_server(docs, index, env={"QA_FAKE_BUILD_DELAY": "60"})
    make_docs(docs, 40, "v2")
    results: list = []
    rebuilding = in_thread(lambda: httpx.post(server.url + "/index/rebuild", timeout=60), results)
    deadline = time.monotonic() + 20
    while not httpx.get(server.url + "/health", timeout=5).json()["rebuilding"]:
        assert time.monotonic() < deadline, "the rebuild never started"
        time.sleep(0.1)
    took = terminate(server)
    rebuilding.join(30)
    assert took < EXIT_WITHIN, f"exit took {took:.1f} s"
    response = results[0]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 503, response.text
    assert "shutting down" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert_previous_index_is_live(index, version, 30)
    report = run_build(docs, index)
    assert report["documents"] == 41 and report["added"] == 10
    assert not list(index.glob("gen-*.tmp-*"))


@pytest.mark.parametrize("after", [0.1, 4.5])
def test_sigterm_while_a_generation_is_written_leaves_a_whole_index(
    tmp_path: Path, after: float
) -> None:
    """SIGTERM `after` seconds into writing a generation (six files flushed, 1 s each; the
    shutdown waits up to 2 s for the build): the index left is the previous one, or the new
    one complete, never anything in between."""
    docs, index, version = indexed(tmp_path)
    make_docs(docs, 30, "v2")  # every document changed: the first build writes a generation
    server = start_server(docs, index, ready="", env={"QA_FAKE_WRITE_DELAY": "1.0"})
    deadline = time.monotonic() + 30
    while not list(index.glob("gen-*.tmp-*")):
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.02)
    time.sleep(after)
    took = terminate(server)
    assert took < EXIT_WITHIN, f"exit took {took:.1f} s"
    assert "Traceback" not in server.log(), server.log()
    store = FaissStore(index)
    if after < 1.0:  # far from the end of the write: certainly cut short
        assert_previous_index_is_live(index, version, 30)
    else:
        snapshot = store.open()  # whichever is live loads completely
        tag = "v1" if store.version() == version else "v2"
        assert tag in snapshot.document("doc000.txt").text
    # The next build removes a half-written generation even when it has nothing to write.
    make_docs(docs, 30, "v1")
    report = run_build(docs, index)
    assert report["documents"] == 31
    assert not list(index.glob("gen-*.tmp-*")), "a half-written generation was left behind"
    make_docs(docs, 30, "v2")
    assert run_build(docs, index)["updated"] == 30
    assert "v2" in FaissStore(index).open().document("doc000.txt").text
