"""A `ChunkStore` on a Milvus server: a cluster, a standalone server or `milvus-lite server`.

In: a URI `milvus://[USER:PASSWORD@]HOST:PORT/NAME[?token=T&secure=true&grace=S&index=I
&cache_mb=M]` (token also from `QA_MILVUS_TOKEN`, the cache budget from `QA_MILVUS_CACHE_MB`).
Out: the same `ChunkStore` / `Snapshot` the FAISS backend gives, with every row, vector and
search living in Milvus; the answering process keeps only a head record and, per snapshot, a
cache of the chunks it read, bounded by bytes (servers fill it ahead of questions: `preload`).

Collections (NAME is the URI's last part; GEN changes only when the index is rebuilt):

    NAME_meta           one row per key: `head` (generation, epoch, model, dim, counts),
                        `lock` (builder and expiry), `dead/...` (versions retired by a commit
                        whose rows are still being deleted)
    NAME_gGEN_chunks    one row per chunk: doc_id, born, n, offsets, first/last sentence,
                        title, text, dense vector, `terms` (analyzed VARCHAR) and `sparse`
                        (its BM25 vector, computed by Milvus's own BM25 function)
    NAME_gGEN_sentences one row per sentence, keyed "born/doc_id#n" (read back by key):
                        doc_id, born, n, offsets, dense vector
    NAME_gGEN_documents one row per 16,000-character part of a document's text, with its
                        title, sha256 and counts (part 0 answers `state()`); parts -1, -2, ...
                        hold its layout (page starts, headings) as JSON in `text` (absent in
                        indexes written before they existed: no pages, no sections)

Visibility: every row carries `born`, the commit epoch that wrote it, and `vkey` =
"born/doc_id". A snapshot at epoch E sees rows with born <= E, minus the versions that the
`dead/` records of epochs <= E retire. A commit writes its rows under epoch E+1 (invisible),
writes its `dead/` records, then upserts `head` to E+1: one single-row write switches every
changed document at once. The retired rows are deleted `grace` seconds later (so callers still
on the previous snapshot finish on it), then their `dead/` records. A crash at any point leaves
`head` on a complete state; the next commit deletes rows born after `head` and finishes any
pending deletions. A rebuild (`reset`, or a new model) writes a new generation of collections
and drops the old one after the switch.

BM25: the `terms` field holds the chunk's tokens as `qa.lexical.tokens` produces them (stop
words out, Snowball-stemmed), and queries are tokenized the same way, so Milvus's BM25 scores
the same terms as the FAISS backend's bm25s does (same k1 and b; Lucene IDF on both).

Lock: a `lock` row holding owner (host:pid:random) and expiry; taken when absent or expired,
confirmed by reading it back after a pause (Milvus has no compare-and-swap), renewed by a
thread every `ttl / 3` seconds, deleted on release.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from qa.documents import reader_revisions
from qa.layout import NO_LAYOUT, DocumentLayout, layout_from_json
from qa.lexical import tokens
from qa.stores.base import (
    DocumentInfo,
    DocumentUpdate,
    IndexCorrupt,
    IndexMissing,
    IndexProblem,
    IndexState,
    ScoredChunk,
    StoredChunk,
    StoredSentence,
)
from qa.version import package_version

TEXT_PART = 16_000  # characters per document text row: at most 64,000 UTF-8 bytes < 65,535
VARCHAR = 65_535
MAX_LIMIT = 16_384  # Milvus's largest search or query window
BATCH = 500  # rows per insert request
# The same as qa.lexical's bm25s. Sent nested under "params" (the form every Milvus reads;
# milvus-lite ignores the flattened keys pymilvus 3 would send otherwise).
BM25_PARAMS = {"bm25_k1": 1.2, "bm25_b": 0.75}
HNSW_BUILD = {"M": 32, "efConstruction": 200}  # as qa.stores.vector_index builds FAISS's HNSW
HNSW_EF = 128  # search breadth (at least k)
CHUNK_FIELDS = ["doc_id", "born", "n", "start", "end", "first", "last", "title", "text", "vector"]
# What a search returns with each hit: the chunk row without its 384 floats, which would double
# a search's time on milvus-lite (serialized in Python; 38 vs 20 ms dense, 18 vs 8 ms BM25 on
# SQuAD). `chunks()` reads the vectors of the passages the answerer uses, beside their sentences.
HIT_FIELDS = [name for name in CHUNK_FIELDS if name != "vector"]
CACHE_MB = 512  # default budget of a snapshot's chunk cache (`QA_MILVUS_CACHE_MB`, `?cache_mb=`)
HIT_ROWS = 1024  # chunk rows of search hits kept per snapshot until their chunk is read
PRELOAD_BATCH = 256  # chunks read per request when a snapshot preloads its cache
# Bytes of Python objects around a cached chunk, and around each of its sentences (measured:
# docs/history/2026-11-30-milvus-latency.md)
CHUNK_OVERHEAD = 600
SENTENCE_OVERHEAD = 400
CACHE_DOCUMENTS = 64  # documents (`document()`: metadata and text) kept per snapshot
SEARCH_THREADS = 8  # the lexical half of `search_both`, sent while the dense half runs
log = logging.getLogger(__name__)
_searches: ThreadPoolExecutor | None = None
_searches_lock = threading.Lock()
SCHEMA = 1  # bumped when the collections' layout changes: older indexes are rebuilt
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


class MilvusUnavailable(IndexProblem):
    """The Milvus server cannot be reached or refused a request."""


@dataclass(frozen=True)
class MilvusTarget:
    """Where the collections live: a server address, a token and the collections' name."""

    uri: str
    name: str
    token: str = ""
    grace: float = 3.0
    index: str = "flat"  # the chunks' dense index: flat (exact) or hnsw (for millions)
    cache_mb: float = CACHE_MB  # a snapshot's chunk cache budget, in MiB (0: no cache)

    @classmethod
    def parse(cls, uri: str, env: dict[str, str] | None = None) -> MilvusTarget:
        """Parse `milvus://[USER:PASSWORD@]HOST:PORT/NAME[?token=T&secure=true&grace=S&index=I
        &cache_mb=M]` (the cache budget also from `QA_MILVUS_CACHE_MB`)."""
        env = dict(os.environ) if env is None else env
        parts = urlsplit(uri)
        if parts.scheme != "milvus" or not parts.hostname:
            raise ValueError(f"store {uri!r} is not a milvus://HOST:PORT/COLLECTION URI")
        name = parts.path.strip("/") or "qa"
        if not _NAME.match(name):
            raise ValueError(
                f"Milvus collection name {name!r} must be letters, digits and underscores"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        token = query.get("token") or env.get("QA_MILVUS_TOKEN", "")
        if not token and parts.username:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        scheme = "https" if query.get("secure", "").lower() in ("1", "true", "yes") else "http"
        try:
            grace = float(query.get("grace", cls.grace))
        except ValueError:
            raise ValueError(f"grace in {uri!r} must be a number of seconds") from None
        index = query.get("index", cls.index).lower()
        if index not in ("flat", "hnsw"):
            raise ValueError(f"index in {uri!r} must be flat or hnsw, got {index!r}")
        cache_mb = query.get("cache_mb") or env.get("QA_MILVUS_CACHE_MB") or cls.cache_mb
        try:
            cache_mb = float(cache_mb)
        except ValueError:
            raise ValueError(f"cache_mb of {uri!r} must be a number of MiB") from None
        if cache_mb < 0:
            raise ValueError(f"cache_mb of {uri!r} must not be negative")
        address = f"{scheme}://{parts.hostname}:{parts.port or 19530}"
        return cls(address, name, token, grace, index, cache_mb)


@dataclass(frozen=True)
class _Head:
    """The committed state: which generation of collections, which epoch, and totals."""

    gen: int
    epoch: int
    model: str
    dim: int
    documents: int
    chunks: int
    schema: int = 0  # SCHEMA of the collections; 0: written before the field existed
    qa_version: str | None = None  # the package version that wrote it; None: unrecorded
    readers: dict[str, int] | None = None  # `qa.documents.reader_revisions`; None: unrecorded

    @property
    def version(self) -> str:
        return f"{self.gen}.{self.epoch}"


_HEAD_FIELDS = frozenset(_Head.__dataclass_fields__)


def _quote(value: str) -> str:
    """A Milvus filter string literal for `value`."""
    return json.dumps(value, ensure_ascii=False)


def _in(field: str, values: list[str]) -> str:
    return f"{field} in [{', '.join(_quote(v) for v in values)}]"


def _vkey(born: int, doc_id: str) -> str:
    return f"{born}/{doc_id}"


def _sentence_key(born: int, doc_id: str, n: int) -> str:
    return f"{born}/{doc_id}#{n}"


class MilvusStore:
    """A `ChunkStore` in Milvus collections; see the module docstring for the layout."""

    def __init__(
        self,
        target: MilvusTarget,
        lock_timeout: float = 600.0,
        lock_ttl: float = 60.0,
        lock_settle: float = 0.3,
    ) -> None:
        self.target = target
        self.lock_timeout = lock_timeout
        self.lock_ttl = lock_ttl
        self.lock_settle = lock_settle
        self._client_obj: Any = None
        self._owner: str | None = None
        self._ready: set[str] = set()

    @classmethod
    def from_uri(cls, uri: str, env: dict[str, str] | None = None) -> MilvusStore:
        return cls(MilvusTarget.parse(uri, env))

    def __repr__(self) -> str:
        return f"MilvusStore({self.target.uri}/{self.target.name})"

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client_obj is None:
            from pymilvus import MilvusClient

            with _errors(self.target):
                self._client_obj = MilvusClient(
                    uri=self.target.uri, token=self.target.token, timeout=30
                )
        return self._client_obj

    def close(self) -> None:
        if self._client_obj is not None:
            self._client_obj.close()
            self._client_obj = None

    def _meta(self) -> str:
        name = f"{self.target.name}_meta"
        if name not in self._ready:
            with _errors(self.target):
                if not self.client.has_collection(name):
                    _create_meta(self.client, name)
                self.client.load_collection(name)
            self._ready.add(name)
        return name

    def _collections(self, gen: int) -> tuple[str, str, str]:
        base = f"{self.target.name}_g{gen}"
        return f"{base}_chunks", f"{base}_sentences", f"{base}_documents"

    def _read(self, key: str) -> dict | None:
        rows = self.client.query(
            self._meta(), filter=f"key == {_quote(key)}", output_fields=["value"], limit=1
        )
        return json.loads(rows[0]["value"]) if rows else None

    def _write(self, key: str, value: dict, kind: str, gen: int = 0, epoch: int = 0) -> None:
        row = {"key": key, "kind": kind, "gen": gen, "epoch": epoch,
               "value": json.dumps(value, ensure_ascii=False),
               "placeholder": [0.0, 0.0]}  # fmt: skip
        self.client.upsert(self._meta(), [row])

    def _head(self) -> _Head | None:
        with _errors(self.target):
            value = self._read("head")
        if value is None:
            return None
        try:
            # Fields a later version added are left out: its major version says whether
            # this one can read the rest (`qa.version.incompatible`).
            return _Head(**{k: v for k, v in value.items() if k in _HEAD_FIELDS})
        except TypeError as exc:
            raise IndexCorrupt(
                f"Milvus head record of {self.target.name} is damaged ({exc}); rebuild it"
            ) from exc

    def _dead(self, head: _Head) -> list[str]:
        """Versions retired by commits up to `head` whose rows may still exist."""
        rows = self.client.query(
            self._meta(),
            filter=f'kind == "dead" and gen == {head.gen} and epoch <= {head.epoch}',
            output_fields=["value"],
            limit=MAX_LIMIT,
        )
        return [vkey for row in rows for vkey in json.loads(row["value"])["vkeys"]]

    # --- reading -------------------------------------------------------------------------------

    def version(self) -> str | None:
        head = self._head()
        return head.version if head else None

    def _current(self, head: _Head) -> _Head:
        if head.schema != SCHEMA:
            raise IndexCorrupt(
                f"Milvus collection {self.target.name!r} was written by another version of qa "
                f"(layout {head.schema}, not {SCHEMA}); run `qa index` to rebuild it"
            )
        return head

    def state(self) -> IndexState | None:
        head = self._head()
        if head is None:
            return None
        head = self._current(head)
        with _errors(self.target):
            live = self._live(head)
        hashes = {doc_id: row["sha256"] for doc_id, row in live.items()}
        chunks = {doc_id: int(row["chunks"]) for doc_id, row in live.items()}
        return IndexState(head.model, head.dim, hashes, chunks, head.qa_version, head.readers)

    def _live(self, head: _Head) -> dict[str, dict]:
        """doc_id -> its live part-0 document row (born, sha256, chunks); no vectors read."""
        documents = self._collections(head.gen)[2]
        if not self.client.has_collection(documents):
            raise IndexCorrupt(f"Milvus collection {documents} named by the head is gone")
        self._load(documents)
        visible = _visible(head, self._dead(head))
        rows = _iterate(self.client, documents, f"part == 0 and {visible}",
                        ["doc_id", "born", "sha256", "chunks"])  # fmt: skip
        return {row["doc_id"]: row for row in rows}

    def _load(self, name: str) -> None:
        """Make sure collection `name` of the head's generation is loaded (once per store: a
        restarted milvus-lite server holds every collection released); IndexCorrupt if gone."""
        if name not in self._ready:
            if not self.client.has_collection(name):
                raise IndexCorrupt(f"Milvus collection {name} named by the head is gone")
            self.client.load_collection(name)
            self._ready.add(name)

    def open(self) -> MilvusSnapshot:
        head = self._head()
        if head is None:
            raise IndexMissing(
                f"no index in Milvus collection {self.target.name!r} at {self.target.uri} yet; "
                "build it with `qa index --store milvus://...`"
            )
        head = self._current(head)
        with _errors(self.target):
            collections = self._collections(head.gen)
            for name in collections:
                self._load(name)
            return MilvusSnapshot(self.client, self.target, head, collections, self._dead(head))

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + self.lock_timeout
        waiting = False
        while not self._try_lock(owner):
            if time.monotonic() > deadline:
                raise IndexProblem(
                    f"another build holds the lock on Milvus collection {self.target.name!r} "
                    f"for over {self.lock_timeout:.0f} s; try again when it finishes"
                )
            if not waiting:
                print("waiting for another build to finish...", file=sys.stderr, flush=True)
                waiting = True
            time.sleep(min(1.0, self.lock_ttl / 3))
        self._owner = owner
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(owner, stop), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._owner = None
            with _errors(self.target):
                if (self._read("lock") or {}).get("owner") == owner:
                    self.client.delete(self._meta(), filter='key == "lock"')

    def _try_lock(self, owner: str) -> bool:
        with _errors(self.target):
            current = self._read("lock")
            if current and current["owner"] != owner and current["expires"] > time.time():
                return False
            self._write("lock", {"owner": owner, "expires": time.time() + self.lock_ttl}, "lock")
            time.sleep(self.lock_settle)  # a racing builder's write lands; the last one wins
            return (self._read("lock") or {}).get("owner") == owner

    def _renew(self, owner: str, stop: threading.Event) -> None:
        while not stop.wait(self.lock_ttl / 3):
            try:
                if (self._read("lock") or {}).get("owner") == owner:
                    value = {"owner": owner, "expires": time.time() + self.lock_ttl}
                    self._write("lock", value, "lock")
            except Exception as exc:  # noqa: BLE001  # the commit checks the lock again
                print(f"could not renew the Milvus lock: {exc}", file=sys.stderr, flush=True)

    def _check_lock(self) -> None:
        if self._owner is not None and (self._read("lock") or {}).get("owner") != self._owner:
            raise IndexProblem(
                f"lost the build lock on Milvus collection {self.target.name!r} (expired?); "
                "nothing was committed"
            )

    def apply(
        self,
        model: str,
        dim: int,
        updates: list[DocumentUpdate],
        deletes: list[str],
        reset: bool = False,
    ) -> None:
        with _errors(self.target):
            head = self._head()
            if head is not None:
                self._clean(head)
            if head is None or reset or (head.model, head.dim, head.schema) != (model, dim, SCHEMA):
                self._rebuild(head, model, dim, updates)
            else:
                self._commit(head, updates, deletes)

    def _rebuild(self, head: _Head | None, model: str, dim: int, updates: list[DocumentUpdate]):
        gen = head.gen + 1 if head else 1
        epoch = head.epoch + 1 if head else 1
        collections = self._collections(gen)
        for name in collections:
            if self.client.has_collection(name):
                self.client.drop_collection(name)  # left by a crashed rebuild
        _create_data(self.client, collections, dim, self.target.index)
        self._ready.update(collections)
        _insert(self.client, collections, updates, epoch)
        chunks = sum(len(u.chunks) for u in updates)
        self._check_lock()
        count = len({u.doc_id for u in updates})
        new = _Head(
            gen, epoch, model, dim, count, chunks, SCHEMA, package_version(), reader_revisions()
        )
        self._write("head", new.__dict__, "head")
        if head is not None:
            self._retire(new)

    def _commit(self, head: _Head, updates: list[DocumentUpdate], deletes: list[str]) -> None:
        live = self._live(head)
        epoch = head.epoch + 1
        collections = self._collections(head.gen)
        _insert(self.client, collections, updates, epoch)
        gone = [d for d in {*deletes, *(u.doc_id for u in updates)} if d in live]
        dead = sorted(_vkey(int(live[d]["born"]), d) for d in gone)
        for i, group in enumerate(_groups(dead)):
            key = f"dead/{head.gen}/{epoch}/{i}"
            self._write(key, {"vkeys": group}, "dead", head.gen, epoch)
        after = set(live) - set(deletes) | {u.doc_id for u in updates}
        chunks = (
            head.chunks
            - sum(int(live[d]["chunks"]) for d in gone)
            + sum(len(u.chunks) for u in updates)
        )
        self._check_lock()
        new = replace(
            head,
            epoch=epoch,
            documents=len(after),
            chunks=chunks,
            qa_version=package_version(),
            readers=reader_revisions(),
        )
        self._write("head", new.__dict__, "head")
        if dead:
            self._retire(new)

    def _retire(self, head: _Head) -> None:
        """After a switch: give callers still on the previous snapshot `grace` seconds to
        finish, then delete the rows `head` retired."""
        time.sleep(self.target.grace)
        self._clean(head)

    def _clean(self, head: _Head) -> None:
        """Delete what a crashed or finished commit left: rows born after `head`, and rows
        of versions that commits up to `head` retired, then their `dead/` records."""
        collections = self._collections(head.gen)
        meta = self._meta()
        if not all(self.client.has_collection(name) for name in collections):
            return
        for name in collections:
            self.client.delete(name, filter=f"born > {head.epoch}")
        self.client.delete(meta, filter=f'kind == "dead" and gen == {head.gen} '
                                        f"and epoch > {head.epoch}")  # fmt: skip
        dead = self._dead(head)
        for group in _groups(dead):
            for name in collections:
                self.client.delete(name, filter=_in("vkey", group))
        if dead:
            self.client.delete(meta, filter=f'kind == "dead" and epoch <= {head.epoch}')
        self.client.delete(meta, filter=f'kind == "dead" and gen != {head.gen}')
        self._drop_other_generations(head.gen)

    def _drop_other_generations(self, keep: int) -> None:
        prefix = f"{self.target.name}_g"
        for name in self.client.list_collections():
            number = name[len(prefix) :].split("_", 1)[0]
            if name.startswith(prefix) and number.isdigit() and int(number) != keep:
                self.client.drop_collection(name)
                self._ready.discard(name)

    def drop(self) -> None:
        """Remove every collection of this store (tests and `docs/milvus.md` use it)."""
        with _errors(self.target):
            self._drop_other_generations(-1)
            if self.client.has_collection(f"{self.target.name}_meta"):
                self.client.drop_collection(f"{self.target.name}_meta")
        self._ready.clear()


class MilvusSnapshot:
    """One committed state of a `MilvusStore`: searches go to Milvus, filtered to it."""

    def __init__(
        self,
        client: Any,
        target: MilvusTarget,
        head: _Head,
        collections: tuple[str, str, str],
        dead: list[str],
    ) -> None:
        self._client = client
        self._target = target
        self._head = head
        self._chunks, self._sentences, self._documents = collections
        self._filter = _visible(head, dead)
        # Bounded, so memory does not grow past the budget; safe: a snapshot never changes.
        self._cache = ChunkCache(int(target.cache_mb * (1 << 20)))  # chunks with sentences
        self._complete = False  # every chunk is cached: searches return ids only
        self._dense: tuple[list[str], np.ndarray] | None = None  # the cached vectors, stacked
        self._rows: dict[str, dict] = {}  # chunk rows that searches returned
        self._documents_cache: dict[str, DocumentInfo | None] = {}
        self._layouts: dict[str, DocumentLayout] = {}
        self._all_layouts = False  # `preload` read every layout: a missing one is empty
        self._unknown: dict[str, None] = {}  # chunk ids asked for that do not exist
        self._cache_lock = threading.Lock()

    @property
    def version(self) -> str:
        return self._head.version

    @property
    def model(self) -> str:
        return self._head.model

    @property
    def built_by(self) -> str | None:
        return self._head.qa_version

    @property
    def dim(self) -> int:
        return self._head.dim

    @property
    def document_count(self) -> int:
        return self._head.documents

    @property
    def chunk_count(self) -> int:
        return self._head.chunks

    @property
    def cache(self) -> dict[str, Any]:
        """The chunk cache's state: `chunks` cached of `of`, `complete` (every chunk cached and
        their vectors stacked: a question costs one search), `mib` held and `budget_mib`."""
        return {
            "chunks": len(self._cache),
            "of": self.chunk_count,
            "complete": self._dense is not None,
            "mib": round(self.cache_bytes / (1 << 20), 3),
            "budget_mib": self._target.cache_mb,
        }

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]:
        """Top `k` chunks by inner product: in this process once `preload` has stacked every
        chunk vector of the snapshot (exact, as the flat index; ties in stored order), else by
        a Milvus search."""
        if self._dense is not None:
            return _top_k(*self._dense, np.asarray(vector, dtype=np.float32).reshape(-1), k)
        query = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        return self._search([query], "vector", "IP", k, {"ef": max(k, HNSW_EF)})

    def lexical_search(self, query: str, k: int) -> list[ScoredChunk]:
        terms = " ".join(tokens(query))
        return self._search([terms], "sparse", "BM25", k) if terms else []

    def search_both(
        self, vector: np.ndarray, query: str, k: int
    ) -> tuple[list[ScoredChunk], list[ScoredChunk]]:
        """(`dense_search(vector, k)`, `lexical_search(query, k)`), the two requests in flight
        at once, so a question waits for one round trip instead of two (the dense half runs in
        this process once `preload` stacked the vectors). (Milvus's own
        `hybrid_search` would fuse them server-side, but returns only the fused score; the
        answerer needs each list's ranks and the dense scores.)"""
        lexical = _search_pool().submit(self.lexical_search, query, k)
        try:
            dense = self.dense_search(vector, k)
        finally:
            found = lexical.result()
        return dense, found

    def _search(
        self, data: list, field: str, metric: str, k: int, params: dict | None = None
    ) -> list[ScoredChunk]:
        """Top `k` of one search; `params` tune the index (HNSW's ef; a flat index ignores it).

        Until `preload` has cached every chunk, the hits come back with their chunk rows (no
        vector), which are kept: `chunks()` then reads only the sentences and vectors of the
        passages the answerer uses. After it, hits carry only their chunk ids."""
        k = min(k, MAX_LIMIT)
        if k <= 0 or self.chunk_count == 0:
            return []
        complete = self._complete
        with _errors(self._target):
            hits = self._client.search(
                self._chunks, data=data, anns_field=field, limit=k, filter=self._filter,
                output_fields=["doc_id", "n"] if complete else HIT_FIELDS,
                search_params={"metric_type": metric, "params": params or {}},
            )[0]  # fmt: skip
        # milvus-lite reports BM25 as a negative distance, Milvus as a positive score.
        scored = [
            (abs(float(h["distance"])) if metric == "BM25" else float(h["distance"]), h["entity"])
            for h in hits
        ]
        scored = [(score, row) for score, row in scored if metric != "BM25" or score > 0]
        if not complete:
            with self._cache_lock:
                for _, row in scored:
                    _bounded_put(self._rows, f"{row['doc_id']}#{row['n']}", row, HIT_ROWS)
        return [ScoredChunk(f"{row['doc_id']}#{row['n']}", score) for score, row in scored]

    def chunk(self, chunk_id: str) -> StoredChunk:
        return self.chunks([chunk_id])[0]

    def chunks(self, chunk_ids: list[str]) -> list[StoredChunk]:
        """The chunks `chunk_ids`, in that order; KeyError for an unknown one. Chunks not cached
        cost one query for their rows (none after a search returned them) and one for all
        their sentences together (with, at the same time, one for the vectors of rows a search
        returned)."""
        found = self._cache.get(chunk_ids)
        with self._cache_lock:
            rows = {c: self._rows[c] for c in chunk_ids if c not in found and c in self._rows}
        with self._cache_lock:
            missing = [c for c in chunk_ids if c not in found and c not in rows]
            missing = [c for c in missing if c not in self._unknown]
        if missing and not self._complete:  # complete: every chunk is cached, so none exists
            rows |= self._chunk_rows(missing)
        if rows:
            found |= self._with_sentences(list(rows.values()))
        unknown = [c for c in chunk_ids if c not in found]
        if unknown:
            with self._cache_lock:  # a snapshot never changes: asked once, known absent
                for chunk_id in unknown:
                    _bounded_put(self._unknown, chunk_id, None, HIT_ROWS)
            raise KeyError(f"unknown chunk {unknown[0]!r}")
        return [found[c] for c in chunk_ids]

    def _chunk_rows(
        self, chunk_ids: list[str], fields: list[str] = CHUNK_FIELDS
    ) -> dict[str, dict]:
        """chunk_id -> its row (`fields`), for those of `chunk_ids` that exist, in one query."""
        wanted: dict[str, list[int]] = {}
        for chunk_id in chunk_ids:
            doc_id, _, number = chunk_id.rpartition("#")
            if number.isdigit():
                wanted.setdefault(doc_id, []).append(int(number))
        if not wanted:
            return {}
        either = " or ".join(
            f"(doc_id == {_quote(doc_id)} and n in {sorted(set(numbers))})"
            for doc_id, numbers in wanted.items()
        )
        with _errors(self._target):
            rows = self._client.query(
                self._chunks, output_fields=fields, limit=MAX_LIMIT,
                filter=f"({either}) and {self._filter}",
            )  # fmt: skip
        return {f"{r['doc_id']}#{r['n']}": r for r in rows}

    def _with_sentences(self, rows: list[dict]) -> dict[str, StoredChunk]:
        """Read the sentences of these chunk rows in one request, and the vectors of the rows a
        search returned without them in another, both in flight at once; cache and return the
        chunks."""
        keys = [
            _sentence_key(int(r["born"]), r["doc_id"], n)
            for r in rows
            for n in range(int(r["first"]), int(r["last"]))
        ]
        bare = [f"{r['doc_id']}#{r['n']}" for r in rows if "vector" not in r]
        vectors = (
            _search_pool().submit(self._chunk_rows, bare, ["doc_id", "n", "vector"])
            if bare
            else None
        )
        # By primary key, the fastest read Milvus has (`get` would not escape a backslash).
        try:
            with _errors(self._target):
                found = self._client.query(
                    self._sentences, filter=_in("key", keys), limit=MAX_LIMIT,
                    output_fields=["doc_id", "born", "n", "start", "end", "vector"],
                )  # fmt: skip
        finally:
            with_vectors = vectors.result() if vectors is not None else {}
        rows = [r if "vector" in r else _add_vector(r, with_vectors) for r in rows]
        by_version: dict[tuple[str, int], dict[int, dict]] = {}
        for sentence in found:
            key = (sentence["doc_id"], int(sentence["born"]))
            by_version.setdefault(key, {})[int(sentence["n"])] = sentence
        built = {}
        for row in rows:
            sentences = by_version.get((row["doc_id"], int(row["born"])), {})
            numbers = range(int(row["first"]), int(row["last"]))
            if any(n not in sentences for n in numbers):
                raise IndexCorrupt(f"sentences of chunk {row['doc_id']}#{row['n']} are missing")
            chunk = _stored_chunk(row, [sentences[n] for n in numbers])
            built[chunk.chunk_id] = chunk
        self._cache.put(built)
        with self._cache_lock:
            for chunk_id in built:
                self._rows.pop(chunk_id, None)
        return built

    def preload(self) -> int:
        """Read every chunk of this snapshot, with its sentences and vectors, into the cache,
        `PRELOAD_BATCH` chunks a request, then stack the chunk vectors for `dense_search`, so
        that a question costs one round trip (its BM25 search) and no reads; called off the
        request path (`Assistant(preload=True)`: servers). Stops, keeping what it read, once
        the collection would not fit the cache budget. Out: the number of chunks cached."""
        if self.chunk_count == 0 or self._cache.budget <= 0:
            return 0
        started = time.perf_counter()
        order: list[str] = []  # chunk ids in Milvus's stored order
        with _errors(self._target):
            iterator = self._client.query_iterator(
                self._chunks, batch_size=PRELOAD_BATCH, filter=self._filter,
                output_fields=CHUNK_FIELDS,
            )  # fmt: skip
            try:
                while batch := iterator.next():
                    self._with_sentences(batch)
                    order += [f"{row['doc_id']}#{row['n']}" for row in batch]
                    if not self._fits():
                        log.info("Milvus snapshot %s does not fit its %g MiB cache; not "
                                 "preloading it", self.version, self._target.cache_mb)  # fmt: skip
                        return len(self._cache)
            finally:
                iterator.close()
        self._complete = len(self._cache) >= self.chunk_count
        if self._complete:
            self._stack_vectors(order)
        self._preload_layouts()
        log.info("cached the %d chunks of Milvus snapshot %s (%.1f MiB) in %.1f s",
                 len(self._cache), self.version, self.cache_bytes / (1 << 20),
                 time.perf_counter() - started)  # fmt: skip
        return len(self._cache)

    @property
    def cache_bytes(self) -> int:
        """The estimated size of what this snapshot holds: cached chunks and stacked vectors."""
        return self._cache.bytes + (self._dense[1].nbytes if self._dense is not None else 0)

    def _stack_vectors(self, order: list[str]) -> None:
        """With every chunk cached, stack their vectors in `order` (as read: Milvus's stored
        order) for `dense_search`, when the stack (4 bytes a dimension a chunk) fits the budget
        beside the cache."""
        chunks = self._cache.get(order)
        size = len(chunks) * self.dim * 4
        if len(chunks) == self.chunk_count and self._cache.bytes + size <= self._cache.budget:
            matrix = np.stack([chunk.vector for chunk in chunks.values()]).astype(np.float32)
            self._dense = (list(chunks), matrix)

    def _fits(self) -> bool:
        """Whether every chunk would fit the cache, judging by the chunks cached so far."""
        cached = len(self._cache)
        return cached > 0 and self._cache.bytes / cached * self.chunk_count <= self._cache.budget

    def document(self, doc_id: str) -> DocumentInfo | None:
        """The document, read once per snapshot (a snapshot never changes) and then cached."""
        with self._cache_lock:
            if doc_id in self._documents_cache:
                return self._documents_cache[doc_id]
        with _errors(self._target):
            rows = self._client.query(
                self._documents, output_fields=["part", "title", "sha256", "chunks", "text"],
                filter=f"doc_id == {_quote(doc_id)} and part >= 0 and {self._filter}",
                limit=MAX_LIMIT,
            )  # fmt: skip
        info = None
        if rows:
            rows.sort(key=lambda r: int(r["part"]))
            head = rows[0]
            text = "".join(r["text"] for r in rows)
            info = DocumentInfo(doc_id, head["title"], head["sha256"], text, int(head["chunks"]))
        with self._cache_lock:
            _bounded_put(self._documents_cache, doc_id, info, CACHE_DOCUMENTS)
        return info

    def layout(self, doc_id: str) -> DocumentLayout:
        """The document's page starts and headings (its rows of negative part), read once per
        snapshot and cached (all at once by `preload`); empty when it has none."""
        with self._cache_lock:
            if doc_id in self._layouts:
                return self._layouts[doc_id]
            if self._all_layouts:
                return NO_LAYOUT
        with _errors(self._target):
            rows = self._client.query(
                self._documents, output_fields=["part", "text"],
                filter=f"doc_id == {_quote(doc_id)} and part < 0 and {self._filter}",
                limit=MAX_LIMIT,
            )  # fmt: skip
        layout = _layout_of(rows)
        with self._cache_lock:
            _bounded_put(self._layouts, doc_id, layout, CACHE_DOCUMENTS)
        return layout

    def _preload_layouts(self) -> None:
        """Read every document's layout rows at once (`preload`: questions then read none)."""
        with _errors(self._target):
            rows = _iterate(self._client, self._documents, f"part < 0 and {self._filter}",
                            ["doc_id", "part", "text"])  # fmt: skip
        by_doc: dict[str, list[dict]] = {}
        for row in rows:
            by_doc.setdefault(row["doc_id"], []).append(row)
        layouts = {doc_id: _layout_of(found) for doc_id, found in by_doc.items()}
        with self._cache_lock:
            self._layouts.update(layouts)
            self._all_layouts = True

    def doc_ids(self) -> list[str]:
        with _errors(self._target):
            rows = _iterate(self._client, self._documents, f"part == 0 and {self._filter}",
                            ["doc_id"])  # fmt: skip
        return sorted(row["doc_id"] for row in rows)


