"""Fusion of dense and BM25 results: no score normalization, missing hits keep their credit."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieval import RetrievalOptions, retrieve, rrf
from qa.store import ScoredChunk, StoredChunk


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
