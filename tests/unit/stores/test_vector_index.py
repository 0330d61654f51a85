"""The dense index choice: exact up to EXACT_MAX vectors, HNSW above, stored by the builder."""

from __future__ import annotations

import numpy as np
import pytest

from qa.indexer import refresh
from qa.stores import vector_index
from qa.stores.faiss_store import FaissStore
from qa.stores.vector_index import (
    DENSE_FILE,
    build_index,
    choose_kind,
    describe,
    open_index,
    persist,
)
from qa.tools.bench import synthetic_vectors


def exact_top(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :k]


def test_choice_is_exact_up_to_the_limit_and_hnsw_above():
    assert choose_kind(0) == "flat"
    assert choose_kind(vector_index.EXACT_MAX) == "flat"
    assert choose_kind(vector_index.EXACT_MAX + 1) == "hnsw"
    assert choose_kind(50, exact_max=10) == "hnsw"
    with pytest.raises(ValueError):
        choose_kind(-1)
    with pytest.raises(ValueError):
        build_index(np.zeros((2, 4), np.float32), "ivf")


def test_flat_index_is_exact():
    base, centers = synthetic_vectors(500, 32, seed=1)
    queries, _ = synthetic_vectors(20, 32, seed=2, centers=centers)
    index = build_index(base)
    assert describe(index) == "flat"
    _, rows = index.search(queries, 5)
    expected = exact_top(base, queries, 5)
    assert (rows[:, 0] == expected[:, 0]).all()
    assert {tuple(sorted(r)) for r in rows} == {tuple(sorted(r)) for r in expected}


def test_hnsw_recall_against_exact_search():
    base, centers = synthetic_vectors(3000, 48, seed=3)
    queries, _ = synthetic_vectors(50, 48, seed=4, centers=centers)
    index = build_index(base, "hnsw")
    assert describe(index).startswith("hnsw(M=32")
    _, rows = index.search(queries, 10)
    truth = exact_top(base, queries, 10)
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth, strict=True)])
    assert recall >= 0.95


def test_persist_writes_only_for_big_corpora_and_open_reuses_it(tmp_path, monkeypatch):
    base, _ = synthetic_vectors(400, 16, seed=5)
    path = tmp_path / DENSE_FILE
    assert not persist(path, base)  # 400 <= EXACT_MAX: exact search, nothing stored
    assert not path.exists()
    monkeypatch.setattr(vector_index, "EXACT_MAX", 100)
    assert persist(path, base)
    index = open_index(base, path)
    assert index.ntotal == 400 and describe(index) == "hnsw(M=32,ef=128)"
    # A stored index for other vectors is not trusted: it is rebuilt from the vectors given.
    fewer = base[:300]
    assert open_index(fewer, path).ntotal == 300
    path.write_bytes(b"not a faiss index")
    assert open_index(base, path).ntotal == 400


def test_store_builds_hnsw_above_the_limit_and_search_finds_the_chunk(
    docs, fake_embedder, tmp_path, monkeypatch
):
    monkeypatch.setattr(vector_index, "EXACT_MAX", 2)
    store = FaissStore(tmp_path / "index")
    refresh(docs, store, fake_embedder)
    snapshot = store.open()
    assert (snapshot.folder / DENSE_FILE).is_file()
    assert describe(snapshot._dense_index).startswith("hnsw")
    row = snapshot.chunk_count // 2
    hits = snapshot.dense_search(snapshot.chunk_vectors[row], 3)
    assert hits[0].chunk_id == snapshot._chunk_ids([row])[0]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_store_keeps_exact_search_for_small_corpora(docs, fake_embedder, tmp_path):
    store = FaissStore(tmp_path / "index")
    refresh(docs, store, fake_embedder)
    snapshot = store.open()
    assert not (snapshot.folder / DENSE_FILE).exists()
    assert describe(snapshot._dense_index) == "flat"
