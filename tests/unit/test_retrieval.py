"""Fusion of dense and BM25 results: no score normalization, missing hits keep their credit."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest

from qa.indexer import refresh
from qa.retrieval import RetrievalOptions, retrieve, rrf
from qa.stores.base import ScoredChunk, StoredChunk
from qa.stores.faiss_store import FaissStore
from tests.support.fakes import FakeEmbedder


class ListSnapshot:
    """A snapshot whose searches return fixed rankings."""

    def __init__(self, dense: list[str], lexical: list[str]) -> None:
        self._dense, self._lexical = dense, lexical

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]:
        return [ScoredChunk(c, 1.0 - i / 10) for i, c in enumerate(self._dense[:k])]

    def lexical_search(self, query: str, k: int) -> list[ScoredChunk]:
        return [ScoredChunk(c, 10.0 - i) for i, c in enumerate(self._lexical[:k])]

    def chunk(self, chunk_id: str) -> StoredChunk:
        return StoredChunk(chunk_id, "d", "D", 0, 1, "x", [], np.zeros(2, dtype=np.float32))


def test_a_passage_found_by_one_search_only_keeps_its_credit() -> None:
    snapshot = ListSnapshot(dense=["a", "b"], lexical=["c", "b"])
    passages = retrieve(snapshot, "q", np.zeros(2), 3, RetrievalOptions(rrf_k=10))  # type: ignore[arg-type]
    assert [p.chunk.chunk_id for p in passages] == ["b", "a", "c"]
    only_dense = passages[1]
    assert only_dense.score == pytest.approx(1 / 11) and only_dense.lexical_rank is None
    assert [p.rank for p in passages] == [1, 2, 3]
    assert passages[0].dense_rank == 2 and passages[0].lexical_rank == 2


def test_weights_shift_the_fusion() -> None:
    snapshot = ListSnapshot(dense=["a"], lexical=["c"])
    options = RetrievalOptions(dense_weight=1.0, lexical_weight=2.0)
    passages = retrieve(snapshot, "q", np.zeros(2), 2, options)  # type: ignore[arg-type]
    assert passages[0].chunk.chunk_id == "c"


def test_rrf_of_an_empty_list_adds_nothing() -> None:
    assert rrf([[], ["x"]], [1.0, 1.0], 60) == {"x": pytest.approx(1 / 61)}


@pytest.mark.parametrize(
    "kwargs",
    [{"candidates": 0}, {"rrf_k": 0}, {"dense_weight": -1}, {"rerank": 0}],
)
def test_options_are_checked(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RetrievalOptions(**kwargs)


def _build(folder: Path, store: FaissStore, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("kiwi", "moa"):
        text = " ".join(f"The {name} {tag} fact number {j} is about birds." for j in range(40))
        (folder / f"{name}.txt").write_text(text)
    refresh(folder, store, FakeEmbedder())


def test_snapshot_chunks_are_built_once_and_never_shared_between_snapshots(tmp_path) -> None:
    store = FaissStore(tmp_path / "index")
    _build(tmp_path / "docs", store, "old")
    old = store.open()
    first = old.chunk("kiwi.txt#1")
    assert old.chunk("kiwi.txt#1") is first  # built once, then reused
    _build(tmp_path / "docs", store, "new")  # same ids, same offsets, other text
    new = store.open()
    assert "new fact" in new.chunk("kiwi.txt#1").text
    assert old.chunk("kiwi.txt#1").text == first.text and "old fact" in first.text
    for snap in (old, new):
        text = snap.document("kiwi.txt").text  # type: ignore[union-attr]
        chunk = snap.chunk("kiwi.txt#1")
        assert chunk.text == text[chunk.start : chunk.end]
        assert all(s.text == text[s.start : s.end] for s in chunk.sentences)


def test_search_hits_name_the_chunks_they_found(tmp_path) -> None:
    store = FaissStore(tmp_path / "index")
    _build(tmp_path / "docs", store, "v1")
    snap = store.open()
    vector = FakeEmbedder().encode_query("moa fact number 7")
    passages = retrieve(snap, "moa fact number 7", vector, 5)
    assert passages and all(
        p.chunk.chunk_id.startswith(("moa.txt#", "kiwi.txt#")) for p in passages
    )
    hits = snap.dense_search(vector, 3) + snap.lexical_search("moa", 3)
    for hit in hits:
        assert snap.chunk(hit.chunk_id).chunk_id == hit.chunk_id
        assert type(hit.score) is float
    assert {snap.chunk(h.chunk_id).doc_id for h in snap.lexical_search("moa", 3)} == {"moa.txt"}


def test_a_replaced_snapshot_is_freed_without_waiting_for_the_garbage_collector(tmp_path) -> None:
    store = FaissStore(tmp_path / "index")
    _build(tmp_path / "docs", store, "v1")
    snap = store.open()
    snap.chunk("kiwi.txt#0")  # fills its chunk cache
    gone = weakref.ref(snap)
    gc.disable()
    try:
        del snap
        assert gone() is None  # no reference cycle through the cache
    finally:
        gc.enable()
