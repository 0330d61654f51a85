"""The pipeline (qa/pipeline.py): which store a setting opens, and an `Assistant` that brings
its index up to date, answers with verbatim quotes and picks up a newer index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.pipeline import open_store
from qa.stores.faiss_store import FaissStore
from tests.support.fakes import SEED_DOC, FakeEmbedder


def test_the_default_store_is_faiss_in_the_index_folder(tmp_path: Path) -> None:
    store = open_store(Settings(docs_dir=tmp_path, index_dir=tmp_path / "index"))
    assert isinstance(store, FaissStore)


def test_an_unknown_store_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="faiss.*milvus://"):
        open_store(Settings(docs_dir=tmp_path, index_dir=tmp_path, store="redis://x"))


def test_the_assistant_indexes_then_answers_verbatim(docs: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(docs, FakeEmbedder(), threshold=0.0)
    report = assistant.refresh()
    assert report.documents == 1 and report.added == 1
    result = assistant.ask("When did Luxon take office?")
    text = (docs / SEED_DOC).read_text(encoding="utf-8")
    assert result.answered and result.citations
    for citation in result.citations:
        assert text[citation.start : citation.end] == citation.quote
    assert assistant.document(SEED_DOC) is not None and assistant.document("nope.txt") is None


def test_a_bad_question_is_a_value_error(docs: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(docs, FakeEmbedder())
    assistant.refresh()
    with pytest.raises(ValueError):
        assistant.ask("   ")


def test_an_index_rebuilt_elsewhere_is_picked_up(docs: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    serving = make_assistant(docs, FakeEmbedder())
    serving.refresh()
    assert serving.snapshot().document("new.txt") is None
    (docs / "new.txt").write_text("The lighthouse keeper is called Ada. She rows to work.\n")
    make_assistant(docs, FakeEmbedder()).refresh()  # another process's build
    assert serving.snapshot().document("new.txt") is not None