class ChunkCache:
    """A snapshot's built chunks, bounded by their estimated size (`chunk_bytes`): past
    `budget` bytes the least recently used go. Thread-safe. Entries never go stale, because
    a snapshot never changes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.bytes = 0
        self._chunks: dict[str, tuple[StoredChunk, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._chunks)

    def get(self, chunk_ids: list[str]) -> dict[str, StoredChunk]:
        """chunk_id -> chunk for those of `chunk_ids` cached (now the most recently used)."""
        found = {}
        with self._lock:
            for chunk_id in chunk_ids:
                entry = self._chunks.pop(chunk_id, None)
                if entry is not None:
                    self._chunks[chunk_id] = entry
                    found[chunk_id] = entry[0]
        return found

    def put(self, chunks: dict[str, StoredChunk]) -> None:
        """Keep `chunks`, then drop the least recently used while over the budget."""
        with self._lock:
            for chunk_id, chunk in chunks.items():
                old = self._chunks.pop(chunk_id, None)
                self.bytes -= old[1] if old else 0
                size = chunk_bytes(chunk)
                self._chunks[chunk_id] = (chunk, size)
                self.bytes += size
            while self.bytes > self.budget:
                self.bytes -= self._chunks.pop(next(iter(self._chunks)))[1]

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self.bytes = 0


def chunk_bytes(chunk: StoredChunk) -> int:
    """About the memory `chunk` holds in a cache: its texts, its vectors and their sentences'
    (each a numpy array), and the Python objects around them."""
    sentences = sum(
        sys.getsizeof(s.text) + sys.getsizeof(s.vector) + SENTENCE_OVERHEAD for s in chunk.sentences
    )
    return sys.getsizeof(chunk.text) + sys.getsizeof(chunk.vector) + CHUNK_OVERHEAD + sentences


def _top_k(ids: list[str], matrix: np.ndarray, query: np.ndarray, k: int) -> list[ScoredChunk]:
    """The `k` rows of `matrix` (row i is chunk `ids[i]`) with the largest inner product with
    `query`, best first, ties in row order (as Milvus's flat index orders them). `einsum` runs
    on this thread: numpy's BLAS threads (p95 17-30 ms) and FAISS's OpenMP ones (+3 ms to the
    BM25 search in flight) stalled or slowed the other requests on a busy 2-core machine."""
    scores = np.einsum("ij,j->i", matrix, query)
    k = min(k, len(ids))
    if k <= 0:
        return []
    best = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    best = best[np.lexsort((best, -scores[best]))]
    return [ScoredChunk(ids[i], float(scores[i])) for i in best]


def _bounded_put(cache: dict, key: str, value: Any, limit: int) -> None:
    """`cache[key] = value`, dropping the oldest entries past `limit` (caller holds the lock)."""
    cache[key] = value
    while len(cache) > limit:
        cache.pop(next(iter(cache)))


def _search_pool() -> ThreadPoolExecutor:
    """The threads that send `search_both`'s lexical half (created on first use)."""
    global _searches
    with _searches_lock:
        if _searches is None:
            _searches = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="qa-milvus")
        return _searches


