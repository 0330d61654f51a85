"""A server's builds run in a child process (qa/build_process.py): progress comes back, the
build's errors arrive as themselves, and a child that dies leaves the index in use as it was,
says so on /index/status and /health, and the next build runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.build_process import BuildFailed
from qa.config import Settings
from qa.indexer import Progress, TooManyRemovals
from qa.pipeline import Assistant
from qa.web.service import Service
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder, KillingEmbedder


def child_assistant(tmp_path: Path, embedder: FakeEmbedder) -> Assistant:
    docs = tmp_path / "docs"
    if not docs.exists():
        docs.mkdir()
        shutil.copy(SEEDS / SEED_DOC, docs / SEED_DOC)
    settings = Settings(docs_dir=docs, index_dir=tmp_path / "index")
    return Assistant(settings, embedder=embedder, reload_interval=0.0, build_in_child=True)


def test_a_build_runs_in_a_child_and_its_progress_comes_back(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    assistant = child_assistant(tmp_path, embedder)
    heard: list[Progress] = []
    report = assistant.refresh(on_progress=heard.append)
    assert report.documents == 1 and report.chunks > 1
    assert embedder.encoded == 0  # the documents were encoded in the child, not here
    assert [p.stage for p in heard][:1] == ["reading"] and heard[-1].stage == "writing"
    assert any(p.stage == "embedding" and p.total > 0 for p in heard)
    assert assistant.snapshot().document_count == 1
    assert assistant.ask("When did Luxon take office?").to_dict()["citations"]


def test_the_builds_own_errors_arrive_as_themselves(tmp_path: Path) -> None:
    assistant = child_assistant(tmp_path, FakeEmbedder())
    docs = assistant.settings.docs_dir
    for n in range(7):
        (docs / f"extra{n}.txt").write_text(f"Extra document number {n}.")
    assistant.refresh()
    for n in range(7):
        (docs / f"extra{n}.txt").unlink()
    with pytest.raises(TooManyRemovals) as caught:
        assistant.refresh()
    assert caught.value.counts()["removing"] == 7
    assert assistant.snapshot().document_count == 8


def test_a_killed_build_keeps_the_index_is_reported_and_the_next_build_runs(
    tmp_path: Path,
) -> None:
    assistant = child_assistant(tmp_path, FakeEmbedder())
    assistant.refresh()
    version = assistant.snapshot().version
    (assistant.settings.docs_dir / "new.txt").write_text("A new document about kettles.")
    assistant.embedder = KillingEmbedder()
    with pytest.raises(BuildFailed, match="SIGKILL"):
        assistant.refresh()
    assert assistant.snapshot().version == version
    service = Service(assistant, None)
    service.ready.set()
    with pytest.raises(BuildFailed):
        service.rebuild_in_background().result(60)
    assert "SIGKILL" in service.status()["error"]
    health = service.health()
    assert health["status"] == "ok" and "SIGKILL" in health["error"]
    assistant.embedder = FakeEmbedder()
    report = service.rebuild_in_background().result(60)
    assert report.added == 1 and report.documents == 2
    assert service.status()["error"] is None and service.health()["error"] is None
    assert assistant.snapshot().version != version


def test_a_large_build_stores_entities_tagged_in_its_helper(tmp_path: Path) -> None:
    """A build process has no tagger loaded: for 256 KB or more it tags in a helper process
    (loaded while the files are read); the entities are stored with the generation."""
    assistant = child_assistant(tmp_path, FakeEmbedder())
    text = "".join(f"The bridge number {n} opened in May {1900 + n % 99}.\n\n" for n in range(6000))
    (assistant.settings.docs_dir / "bridges.txt").write_text(text)
    assistant.refresh()
    stored = (assistant.settings.index_dir).glob("gen-*/entities.jsonl")
    lines = [line for path in stored for line in path.read_text().splitlines()]
    assert any('"DATE"' in line for line in lines), lines[:2]
