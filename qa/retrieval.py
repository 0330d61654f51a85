"""Find the passages most likely to hold the answer: dense and BM25 search, fused by RRF.

In: a `Snapshot`, a question and its vector. Out: `Passage`s, best first, each with its fused
score and the ranks it had in each list. Reciprocal rank fusion (score = sum of
weight / (k + rank)) needs no score normalization, so a passage found by only one of the two
searches keeps its full credit from that one instead of being zeroed by a min-max scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.stores.base import ScoredChunk, Snapshot, StoredChunk


@dataclass(frozen=True)
class RetrievalOptions:
    """How many candidates each search returns, how they are weighted in the fusion, and how
    many fused passages the answerer reads (it re-orders them by their best sentence)."""

    candidates: int = 50
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rerank: int = 20

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")
        if self.rrf_k <= 0:
            raise ValueError(f"rrf_k must be > 0, got {self.rrf_k}")
        if self.rerank < 1:
            raise ValueError(f"rerank must be >= 1, got {self.rerank}")
        if self.dense_weight < 0 or self.lexical_weight < 0:
            raise ValueError("fusion weights must be >= 0")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and its rank in each search (None: not found)."""

    chunk: StoredChunk
    score: float
    rank: int
    dense_score: float | None
    dense_rank: int | None
    lexical_rank: int | None


def rrf(rankings: list[list[str]], weights: list[float], k: float) -> dict[str, float]:
    """Reciprocal rank fusion of ranked id lists: id -> sum of weight / (k + rank), rank from 1."""
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def retrieve(
    snapshot: Snapshot,
    question: str,
    vector: np.ndarray,
    top_k: int,
    options: RetrievalOptions = RetrievalOptions(),
) -> list[Passage]:
    """The `top_k` best passages for `question` (whose embedding is `vector`), best first."""
    depth = max(options.candidates, top_k)
    dense, lexical = _search(snapshot, question, vector, depth, options)
    dense_ids = [hit.chunk_id for hit in dense]
    lexical_ids = [hit.chunk_id for hit in lexical]
    fused = rrf(
        [dense_ids, lexical_ids], [options.dense_weight, options.lexical_weight], options.rrf_k
    )
    dense_scores = {hit.chunk_id: hit.score for hit in dense}
    dense_rank = {cid: i for i, cid in enumerate(dense_ids, start=1)}
    lexical_rank = {cid: i for i, cid in enumerate(lexical_ids, start=1)}
    best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:top_k]
    return [
        Passage(chunk, fused[cid], rank, dense_scores.get(cid),
                dense_rank.get(cid), lexical_rank.get(cid))
        for rank, (cid, chunk) in enumerate(zip(best, _chunks(snapshot, best), strict=True), 1)
    ]  # fmt: skip


def _search(
    snapshot: Snapshot, question: str, vector: np.ndarray, depth: int, options: RetrievalOptions
) -> tuple[list[ScoredChunk], list[ScoredChunk]]:
    """(dense hits, lexical hits), `depth` each; a search whose weight is 0 is not run. A
    snapshot with `search_both` (a server-backed store) runs the two at once."""
    use_dense, use_lexical = options.dense_weight > 0, options.lexical_weight > 0
    both = getattr(snapshot, "search_both", None)
    if both is not None and use_dense and use_lexical:
        dense, lexical = both(vector, question, depth)
        return dense, lexical
    dense = snapshot.dense_search(vector, depth) if use_dense else []
    lexical = snapshot.lexical_search(question, depth) if use_lexical else []
    return dense, lexical


def _chunks(snapshot: Snapshot, chunk_ids: list[str]) -> list[StoredChunk]:
    """The chunks `chunk_ids`, through the snapshot's batched `chunks()` when it has one (one
    round trip to a server for all of them) or `chunk()` one by one."""
    batched = getattr(snapshot, "chunks", None)
    if batched is not None:
        chunks: list[StoredChunk] = batched(chunk_ids)
        return chunks
    return [snapshot.chunk(cid) for cid in chunk_ids]