def _add_vector(row: dict, with_vectors: dict[str, dict]) -> dict:
    """`row` with the vector `with_vectors` holds for its chunk (IndexCorrupt when none)."""
    chunk_id = f"{row['doc_id']}#{row['n']}"
    if chunk_id not in with_vectors:
        raise IndexCorrupt(f"the vector of chunk {chunk_id} is missing")
    return {**row, "vector": with_vectors[chunk_id]["vector"]}


def _stored_chunk(row: dict, sentences: list[dict]) -> StoredChunk:
    """A `StoredChunk` from its row and its sentences' rows (in order)."""
    doc_id, start, text = row["doc_id"], int(row["start"]), row["text"]
    stored = [
        StoredSentence(doc_id, int(s["start"]), int(s["end"]),
                       text[int(s["start"]) - start : int(s["end"]) - start],
                       np.asarray(s["vector"], dtype=np.float32))
        for s in sentences
    ]  # fmt: skip
    return StoredChunk(f"{doc_id}#{row['n']}", doc_id, row["title"], start, int(row["end"]),
                       text, stored, np.asarray(row["vector"], dtype=np.float32))  # fmt: skip


# --- schema and rows ----------------------------------------------------------------------------


def _create_meta(client: Any, name: str) -> None:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("kind", DataType.VARCHAR, max_length=64)
    schema.add_field("gen", DataType.INT64)
    schema.add_field("epoch", DataType.INT64)
    schema.add_field("value", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector
    index = client.prepare_index_params()
    index.add_index(field_name="placeholder", index_type="FLAT", metric_type="L2")
    _create(client, name, schema, index)


def _create_data(client: Any, names: tuple[str, str, str], dim: int, dense: str) -> None:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    def base(keyed: bool = False) -> Any:
        """Common fields; `keyed`: the primary key is `_sentence_key` (read back by `get`)."""
        schema = MilvusClient.create_schema(auto_id=not keyed, enable_dynamic_field=False)
        if keyed:
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=VARCHAR)
        else:
            schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field("born", DataType.INT64)
        schema.add_field("vkey", DataType.VARCHAR, max_length=VARCHAR)
        return schema

    def index(vector: str, metric: str, kind: str = "FLAT") -> Any:
        params = client.prepare_index_params()
        options = {"params": HNSW_BUILD} if kind == "HNSW" else {}
        params.add_index(field_name=vector, index_type=kind, metric_type=metric, params=options)
        params.add_index(field_name="doc_id", index_type="INVERTED")
        params.add_index(field_name="vkey", index_type="INVERTED")
        return params

    chunks = base()
    for field in ("n", "start", "end", "first", "last"):
        chunks.add_field(field, DataType.INT64)
    chunks.add_field("title", DataType.VARCHAR, max_length=VARCHAR)
    chunks.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
    chunks.add_field("terms", DataType.VARCHAR, max_length=VARCHAR, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})  # fmt: skip
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    bm25 = Function(name="terms_bm25", function_type=FunctionType.BM25,
                    input_field_names=["terms"], output_field_names=["sparse"])  # fmt: skip
    chunks.add_function(bm25)
    chunk_index = index("vector", "IP", dense.upper())
    chunk_index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                          metric_type="BM25", params={"params": BM25_PARAMS})  # fmt: skip

    sentences = base(keyed=True)
    for field in ("n", "start", "end"):
        sentences.add_field(field, DataType.INT64)
    sentences.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)

    documents = base()
    for field in ("part", "chunks", "sentences"):
        documents.add_field(field, DataType.INT64)
    documents.add_field("title", DataType.VARCHAR, max_length=VARCHAR)
    documents.add_field("sha256", DataType.VARCHAR, max_length=64)
    documents.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
    documents.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)

    for name, schema, params in zip(
        names,
        (chunks, sentences, documents),
        (chunk_index, index("vector", "IP"), index("placeholder", "L2")),
        strict=True,
    ):
        _create(client, name, schema, params)


