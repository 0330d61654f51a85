"""The default `ChunkStore`: FAISS and a few plain files in an index folder.

Layout of `--index DIR`:

    CURRENT          name of the live generation (replaced atomically with os.replace)
    gen-000007/      one complete generation:
        manifest.json        model, dim, the package version that wrote it (qa_version),
                             the text readers' revisions (readers: {".pdf": 2, ...}),
                             documents (id, title, sha256, counts, and when known `pages`:
                             page starts, `sections`: [offset, heading] pairs), file sizes
        texts.jsonl          one JSON string per document: its plain text
        sentences.npy        int64 rows (doc, start, end)
        chunks.npy           int64 rows (doc, start, end, first sentence, last sentence)
        sentence_vectors.npy float32, one unit vector per sentence row
        chunk_vectors.npy    float32, one unit vector per chunk row
        entities.jsonl       one JSON object per document: the tagger that ran, and the named
                             entities of the sentences it tagged (absent in older generations)
    .lock            held by a builder for a whole refresh

A write builds a new generation in `gen-N.tmp-PID`, fsyncs it, renames it to `gen-N` and only
then points CURRENT at it: a crash at any moment leaves CURRENT on a complete generation.
Unchanged documents are copied over with their stored vectors. Leftover `.tmp-*` folders from
crashed builds are removed by the next build; the previous generation is kept one round so a
reader that is still loading it never finds it gone.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path

import numpy as np

from qa.documents import reader_revisions
from qa.layout import NO_LAYOUT, DocumentLayout, layout_from_json
from qa.short_answer import Entity, ner_model_id
from qa.stores.base import (
    DocumentInfo,
    DocumentUpdate,
    IndexCorrupt,
    IndexMissing,
    IndexState,
    ScoredChunk,
    StoredChunk,
    StoredSentence,
)
from qa.stores.vector_index import DENSE_FILE
from qa.stores.vector_index import open_index as open_dense_index
from qa.stores.vector_index import persist as persist_dense
from qa.version import package_version

FORMAT = 2
CHUNK_CACHE = 4096  # chunks a snapshot keeps built (a few KB each; lru_cache is thread-safe)
_FILES = ("texts.jsonl", "sentences.npy", "chunks.npy", "sentence_vectors.npy", "chunk_vectors.npy")
ENTITIES = "entities.jsonl"  # optional: generations written before it existed have none


def _files(manifest: dict) -> tuple[str, ...]:
    """The data files of a generation: `_FILES`, and ENTITIES when its manifest lists it."""
    sizes = manifest.get("sizes") if isinstance(manifest, dict) else None
    return (*_FILES, ENTITIES) if isinstance(sizes, dict) and ENTITIES in sizes else _FILES


# A document's stored entities: the tagger's id and sentence index (within the document) ->
# entities. Kept as stored, and used for answers only while the tagger installed is the same.
DocEntities = tuple[str | None, dict[int, tuple[Entity, ...]]]


@dataclass(frozen=True)
class _DocEntry:
    doc_id: str
    title: str
    sha256: str
    chunk_lo: int
    chunk_hi: int
    sentence_lo: int
    sentence_hi: int
    layout: DocumentLayout = NO_LAYOUT


class FaissStore:
    """A `ChunkStore` in a folder; see the module docstring for the layout."""

    def __init__(self, path: Path, lock_timeout: float = 600.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    # --- reading -----------------------------------------------------------------------------

    def version(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8
            raise IndexCorrupt(
                f"cannot read {self.path / 'CURRENT'} ({exc}); run `qa index` to rebuild it"
            ) from exc

    def _live(self) -> Path:
        generation = self.version()
        if generation is None:
            raise IndexMissing(f"no index in {self.path} yet; build it with `qa index`")
        live = self.path / generation
        if not live.is_dir():
            raise IndexCorrupt(
                f"index generation {generation} named in {self.path / 'CURRENT'} is missing; "
                "run `qa index` to rebuild it"
            )
        return live

    def _manifest(self, live: Path) -> dict:
        try:
            manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(
                f"index manifest {live / 'manifest.json'} is unreadable ({exc}); "
                "run `qa index` to rebuild it"
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise IndexCorrupt(f"index in {live} has an unknown format; rebuild it with `qa index`")
        return manifest

    def state(self) -> IndexState | None:
        if self.version() is None:
            return None
        live = self._live()
        manifest = self._manifest(live)
        _verify_files(live, manifest)
        try:
            docs = manifest["documents"]
            hashes = {d["doc_id"]: d["sha256"] for d in docs}
            chunks = {d["doc_id"]: int(d["chunks"]) for d in docs}
            model, dim = str(manifest["model"]), int(manifest["dim"])
            readers = manifest.get("readers")
            return IndexState(
                model,
                dim,
                hashes,
                chunks,
                _built_by(manifest),
                {str(k): int(v) for k, v in readers.items()} if readers else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorrupt(f"index manifest in {self.path} is incomplete: {exc}") from exc

    def open(self) -> FaissSnapshot:
        live = self._live()
        return FaissSnapshot.load(live, self._manifest(live))

    # --- writing -----------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / ".lock"))
        try:
            lock.acquire(timeout=0.05)
        except Timeout:
            print(
                f"waiting for another build of {self.path} to finish...",
                flush=True,
                file=__import__("sys").stderr,
            )
            try:
                lock.acquire(timeout=self.lock_timeout)
            except Timeout as exc:
                raise IndexCorrupt(
                    f"another build of {self.path} has held its lock for over "
                    f"{self.lock_timeout:.0f} s; try again when it finishes"
                ) from exc
        try:
            # Holding the lock, no one else is writing: any half-written generation is left
            # over from a build that was killed, even when this build will write nothing.
            self._remove_leftovers()
            yield
        finally:
            lock.release()

    def apply(
        self,
        model: str,
        dim: int,
        updates: list[DocumentUpdate],
        deletes: list[str],
        reset: bool = False,
    ) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        base = None if reset or self.version() is None else self.open()
        if base is not None and (base.model != model or base.dim != dim):
            raise ValueError(
                f"index holds model {base.model!r} ({base.dim}-d); a change to {model!r} "
                f"({dim}-d) needs reset=True"
            )
        replaced = {u.doc_id for u in updates} | set(deletes)
        parts = [] if base is None else [
            _Part.from_stored(base, d) for d in base.entries if d.doc_id not in replaced
        ]  # fmt: skip
        parts += [_Part.from_update(u) for u in updates]
        parts.sort(key=lambda p: p.doc_id)
        number = self._next_generation_number()
        final = self.path / f"gen-{number:06d}"
        tmp = self.path / f"{final.name}.tmp-{os.getpid()}"
        try:  # the mkdir too: a SIGTERM just after it must not leave the folder behind
            tmp.mkdir()
            _write_generation(tmp, model, dim, parts)
        except BaseException:  # includes Ctrl-C and SIGTERM (`qa.cli`): leave nothing behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.rename(tmp, final)
        _fsync_dir(self.path)
        _atomic_write(self.path / "CURRENT", final.name + "\n")
        self._remove_old(keep={final.name, base.generation if base else ""})

    def _next_generation_number(self) -> int:
        numbers = [0]
        for child in self.path.glob("gen-*"):
            digits = child.name[4:10]
            if digits.isdigit():
                numbers.append(int(digits))
        return max(numbers) + 1

    def _remove_leftovers(self) -> None:
        for child in self.path.glob("gen-*.tmp-*"):
            shutil.rmtree(child, ignore_errors=True)

    def _remove_old(self, keep: set[str]) -> None:
        for child in self.path.glob("gen-*"):
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)


@dataclass
class _Part:
    """One document's rows, ready to be written into a generation."""

    doc_id: str
    title: str
    sha256: str
    text: str
    sentences: np.ndarray  # (m, 2) start, end
    chunks: np.ndarray  # (n, 4) start, end, first, last (sentence indices within the doc)
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    entities: DocEntities
    layout: DocumentLayout = NO_LAYOUT

    @classmethod
    def from_update(cls, u: DocumentUpdate) -> _Part:
        sentences = np.array([(s.start, s.end) for s in u.sentences], dtype=np.int64).reshape(-1, 2)
        chunks = np.array(
            [(c.start, c.end, c.first, c.last) for c in u.chunks], dtype=np.int64
        ).reshape(-1, 4)
        return cls(
            u.doc_id,
            u.title,
            u.sha256,
            u.text,
            sentences,
            chunks,
            u.sentence_vectors,
            u.chunk_vectors,
            (u.entities_model, dict(u.entities)) if u.entities else (None, {}),
            DocumentLayout(u.pages, u.sections),
        )

    @classmethod
    def from_stored(cls, snap: FaissSnapshot, d: _DocEntry) -> _Part:
        chunks = snap.chunk_rows[d.chunk_lo : d.chunk_hi, 1:].copy()
        chunks[:, 2:] -= d.sentence_lo
        return cls(
            d.doc_id, d.title, d.sha256, snap.texts[d.doc_id],
            snap.sentence_rows[d.sentence_lo : d.sentence_hi, 1:].copy(), chunks,
            snap.sentence_vectors[d.sentence_lo : d.sentence_hi],
            snap.chunk_vectors[d.chunk_lo : d.chunk_hi], snap.current_entities(d.doc_id),
            d.layout,
        )  # fmt: skip


