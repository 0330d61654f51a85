"""The seam between the pipeline and where chunks live: dataclasses and two Protocols.

A `ChunkStore` keeps, per document, its text, sentences and chunks with their vectors, and
applies a batch of changes atomically (`apply`). A `Snapshot` is one committed state of it,
read-only, that answers dense and lexical searches. Chunking, embedding, fusion and answering
only see these types, so a backend (FAISS on disk in `faiss_store.py`, a Milvus server in
`milvus_store.py`) plugs in without touching them. `tests/unit/stores/test_base.py` holds the
tests every backend must pass.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from qa.chunking import ChunkSpan, Span
from qa.layout import DocumentLayout
from qa.short_answer import Entity


class IndexProblem(Exception):
    """Base for index problems; the message is meant for a person."""


class IndexMissing(IndexProblem):
    """No index has been built yet."""


class IndexCorrupt(IndexProblem):
    """The index on disk cannot be read; the next build replaces it."""


class IndexFromAnotherVersion(IndexProblem):
    """The index was written by another major version of the package; the next build
    (`qa index`) replaces it."""


@dataclass(frozen=True)
class DocumentUpdate:
    """A document to (re)write: its text, sentences, chunks and their vectors, row for row."""

    doc_id: str
    title: str
    sha256: str
    text: str
    sentences: list[Span]
    chunks: list[ChunkSpan]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    # Named entities of some sentences (index into `sentences` -> entities), tagged at build
    # time by `entities_model`; a store may keep them or not (they are recomputed on demand).
    entities: dict[int, tuple[Entity, ...]] = field(default_factory=dict)
    entities_model: str | None = None
    # Where each page starts (PDF) and the headings, as `qa.documents.Document` has them.
    pages: tuple[int, ...] = ()
    sections: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        if any(not 0 <= i < len(self.sentences) for i in self.entities):
            raise ValueError(f"{self.doc_id}: entities of a sentence that does not exist")
        if len(self.sentences) != len(self.sentence_vectors):
            raise ValueError(f"{self.doc_id}: sentences and sentence vectors differ in count")
        if len(self.chunks) != len(self.chunk_vectors):
            raise ValueError(f"{self.doc_id}: chunks and chunk vectors differ in count")


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document as the outside world sees it (`GET /documents/{doc_id}`)."""

    doc_id: str
    title: str
    sha256: str
    text: str
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        """The `GET /documents/{doc_id}` object."""
        return asdict(self)


@dataclass(frozen=True)
class StoredSentence:
    """A sentence of a stored chunk, with its offsets into the document and its vector."""

    doc_id: str
    start: int
    end: int
    text: str
    vector: np.ndarray = field(repr=False)
    # Its named entities when the index stored them for the model installed here, else None.
    entities: tuple[Entity, ...] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StoredChunk:
    """A stored chunk with its text and its sentences (in document order)."""

    chunk_id: str
    doc_id: str
    title: str
    start: int
    end: int
    text: str
    sentences: list[StoredSentence]
    vector: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class ScoredChunk:
    """A search hit: which chunk, and the backend's score for it (higher is better)."""

    chunk_id: str
    score: float


@dataclass(frozen=True)
class IndexState:
    """What a refresh must know about the stored index: its model, each document's hash and
    chunk count, the package version that wrote it (None: one from before versions were
    recorded) and the text readers' revisions it was read with (`qa.documents.
    reader_revisions`; None: not recorded, every format at revision 1)."""

    model: str
    dim: int
    hashes: dict[str, str]
    chunks: dict[str, int]
    built_by: str | None = None
    readers: dict[str, int] | None = None


class Snapshot(Protocol):
    """One committed, immutable state of a store."""

    @property
    def version(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def built_by(self) -> str | None:
        """The package version that wrote this state (None: before versions were recorded)."""
        ...

    @property
    def document_count(self) -> int: ...

    @property
    def chunk_count(self) -> int: ...

    @property
    def cache(self) -> dict[str, Any] | None:
        """What this snapshot holds in memory ahead of questions (`/health` shows it), or None
        when everything is local anyway."""
        ...

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]: ...

    def lexical_search(self, query: str, k: int) -> list[ScoredChunk]: ...

    def chunk(self, chunk_id: str) -> StoredChunk: ...

    def document(self, doc_id: str) -> DocumentInfo | None: ...

    def layout(self, doc_id: str) -> DocumentLayout:
        """The document's page starts and headings; empty when unknown (no such document, a
        type without them, or an index written before they were stored)."""
        ...

    def doc_ids(self) -> list[str]: ...


class ChunkStore(Protocol):
    """Where chunks live; every write goes through `apply`, which is all-or-nothing."""

    def state(self) -> IndexState | None:
        """The stored model and document hashes, or None when nothing is stored.

        Raises IndexCorrupt when the stored state cannot be read."""
        ...

    def version(self) -> str | None:
        """A cheap token that changes whenever a new state is committed (None: empty)."""
        ...

    def open(self) -> Snapshot:
        """The current committed state. Raises IndexMissing or IndexCorrupt."""
        ...

    def apply(
        self,
        model: str,
        dim: int,
        updates: list[DocumentUpdate],
        deletes: list[str],
        reset: bool = False,
    ) -> None:
        """Write `updates`, drop `deletes` (and everything else when `reset`), atomically,
        recording this package's version (`qa.version`) as the writer of the new state and
        the text readers' revisions (`qa.documents.reader_revisions`: the indexer re-reads
        every document whose reader changed in the same refresh)."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """Held by a builder for a whole refresh, so two builds never interleave."""
        ...