def _create(client: Any, name: str, schema: Any, index: Any) -> None:
    """Create and load a collection; `sync=False` skips pymilvus's 0.5 s poll per index
    (the indexes of an empty collection are ready at once, and loading waits for them)."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index, sync=False)
    client.load_collection(name)


def _insert(client: Any, names: tuple[str, str, str], updates: list[DocumentUpdate], born: int):
    """Write every row of `updates` under epoch `born` (invisible until the head says so)."""
    chunk_rows, sentence_rows, document_rows = [], [], []
    for u in updates:
        key = {"doc_id": u.doc_id, "born": born, "vkey": _vkey(born, u.doc_id)}
        title = _fit(u.title)
        for n, (c, vector) in enumerate(zip(u.chunks, u.chunk_vectors, strict=True)):
            text = u.text[c.start : c.end]
            chunk_rows.append({**key, "n": n, "start": c.start, "end": c.end, "first": c.first,
                               "last": c.last, "title": title, "text": text,
                               "terms": _fit(" ".join(tokens(text))),
                               "vector": _floats(vector)})  # fmt: skip
        for n, (s, vector) in enumerate(zip(u.sentences, u.sentence_vectors, strict=True)):
            sentence_rows.append({**key, "key": _sentence_key(born, u.doc_id, n), "n": n,
                                  "start": s.start, "end": s.end,
                                  "vector": _floats(vector)})  # fmt: skip
        pieces = [u.text[i : i + TEXT_PART] for i in range(0, len(u.text), TEXT_PART)] or [""]
        for part, piece in [*enumerate(pieces), *_layout_parts(u)]:
            document_rows.append({**key, "part": part, "chunks": len(u.chunks),
                                  "sentences": len(u.sentences), "title": title,
                                  "sha256": u.sha256, "text": piece,
                                  "placeholder": [0.0, 0.0]})  # fmt: skip
    for name, rows in zip(names, (chunk_rows, sentence_rows, document_rows), strict=True):
        for batch in _batches(rows):
            client.insert(name, batch)
    _seal(client, names)


def _layout_parts(u: DocumentUpdate) -> list[tuple[int, str]]:
    """A document's layout as JSON in rows of parts -1, -2, ... (none when it has none)."""
    if not u.pages and not u.sections:
        return []
    data = json.dumps({"pages": list(u.pages), "sections": [list(s) for s in u.sections]},
                      ensure_ascii=False)  # fmt: skip
    return [(-1 - n, data[i : i + TEXT_PART]) for n, i in enumerate(range(0, len(data), TEXT_PART))]