def _write_generation(folder: Path, model: str, dim: int, parts: list[_Part]) -> None:
    documents, sentence_rows, chunk_rows = [], [], []
    sentence_base = 0
    for index, part in enumerate(parts):
        documents.append({
            "doc_id": part.doc_id, "title": part.title, "sha256": part.sha256,
            "chunks": len(part.chunks), "sentences": len(part.sentences),
            **_layout_json(part.layout),
        })  # fmt: skip
        doc_col = np.full((len(part.sentences), 1), index, dtype=np.int64)
        sentence_rows.append(np.hstack([doc_col, part.sentences]))
        chunks = part.chunks.copy()
        chunks[:, 2:] += sentence_base
        chunk_rows.append(np.hstack([np.full((len(chunks), 1), index, dtype=np.int64), chunks]))
        sentence_base += len(part.sentences)
    with open(folder / "texts.jsonl", "w", encoding="utf-8") as out:
        for part in parts:
            out.write(json.dumps(part.text, ensure_ascii=False) + "\n")
    with open(folder / ENTITIES, "w", encoding="utf-8") as out:
        for part in parts:
            out.write(json.dumps(_entities_json(part.entities), ensure_ascii=False) + "\n")
    arrays = {
        "sentences.npy": _stack(sentence_rows, (0, 3), np.int64),
        "chunks.npy": _stack(chunk_rows, (0, 5), np.int64),
        "sentence_vectors.npy": _stack([p.sentence_vectors for p in parts], (0, dim), np.float32),
        "chunk_vectors.npy": _stack([p.chunk_vectors for p in parts], (0, dim), np.float32),
    }
    for name, array in arrays.items():
        np.save(folder / name, array, allow_pickle=False)
    # Big corpora: build the approximate dense index here, once, not on every load.
    if persist_dense(folder / DENSE_FILE, arrays["chunk_vectors.npy"]):
        _fsync_file(folder / DENSE_FILE)
    written = (*_FILES, ENTITIES)
    manifest = {
        "format": FORMAT, "model": model, "dim": dim, "created": time.time(),
        "qa_version": package_version(), "readers": reader_revisions(),
        "documents": documents,
        "sizes": {name: (folder / name).stat().st_size for name in written},
        "crc32": {name: zlib.crc32((folder / name).read_bytes()) for name in written},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    for name in (*written, "manifest.json"):
        _fsync_file(folder / name)
    _fsync_dir(folder)


def _built_by(manifest: dict) -> str | None:
    """The package version a manifest records (None: written before versions were)."""
    version = manifest.get("qa_version")
    return str(version) if version is not None else None


def _layout_json(layout: DocumentLayout) -> dict:
    """A manifest entry's `pages` and `sections`, each only when there are some."""
    out: dict[str, list] = {}
    if layout.pages:
        out["pages"] = list(layout.pages)
    if layout.sections:
        out["sections"] = [[start, heading] for start, heading in layout.sections]
    return out


def _entities_json(entities: DocEntities) -> dict:
    """One line of ENTITIES: {"model": id, "sentences": {"3": [[start, end, label], ...]}}."""
    model, by_sentence = entities
    return {
        "model": model,
        "sentences": {
            str(i): [[e.start, e.end, e.label] for e in found]
            for i, found in sorted(by_sentence.items())
        },
    }


def _entities_from_json(line: dict, text: str, sentences: np.ndarray) -> DocEntities:
    """The inverse of `_entities_json` for a document of `text` whose sentence rows (start,
    end) are `sentences`; an entity's text is the slice of its sentence it spans."""
    found = {}
    for key, spans in line["sentences"].items():
        i = int(key)
        start, end = (int(v) for v in sentences[i])
        sentence = text[start:end]
        found[i] = tuple(
            Entity(sentence[int(a) : int(b)], str(label), int(a), int(b)) for a, b, label in spans
        )
    model = line["model"]
    return (str(model) if model is not None else None), found


def _stack(arrays: list[np.ndarray], empty: tuple[int, int], dtype: type) -> np.ndarray:
    arrays = [a for a in arrays if len(a)]
    return np.vstack(arrays).astype(dtype, copy=False) if arrays else np.zeros(empty, dtype)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:  # interrupted: the old file stands, and no temporary one beside it
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _check_sizes(folder: Path, manifest: dict) -> None:
    """Raise IndexCorrupt unless every data file exists with the size the manifest recorded."""
    for name in _files(manifest):
        try:
            actual = (folder / name).stat().st_size
            expected = manifest["sizes"][name]
        except (OSError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"index file {folder / name} is missing ({exc}); run `qa index` to rebuild it"
            ) from exc
        if actual != expected:
            raise IndexCorrupt(
                f"index file {folder / name} is damaged ({actual} bytes, expected {expected}); "
                "run `qa index` to rebuild it"
            )


def _check_crc(path: Path, crc: int, manifest: dict) -> None:
    expected = manifest.get("crc32", {}).get(path.name) if isinstance(manifest, dict) else None
    if crc != expected:
        raise IndexCorrupt(
            f"index file {path} is damaged (checksum mismatch); run `qa index` to rebuild it"
        )


def _verify_files(folder: Path, manifest: dict) -> None:
    """Sizes and checksums of every data file, read in blocks (cheap next to a load)."""
    _check_sizes(folder, manifest)
    for name in _files(manifest):
        crc = 0
        with open(folder / name, "rb") as data:
            while block := data.read(1 << 20):
                crc = zlib.crc32(block, crc)
        _check_crc(folder / name, crc, manifest)


class FaissSnapshot:
    """One generation loaded into memory: FAISS for dense search, bm25s for lexical search."""

    folder: Path | None = None  # the generation folder, when loaded from disk
    built_by: str | None = None  # the package version that wrote it (None: unrecorded)

    def __init__(
        self,
        generation: str,
        model: str,
        dim: int,
        entries: list[_DocEntry],
        texts: dict[str, str],
        sentence_rows: np.ndarray,
        chunk_rows: np.ndarray,
        sentence_vectors: np.ndarray,
        chunk_vectors: np.ndarray,
        stored_entities: dict[str, DocEntities] | None = None,
    ) -> None:
        self.generation = generation
        self.model = model
        self.dim = dim
        self.entries = entries
        self.texts = texts
        self.sentence_rows = sentence_rows
        self.chunk_rows = chunk_rows
        self.sentence_vectors = sentence_vectors
        self.chunk_vectors = chunk_vectors
        self._by_id = {d.doc_id: d for d in entries}
        empty: dict[int, tuple[Entity, ...]] = {}
        self.stored_entities: dict[str, DocEntities] = {d.doc_id: (None, empty) for d in entries}
        self.stored_entities.update(stored_entities or {})
        usable = {doc_id: self.current_entities(doc_id)[1] for doc_id in self.stored_entities}
        # Chunks are built on first use and kept (up to CHUNK_CACHE): one cache per snapshot, so
        # a new generation never sees an old one's. The cache holds the arrays, not `self`, so
        # no reference cycle keeps a replaced snapshot's vectors alive until a gc pass.
        build = partial(
            _build_chunk, entries, texts, chunk_rows, sentence_rows, sentence_vectors,
            chunk_vectors, usable,
        )  # fmt: skip
        self._chunk_of_row = lru_cache(maxsize=CHUNK_CACHE)(build)

    @classmethod
    def load(cls, folder: Path, manifest: dict) -> FaissSnapshot:
        """Read a generation folder; raises IndexCorrupt on any missing or damaged file."""
        try:
            _check_sizes(folder, manifest)
            raw = {name: (folder / name).read_bytes() for name in _files(manifest)}
            for name, data in raw.items():
                _check_crc(folder / name, zlib.crc32(data), manifest)
            arrays = {
                name: np.load(io.BytesIO(raw[name]), allow_pickle=False) for name in _FILES[1:]
            }
            text_list = [json.loads(line) for line in raw["texts.jsonl"].decode().splitlines()]
            entity_lines = (
                [json.loads(line) for line in raw[ENTITIES].decode().splitlines()]
                if ENTITIES in raw
                else None
            )
            snapshot = cls._assemble(folder.name, manifest, text_list, arrays, entity_lines)
            snapshot.folder = folder
            snapshot.built_by = _built_by(manifest)
            return snapshot
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise IndexCorrupt(
                f"index in {folder} cannot be read ({exc}); run `qa index` to rebuild it"
            ) from exc

    @classmethod
    def _assemble(
        cls,
        generation: str,
        manifest: dict,
        text_list: list[str],
        arrays: dict[str, np.ndarray],
        entity_lines: list[dict] | None = None,
    ) -> FaissSnapshot:
        dim = int(manifest["dim"])
        docs = manifest["documents"]
        if len(text_list) != len(docs):
            raise ValueError("texts.jsonl does not match the manifest")
        entries, chunk_lo, sentence_lo = [], 0, 0
        for d in docs:
            entries.append(_DocEntry(
                d["doc_id"], d["title"], d["sha256"], chunk_lo, chunk_lo + d["chunks"],
                sentence_lo, sentence_lo + d["sentences"],
                layout_from_json(d.get("pages"), d.get("sections")),
            ))  # fmt: skip
            chunk_lo += d["chunks"]
            sentence_lo += d["sentences"]
        chunk_vectors = arrays["chunk_vectors.npy"]
        sentence_vectors = arrays["sentence_vectors.npy"]
        if chunk_vectors.shape != (chunk_lo, dim) or sentence_vectors.shape != (sentence_lo, dim):
            raise ValueError("vector files do not match the manifest")
        texts = {d["doc_id"]: t for d, t in zip(docs, text_list, strict=True)}
        sentence_rows = arrays["sentences.npy"]
        stored = None
        if entity_lines is not None:
            if len(entity_lines) != len(docs):
                raise ValueError(f"{ENTITIES} does not match the manifest")
            stored = {
                e.doc_id: _entities_from_json(
                    line, texts[e.doc_id], sentence_rows[e.sentence_lo : e.sentence_hi, 1:]
                )
                for e, line in zip(entries, entity_lines, strict=True)
            }
        return cls(
            generation,
            str(manifest["model"]),
            dim,
            entries,
            texts,
            sentence_rows,
            arrays["chunks.npy"],
            sentence_vectors,
            chunk_vectors,
            stored,
        )

    def current_entities(self, doc_id: str) -> DocEntities:
        """The entities stored for `doc_id` if the tagger installed here made them, else none
        (a build carries only those over; the others are tagged again when asked for)."""
        model, found = self.stored_entities[doc_id]
        return (model, found) if model is not None and model == ner_model_id() else (None, {})

    # --- the Snapshot protocol -----------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.generation

    @property
    def document_count(self) -> int:
        return len(self.entries)

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_rows)

    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.entries]

    def document(self, doc_id: str) -> DocumentInfo | None:
        entry = self._by_id.get(doc_id)
        if entry is None:
            return None
        return DocumentInfo(
            entry.doc_id,
            entry.title,
            entry.sha256,
            self.texts[doc_id],
            entry.chunk_hi - entry.chunk_lo,
        )

    def layout(self, doc_id: str) -> DocumentLayout:
        entry = self._by_id.get(doc_id)
        return entry.layout if entry is not None else NO_LAYOUT

    @cached_property
    def _dense_index(self):  # type: ignore[no-untyped-def]
        # Exact search for small corpora, HNSW (stored by the builder) above EXACT_MAX vectors.
        stored = self.folder / DENSE_FILE if self.folder is not None else None
        return open_dense_index(self.chunk_vectors, stored)

    @property
    def cache(self) -> None:
        """Nothing to report: the whole index is in this process."""
        return None

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]:
        k = min(k, self.chunk_count)
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, rows = self._dense_index.search(query, k)
        found = [
            (r, s) for r, s in zip(rows[0].tolist(), scores[0].tolist(), strict=True) if r >= 0
        ]
        ids = self._chunk_ids([r for r, _ in found])
        return [ScoredChunk(i, s) for i, (_, s) in zip(ids, found, strict=True)]

    @cached_property
    def _lexical_index(self):  # type: ignore[no-untyped-def]
        from qa.lexical import LexicalIndex

        return LexicalIndex([self._chunk_text(i) for i in range(self.chunk_count)])

    def lexical_search(self, query: str, k: int) -> list[ScoredChunk]:
        found = self._lexical_index.search(query, k)
        ids = self._chunk_ids([row for row, _ in found])
        return [ScoredChunk(i, score) for i, (_, score) in zip(ids, found, strict=True)]

    def warm(self) -> None:
        """Build the in-memory search structures, and the first `CHUNK_CACHE` chunks, now
        rather than on the first queries."""
        _ = self._dense_index, self._lexical_index
        for row in range(min(CHUNK_CACHE, len(self.chunk_rows))):
            self._chunk_of_row(row)

    def sentence_texts(self, limit: int) -> list[str]:
        """The texts of the first `limit` stored sentences (for warming per-sentence caches)."""
        out = []
        for doc_index, start, end in self.sentence_rows[:limit].tolist():
            out.append(self.texts[self.entries[doc_index].doc_id][start:end])
        return out

    def chunk(self, chunk_id: str) -> StoredChunk:
        """The stored chunk `chunk_id` (KeyError if unknown). Built once and then shared by
        every caller of this snapshot (it is immutable), up to `CHUNK_CACHE` chunks."""
        return self._chunk_of_row(self._row_of(chunk_id))

    def _chunk_text(self, row: int) -> str:
        doc_index, start, end = (int(v) for v in self.chunk_rows[row, :3])
        return self.texts[self.entries[doc_index].doc_id][start:end]

    def _chunk_ids(self, rows: list[int]) -> list[str]:
        """The chunk ids of `rows` (one numpy lookup for all of them)."""
        docs = self.chunk_rows[rows, 0].tolist() if rows else []
        entries = [self.entries[d] for d in docs]
        return [f"{e.doc_id}#{r - e.chunk_lo}" for e, r in zip(entries, rows, strict=True)]

    def _row_of(self, chunk_id: str) -> int:
        doc_id, _, number = chunk_id.rpartition("#")
        entry = self._by_id.get(doc_id)
        if (
            entry is None
            or not number.isdigit()
            or not (0 <= int(number) < entry.chunk_hi - entry.chunk_lo)
        ):
            raise KeyError(f"unknown chunk {chunk_id!r}")
        return entry.chunk_lo + int(number)


def _build_chunk(
    entries: list[_DocEntry],
    texts: dict[str, str],
    chunk_rows: np.ndarray,
    sentence_rows: np.ndarray,
    sentence_vectors: np.ndarray,
    chunk_vectors: np.ndarray,
    entities: dict[str, dict[int, tuple[Entity, ...]]],
    row: int,
) -> StoredChunk:
    """Chunk `row` of a snapshot's arrays, with its sentences (vectors are views) and the
    entities stored for them (`entities`: doc_id -> sentence index in the document -> them)."""
    doc_index, start, end, first, last = chunk_rows[row].tolist()
    entry = entries[doc_index]
    text = texts[entry.doc_id]
    known = entities.get(entry.doc_id, {})
    sentences = [
        StoredSentence(entry.doc_id, s, e, text[s:e], sentence_vectors[i],
                       known.get(i - entry.sentence_lo))
        for i, (_, s, e) in enumerate(sentence_rows[first:last].tolist(), start=first)
    ]  # fmt: skip
    return StoredChunk(
        f"{entry.doc_id}#{row - entry.chunk_lo}",
        entry.doc_id,
        entry.title,
        start,
        end,
        text[start:end],
        sentences,
        chunk_vectors[row],
    )
