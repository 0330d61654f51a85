"""The dense index for a set of unit vectors, chosen by how many there are.

In: float32 unit vectors (n, dim). Out: a FAISS index searched by inner product (= cosine).

Up to `EXACT_MAX` vectors the index is exact (`IndexFlatIP`): a flat scan of that many 384-d
vectors takes a few milliseconds, and nothing is built or stored. Above that a flat scan grows
linearly with the count (docs/performance.md), so the index is HNSW (`IndexHNSWFlat`,
inner product) whose search stays well under a millisecond with recall@10 above 0.95 against
exact search (see `qa bench` scaling). Building HNSW takes minutes at a million vectors, so the
builder stores it next to the vectors (`persist`) and readers load it (`open_index`) instead of
rebuilding it on every load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_MAX = 20_000
DENSE_FILE = "dense.faiss"


@dataclass(frozen=True)
class HnswParams:
    """HNSW graph degree and the candidate-list sizes used while building and searching."""

    m: int = 32
    ef_construction: int = 64
    ef_search: int = 128

    def __post_init__(self) -> None:
        if self.m < 4 or self.ef_construction < self.m or self.ef_search < 10:
            raise ValueError(f"unusable HNSW parameters: {self}")


HNSW = HnswParams()


def choose_kind(n: int, exact_max: int | None = None) -> str:
    """`"flat"` (exact) for up to `exact_max` (default `EXACT_MAX`) vectors, `"hnsw"` above."""
    if n < 0:
        raise ValueError(f"vector count must be >= 0, got {n}")
    return "flat" if n <= (EXACT_MAX if exact_max is None else exact_max) else "hnsw"


def build_index(vectors: np.ndarray, kind: str | None = None, params: HnswParams = HNSW):  # type: ignore[no-untyped-def]
    """A FAISS inner-product index holding `vectors`, of `kind` (default: `choose_kind`)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = kind or choose_kind(n)
    index: faiss.Index
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = params.ef_construction
        index = hnsw
    else:
        raise ValueError(f"unknown index kind {kind!r}; use 'flat' or 'hnsw'")
    if n:
        index.add(vectors)
    _set_search_params(index, params)
    return index


def describe(index) -> str:  # type: ignore[no-untyped-def]
    """A short name of an index built here, for reports: `flat` or `hnsw(M=32,ef=128)`."""
    hnsw = getattr(index, "hnsw", None)
    if hnsw is None:
        return "flat"
    return f"hnsw(M={hnsw.nb_neighbors(1)},ef={hnsw.efSearch})"


def persist(path: Path, vectors: np.ndarray, params: HnswParams = HNSW) -> bool:
    """Build and write the approximate index of `vectors` to `path`; False (nothing written)
    when exact search is chosen for this many vectors."""
    if choose_kind(len(vectors)) == "flat":
        return False
    import faiss

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    faiss.write_index(build_index(vectors, "hnsw", params), str(tmp))
    os.replace(tmp, path)
    return True


def open_index(vectors: np.ndarray, stored: Path | None = None, params: HnswParams = HNSW):  # type: ignore[no-untyped-def]
    """The index for `vectors`: the one stored at `stored` when it matches them, else built."""
    if choose_kind(len(vectors)) != "flat" and stored is not None and stored.is_file():
        import faiss

        try:
            index = faiss.read_index(str(stored))
        except RuntimeError:
            index = None  # damaged or foreign file: rebuild below
        if index is not None and (index.ntotal, index.d) == tuple(vectors.shape):
            _set_search_params(index, params)
            return index
    return build_index(vectors, params=params)


def _set_search_params(index, params: HnswParams) -> None:  # type: ignore[no-untyped-def]
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = params.ef_search