def _seal(client: Any, names: tuple[str, ...]) -> None:
    """Flush the collections just written, so their rows move into sealed, indexed segments.
    Left growing, milvus-lite rebuilds the whole in-memory table's arrays and BM25 index on
    every search (on SQuAD's 2,277 chunks: dense 128 ms and BM25 299 ms a search; flushed:
    22 and 5 ms; docs/history/2026-11-30-milvus-latency.md). Best effort: a refused flush (a
    cluster rate-limits them) leaves the rows correct and searchable, only slower, so it never
    fails the build."""
    for name in names:
        try:
            client.flush(name)
        except Exception as exc:  # noqa: BLE001 - an optimisation, not part of the commit
            log.warning("Milvus flush of %s failed (%s); searches stay correct", name, exc)


def _batches(rows: list[dict], budget: int = 8 << 20) -> Iterator[list[dict]]:
    """`rows` in insert requests of at most `BATCH` rows and about `budget` bytes."""
    batch: list[dict] = []
    size = 0
    for row in rows:
        length = sum(
            4 * len(v) if isinstance(v, list) else len(v.encode()) if isinstance(v, str) else 8
            for v in row.values()
        )
        if batch and (size + length > budget or len(batch) >= BATCH):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += length
    if batch:
        yield batch


def _fit(text: str) -> str:
    """`text` cut to fit a VARCHAR field (65,535 UTF-8 bytes)."""
    data = text.encode("utf-8")
    return text if len(data) <= VARCHAR else data[:VARCHAR].decode("utf-8", errors="ignore")


