"""The Python API (`qa.Assistant`): open, ask, ask_many, refresh, documents, close, and the
index-version rule, with the fake embedder (docs/python-api.md's examples run the real model
in tests/system/test_docs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qa
import qa.pipeline
import qa.stores.faiss_store
from qa.assistant import Assistant, ReadOnlyStore
from qa.config import Settings
from qa.indexer import Progress, TooManyRemovals, refresh
from qa.stores.base import IndexFromAnotherVersion, IndexMissing
from qa.stores.faiss_store import FaissStore
from qa.version import major
from tests.support.fakes import SEED_DOC, FakeEmbedder

SHARED = "milvus://localhost:19530/docs"  # only its name is used: the store object is FAISS


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        qa.pipeline, "SentenceTransformerEmbedder", lambda name, **options: FakeEmbedder()
    )
    for name in ("QA_DOCS_DIR", "QA_INDEX_DIR", "QA_STORE"):
        monkeypatch.delenv(name, raising=False)


def opened(docs: Path, index: Path, **options) -> Assistant:  # type: ignore[no-untyped-def]
    return Assistant.open(docs, index=index, **options)


def manifest(index: Path) -> dict:
    live = (index / "CURRENT").read_text().strip()
    return json.loads((index / live / "manifest.json").read_text())


def test_the_api_is_importable_from_qa_and_lazy() -> None:
    assert qa.Assistant is Assistant
    assert {"Assistant", "Answer", "IndexReport", "DocumentInfo", "Progress"} <= set(qa.__all__)
    assert set(qa.__all__) == set(qa._EXPORTS)
    for name in qa.__all__:
        assert getattr(qa, name) is not None
    with pytest.raises(AttributeError):
        _ = qa.NoSuchThing  # type: ignore[attr-defined]


def test_open_builds_the_index_and_ask_answers_verbatim(docs: Path, tmp_path: Path) -> None:
    with opened(docs, tmp_path / "index") as assistant:
        assert assistant.last_report is not None and assistant.last_report.added == 1
        answer = assistant.ask("What will Japan and New Zealand share?")
    assert isinstance(answer, qa.Answer)
    assert answer.outcome in {"answer", "candidates"} and answer.citations
    text = (docs / SEED_DOC).read_text()
    for citation in answer.citations:
        assert text[citation.start : citation.end] == citation.quote
    body = answer.to_dict()
    assert body["question"] == "What will Japan and New Zealand share?"
    assert json.loads(json.dumps(body)) == body  # plain JSON, as `qa ask --json` prints


def test_open_refreshes_the_folder_each_time(docs: Path, tmp_path: Path) -> None:
    opened(docs, tmp_path / "index").close()
    (docs / "kiwi.md").write_text("# Kiwi\n\nThe kiwi is a flightless bird of New Zealand.\n")
    with opened(docs, tmp_path / "index") as assistant:
        assert assistant.last_report is not None
        assert (assistant.last_report.added, assistant.last_report.unchanged) == (1, 1)
        assert [d.doc_id for d in assistant.documents()] == sorted([SEED_DOC, "kiwi.md"])


def test_open_without_refresh_uses_the_index_as_it_is(docs: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="qa index"):
        opened(docs, tmp_path / "index", refresh=False)
    opened(docs, tmp_path / "index").close()
    (docs / "kiwi.md").write_text("# Kiwi\n\nThe kiwi is a flightless bird.\n")
    with opened(docs, tmp_path / "index", refresh=False) as assistant:
        assert assistant.last_report is None
        assert [d.doc_id for d in assistant.documents()] == [SEED_DOC]


def test_bad_questions_and_top_k_are_value_errors(docs: Path, tmp_path: Path) -> None:
    with opened(docs, tmp_path / "index") as assistant:
        for question in ("", "   ", "x" * 1001):
            with pytest.raises(ValueError, match="question"):
                assistant.ask(question)
        for top_k in (0, 21, True, "5", 2.0):
            with pytest.raises(ValueError, match="top_k"):
                assistant.ask("Who is Luxon?", top_k)  # type: ignore[arg-type]
        assert len(assistant.ask("Who is Luxon?", top_k=1).passages) <= 1


def test_ask_many_gives_what_ask_gives_in_order(docs: Path, tmp_path: Path) -> None:
    questions = ["Who is Luxon?", "What will Japan and New Zealand share?", "kiwi eggs?"]
    with opened(docs, tmp_path / "index") as assistant:
        many = assistant.ask_many(iter(questions), top_k=3)
        one_by_one = [assistant.ask(q, top_k=3) for q in questions]
        assert assistant.ask_many([]) == []
    strip = [{**a.to_dict(), "took_ms": 0} for a in many]
    assert strip == [{**a.to_dict(), "took_ms": 0} for a in one_by_one]
    assert [a.question for a in many] == questions


def test_ask_many_checks_every_question_first(docs: Path, tmp_path: Path) -> None:
    with opened(docs, tmp_path / "index") as assistant:
        with pytest.raises(ValueError, match="question 2: question is empty"):
            assistant.ask_many(["Who is Luxon?", " ", "x"])
        with pytest.raises(TypeError, match="ask\\(\\)"):
            assistant.ask_many("Who is Luxon?")


def test_refresh_reports_progress_and_the_index_contract(docs: Path, tmp_path: Path) -> None:
    heard: list[Progress] = []
    with opened(docs, tmp_path / "index") as assistant:
        (docs / "kiwi.md").write_text("# Kiwi\n\nKiwis live only in New Zealand.\n")
        report = assistant.refresh(progress=heard.append)
        answer = assistant.ask("Where do kiwis live?")
    assert (report.added, report.unchanged, report.documents) == (1, 1, 2)
    assert {"documents", "added", "updated", "removed", "unchanged", "chunks", "embedded",
            "skipped", "seconds"} <= set(report.to_dict())  # fmt: skip
    stages = [p.stage for p in heard]
    assert stages[0] == "reading" and stages[-1] == "writing"
    assert {"chunking", "embedding"} <= set(stages)
    assert any(c.doc_id == "kiwi.md" for c in answer.citations)


def test_refresh_guards_against_removing_most_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(8):
        (docs / f"d{n}.txt").write_text(f"Document number {n} talks about topic {n}.\n")
    with opened(docs, tmp_path / "index") as assistant:
        for n in range(1, 8):
            (docs / f"d{n}.txt").unlink()
        with pytest.raises(TooManyRemovals):
            assistant.refresh()
        assert len(assistant.documents()) == 8
        assert assistant.refresh(allow_removals=True).removed == 7
        assert [d.doc_id for d in assistant.documents()] == ["d0.txt"]


def test_documents_are_the_document_contract_objects(docs: Path, tmp_path: Path) -> None:
    with opened(docs, tmp_path / "index") as assistant:
        (info,) = assistant.documents()
    assert isinstance(info, qa.DocumentInfo)
    assert info.to_dict() == {
        "doc_id": SEED_DOC, "title": info.title, "sha256": info.sha256,
        "text": (docs / SEED_DOC).read_text(), "chunks": info.chunks,
    }  # fmt: skip
    assert info.chunks > 0 and len(info.sha256) == 64


def test_a_closed_assistant_refuses_work(docs: Path, tmp_path: Path) -> None:
    with opened(docs, tmp_path / "index") as assistant:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        assistant.ask("Who is Luxon?")
    assistant.close()  # twice is fine


def test_a_missing_docs_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(qa.DocsFolderError, match="does not exist"):
        opened(tmp_path / "nowhere", tmp_path / "index")


def shared(docs: Path, index: Path, docs_given: bool) -> Assistant:
    """An assistant whose settings name a shared store (the store itself is FAISS)."""
    settings = Settings(docs_dir=docs, index_dir=index, store=SHARED, docs_given=docs_given)
    return Assistant.from_settings(settings, embedder=FakeEmbedder(), store=FaissStore(index))


def test_a_shared_store_without_docs_only_answers(docs: Path, tmp_path: Path) -> None:
    shared(docs, tmp_path / "index", docs_given=True).close()  # built by a builder
    (docs / "kiwi.md").write_text("Kiwis live only in New Zealand.\n")
    with shared(docs, tmp_path / "index", docs_given=False) as assistant:
        assert not assistant.builder and assistant.last_report is None
        assert [d.doc_id for d in assistant.documents()] == [SEED_DOC]
        with pytest.raises(ReadOnlyStore, match="never writes"):
            assistant.refresh()
        assert assistant.ask("Who is Luxon?").question == "Who is Luxon?"


def built_by(monkeypatch: pytest.MonkeyPatch, version: str, docs: Path, index: Path) -> None:
    """Build `index` as package version `version` would."""
    with monkeypatch.context() as patch:
        patch.setattr(qa.stores.faiss_store, "package_version", lambda: version)
        refresh(docs, FaissStore(index), FakeEmbedder())


def test_an_index_of_another_major_version_is_rebuilt(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    built_by(monkeypatch, "99.0.0", docs, index)
    assert manifest(index)["qa_version"] == "99.0.0"
    with opened(docs, index) as assistant:
        report = assistant.last_report
        assert report is not None and report.rebuilt
        assert "another major version" in report.reason and report.embedded > 0
        assert assistant.ask("Who is Luxon?").passages
    assert manifest(index)["qa_version"] == qa.__version__


def test_an_index_of_the_same_major_version_is_kept(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    same_major = f"{major(qa.__version__)}.999.0"
    built_by(monkeypatch, same_major, docs, index)
    with opened(docs, index) as assistant:
        assert assistant.last_report is not None
        assert (assistant.last_report.rebuilt, assistant.last_report.embedded) == (False, 0)


def test_answering_only_from_another_major_version_says_to_rebuild(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    built_by(monkeypatch, "99.0.0", docs, index)
    with pytest.raises(IndexFromAnotherVersion, match="qa index --docs DIR --store milvus://"):
        shared(docs, index, docs_given=False)
    with pytest.raises(IndexFromAnotherVersion, match=f"qa index --index {index}"):
        opened(docs, index, refresh=False)
    assert manifest(index)["qa_version"] == "99.0.0"  # never written by an answering process
