"""The build helper process (qa/build_helper.py): the same chunks as chunking in process, the
entities only of sentences worth storing, and a clear end when the helper dies."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.build_helper import BuildHelper, to_tag
from qa.chunking import ChunkingOptions, chunk_document
from qa.embedding import token_counter
from qa.short_answer import stored_at_build

TEXTS = [
    "The bridge opened in 1932. It carries six lanes. Engineers inspect it every spring.",
    "A short note without a year.",
]


def test_the_helper_chunks_exactly_as_the_build_would(export) -> None:  # type: ignore[no-untyped-def]
    tokenizer = Path(export.folder) / "tokenizer.json"
    options = ChunkingOptions(max_tokens=16, overlap_sentences=1)
    with BuildHelper() as helper:
        helper.send(TEXTS, options, tokenizer, tag=False)
        pieces = helper.pieces()
        assert helper.entities() is None  # not asked to tag
    count = token_counter(tokenizer)
    assert pieces == [chunk_document(text, count, options) for text in TEXTS]


def test_only_sentences_worth_storing_are_tagged() -> None:
    count = len  # any counter: only the sentence boundaries matter here
    pieces = [chunk_document(text, count) for text in TEXTS]
    wanted = to_tag(TEXTS, pieces)
    assert [n for n, _, _ in wanted] == [0]
    assert all(stored_at_build(sentence) for _, _, sentence in wanted)
    assert wanted[0][2] == "The bridge opened in 1932."


def test_a_helper_that_dies_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(BuildHelper, "command", ("python3", "-c", "import sys; sys.exit(3)"))
    with BuildHelper() as helper:
        helper.send(TEXTS, ChunkingOptions(), tmp_path / "tokenizer.json", tag=False)
        assert helper.pieces() is None


@pytest.mark.parametrize("size", [10, 100_000])  # in the writer's buffer; past the pipe's
def test_leaving_after_the_helper_died_never_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: int
) -> None:
    """The request may still sit in the pipe's buffer, or be on its way, when the block is
    left; closing the pipe to a dead helper must not fail the build (it did once in CI:
    BrokenPipeError from the close)."""
    monkeypatch.setattr(BuildHelper, "command", ("python3", "-c", "import sys; sys.exit(3)"))
    texts = ["word " * size]
    for _ in range(10):
        with BuildHelper() as helper:
            helper.send(texts, ChunkingOptions(), tmp_path / "tokenizer.json", tag=True)
            assert helper.entities() is None