def _floats(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


def _visible(head: _Head, dead: list[str]) -> str:
    """The filter that keeps exactly the rows of the state `head` names."""
    visible = f"born <= {head.epoch}"
    return f"{visible} and not ({_in('vkey', dead)})" if dead else visible


def _groups(values: list[str], budget: int = 48_000) -> Iterator[list[str]]:
    """`values` in groups whose JSON stays under `budget` bytes (one meta row, one filter)."""
    group: list[str] = []
    size = 0
    for value in values:
        length = len(_quote(value).encode("utf-8")) + 2
        if group and size + length > budget:
            yield group
            group, size = [], 0
        group.append(value)
        size += length
    if group:
        yield group


def _layout_of(rows: list[dict]) -> DocumentLayout:
    """A document's layout from its rows of negative part (a JSON text split across them, part
    -1 first); empty when there are none or they do not parse."""
    if not rows:
        return NO_LAYOUT
    ordered = sorted(rows, key=lambda r: -int(r["part"]))
    try:
        stored = json.loads("".join(r["text"] for r in ordered))
        return layout_from_json(stored.get("pages"), stored.get("sections"))
    except (ValueError, AttributeError):
        return NO_LAYOUT


def _iterate(client: Any, collection: str, expr: str, fields: list[str]) -> list[dict]:
    """Every row matching `expr`; past one query's 16,384-row window, read in pages."""
    rows = client.query(collection, filter=expr, output_fields=fields, limit=MAX_LIMIT)
    if len(rows) < MAX_LIMIT:
        return rows
    iterator = client.query_iterator(collection, batch_size=1000, filter=expr,
                                     output_fields=fields)  # fmt: skip
    rows = []
    try:
        while batch := iterator.next():
            rows.extend(batch)
    finally:
        iterator.close()
    return rows


@contextmanager
def _errors(target: MilvusTarget) -> Iterator[None]:
    """Turn pymilvus's exceptions into `MilvusUnavailable` with a message for a person."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise MilvusUnavailable(
            f"Milvus at {target.uri} (collection {target.name!r}): {exc.message or exc}"
        ) from exc
