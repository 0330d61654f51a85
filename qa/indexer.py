"""Bring a store up to date with a docs folder, embedding only what changed.

In: a docs folder, a `ChunkStore`, an `Embedder`. Out: an `IndexReport` (the `qa index --json`
object). Documents are compared by the sha256 of their bytes: unchanged ones keep their stored
vectors, new and changed ones are extracted, chunked and embedded, vanished ones are deleted.
If the store was built with another model or dimension, or by another major version of the
package (`qa.version.incompatible`), everything is rebuilt; documents of a format whose text
reader changed since they were read (`qa.documents.READER_REVISIONS`) are read again. All changes go
to the store in one `apply`, which is atomic: a failure anywhere leaves the old index as it was.

A caller may follow a refresh with `on_progress`, which gets a `Progress` at each stage:
reading (files extracted, of those to read), chunking, embedding (texts encoded, of all),
writing; `qa index` prints them on a terminal, the server shows them on its page.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from qa import ledger
from qa.build_helper import BuildHelper, Pieces, to_tag
from qa.chunking import ChunkingOptions, ChunkSpan, Span, chunk_document
from qa.config import Settings
from qa.documents import (
    DEFAULT_MAX_BYTES,
    Document,
    Skipped,
    SourceFile,
    reader_revision,
    scan,
)
from qa.embedding import Embedder
from qa.file_budget import FileBudget
from qa.file_worker import Counter, FileWorker
from qa.short_answer import Entity, extract_entities, ner_model_id, tagger_loaded
from qa.stores.base import ChunkStore, DocumentUpdate, IndexCorrupt, IndexState
from qa.version import incompatible

log = logging.getLogger(__name__)


class DocsFolderError(Exception):
    """The docs folder is missing or not a folder."""


# A refresh may remove at most this share of the index's documents (or this many, whichever
# is more) unless told `allow_removals`: a wrong working directory, an unmounted drive or a
# half-synced folder looks like "most documents were deleted".
REMOVAL_GUARD_SHARE = 0.5
REMOVAL_GUARD_MIN = 5


class TooManyRemovals(Exception):
    """A refresh would remove more than half of the index's documents; nothing was changed.

    `folder`, `removing` (documents the folder no longer has) and `indexed` (documents in the
    index) say what; the message says how to go ahead anyway."""

    def __init__(self, folder: Path, removing: int, indexed: int) -> None:
        self.folder, self.removing, self.indexed = folder, removing, indexed
        super().__init__(
            f"refusing to remove {removing} of the {indexed} indexed documents: docs folder "
            f"{folder} holds only {indexed - removing} of them (wrong folder, unmounted drive or "
            "half-synced copy?); nothing was changed. If they were really deleted, run again "
            "with --allow-removals (HTTP: POST /index/rebuild?allow_removals=true)"
        )

    def __reduce__(self) -> tuple[type, tuple[Path, int, int]]:
        """Pickled by its numbers (a build in a child process raises it to the server)."""
        return (TooManyRemovals, (self.folder, self.removing, self.indexed))

    def counts(self) -> dict[str, object]:
        """The numbers, for a JSON error reply."""
        return {"folder": str(self.folder), "removing": self.removing, "indexed": self.indexed}


def check_removals(
    folder: Path,
    indexed: set[str],
    present: set[str],
    allow: bool,
    expected: frozenset[str] = frozenset(),
) -> None:
    """Raise `TooManyRemovals` when `present` lacks more than half of `indexed` (and more than
    `REMOVAL_GUARD_MIN` of them), unless `allow`. Documents in `expected` (removed on purpose,
    one by one, e.g. from the page) do not count."""
    removing = len(indexed - present - expected)
    too_many = removing > REMOVAL_GUARD_MIN and removing > REMOVAL_GUARD_SHARE * len(indexed)
    if too_many and not allow:
        raise TooManyRemovals(folder, removing, len(indexed))


# A build whose process has not loaded the entity tagger loads it (seconds) only when it
# reads at least this much: a smaller one stores no entities, and questions tag their quotes
# themselves (a server loads the tagger for that anyway).
TAG_APART_MIN_BYTES = 256 * 1024

# How many texts the embedder encodes between two `Progress` reports.
EMBED_STEP = 256


@dataclass(frozen=True)
class Progress:
    """Where a refresh is: `stage` (reading, chunking, embedding, writing) and, when known,
    `done` of `total` (files read, documents chunked, texts embedded)."""

    stage: str
    done: int = 0
    total: int = 0

    def describe(self) -> str:
        """One short line, e.g. `embedding 256 of 1024`."""
        return f"{self.stage} {self.done} of {self.total}" if self.total else self.stage


ProgressCallback = Callable[[Progress], None]

# The phases `IndexReport.timings` names: finding files and reading the stored state,
# extracting and chunking the files (the file worker; the model loads meanwhile), waiting for
# the model load still running after that, chunking left to this process, encoding, tagging
# named entities (what is left after the encode), writing the store.
PHASES = ("scanning", "extracting", "loading", "chunking", "embedding", "tagging", "writing")


class PhaseTimer:
    """Adds up wall seconds per phase: `with timer("embedding"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.seconds[phase] = self.seconds.get(phase, 0.0) + spent

    def rounded(self) -> dict[str, float]:
        """The phases that took any time, in `PHASES` order, to the millisecond."""
        return {p: round(self.seconds[p], 3) for p in PHASES if p in self.seconds}


def _quiet(progress: Progress) -> None:
    """The default `on_progress`: reports nothing."""


@dataclass
class IndexReport:
    """What a refresh did; `asdict` of it is the `qa index --json` contract object."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    rebuilt: bool = False
    reason: str = ""
    # Wall seconds of each phase of this refresh (`PHASES`), summing to about `seconds`:
    # where a build's time goes (`qa bench`'s PDF part reports their shares).
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def refresh(
    docs_dir: Path,
    store: ChunkStore,
    embedder: Embedder,
    options: ChunkingOptions = ChunkingOptions(),
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = False,
    tag_entities: bool = False,
    allow_removals: bool = False,
    on_progress: ProgressCallback | None = None,
    expected_removals: frozenset[str] = frozenset(),
    budget: FileBudget | None = None,
) -> IndexReport:
    """Make `store` reflect `docs_dir` now. Holds the store's lock for the whole refresh.
    With `tag_entities`, the named entities of the sentences `stored_at_build` picks are
    tagged and stored too (see `_embed`). Raises `TooManyRemovals`, having changed nothing,
    when the folder lacks more than half of the indexed documents (not counting
    `expected_removals`), unless `allow_removals`. `on_progress` hears of each stage. Each
    file is extracted and chunked within `budget` (default `FileBudget.from_env()`; see
    `qa.file_worker`): one over it is skipped with its reason."""
    started = time.perf_counter()
    docs_dir = Path(docs_dir)
    if not docs_dir.is_dir():
        raise DocsFolderError(f"docs folder {docs_dir} does not exist or is not a folder")
    run = _Run(
        on_progress or _quiet,
        progress,
        tag_entities,
        allow_removals,
        expected_removals,
        budget or FileBudget.from_env(),
    )
    with store.lock():
        report = _refresh_locked(docs_dir, store, embedder, options, max_bytes, run)
    report.seconds = round(time.perf_counter() - started, 3)
    report.timings = run.timer.rounded()
    return report


@dataclass(frozen=True)
class _Run:
    """How one refresh runs: who hears of its progress, the terminal progress bar, entity
    tagging, and the removal guard's settings."""

    on_progress: ProgressCallback
    progress: bool = False
    tag_entities: bool = False
    allow_removals: bool = False
    expected_removals: frozenset[str] = frozenset()
    budget: FileBudget = FileBudget()
    timer: PhaseTimer = field(default_factory=PhaseTimer)


def _refresh_locked(
    docs_dir: Path,
    store: ChunkStore,
    embedder: Embedder,
    options: ChunkingOptions,
    max_bytes: int,
    run: _Run,
) -> IndexReport:
    report = IndexReport()
    run.on_progress(Progress("reading"))
    with run.timer("scanning"):
        sources, skipped = scan(docs_dir, max_bytes)
        if not sources and not skipped:
            raise DocsFolderError(
                f"docs folder {docs_dir} holds no documents; add .txt, .md, .html, .pdf, "
                ".docx or .pptx files"
            )
        stored, state, report.reason = _usable_state(store, embedder)
    known = stored.hashes if stored else {}  # for the counts, even when nothing is reusable
    reusable = _reusable(state, sources)
    reread = _reread(state.hashes if state else {}, reusable, sources)
    if reread and not report.reason:
        report.reason = f"re-read {reread}: a newer text reader"
    current = {s.doc_id for s in sources}
    check_removals(docs_dir, set(known), current, run.allow_removals, run.expected_removals)
    try:
        updates, deletes = _apply(
            sources, skipped, known, state, reusable, store, embedder, options, run
        )
    except IndexCorrupt as exc:
        # The stored vectors cannot be reused after all: embed everything again.
        state, reusable, report.reason = None, {}, f"rebuilt: {exc}"
        skipped[:] = [s for s in skipped if s.path not in current]
        updates, deletes = _apply(sources, skipped, known, None, {}, store, embedder, options, run)
    report.rebuilt = state is None and (stored is not None or bool(report.reason))
    unchanged = [s.doc_id for s in sources if reusable.get(s.doc_id) == s.sha256]
    report.added = sum(1 for u in updates if u.doc_id not in known)
    report.updated = len(updates) - report.added
    report.removed = len(deletes)
    report.unchanged = len(unchanged)
    report.documents = len(unchanged) + len(updates)
    report.embedded = sum(len(u.chunks) for u in updates)
    reused = state.chunks if state else {}
    report.chunks = report.embedded + sum(reused[d] for d in unchanged)
    report.skipped = [{"path": s.path, "reason": s.reason} for s in skipped]
    return report


def _apply(
    sources: list[SourceFile],
    skipped: list[Skipped],
    known: dict[str, str],
    state: IndexState | None,
    reusable: dict[str, str],
    store: ChunkStore,
    embedder: Embedder,
    options: ChunkingOptions,
    run: _Run,
) -> tuple[list[DocumentUpdate], list[str]]:
    """Embed what `state` cannot supply (`reusable`: doc_id -> sha256 of the stored documents
    it can, see `_reusable`), write it with the deletes; return both."""
    todo = [s for s in sources if reusable.get(s.doc_id) != s.sha256]
    # The model's imports (seconds) run beside the file worker, which reads and chunks, and
    # the entity tagger loads in a helper process meanwhile (see `_embed`).
    loading = _ModelLoad(embedder) if todo and not getattr(embedder, "loaded", True) else None
    tag_here = run.tag_entities and tagger_loaded()
    tag_apart = run.tag_entities and not tag_here and _worth_a_tagger(todo)
    run = replace(run, tag_entities=tag_here or tag_apart)
    with BuildHelper() if tag_apart else nullcontext() as helper:
        documents, pieces, failed = _extract(todo, skipped, embedder, options, run)
        if loading is not None:
            with run.timer("loading"):
                loading.wait(raise_error=bool(documents))
        updates = _embed(documents, pieces, embedder, run, helper) if documents else []
    deletes = sorted((set(known) - {s.doc_id for s in sources}) | (failed & set(known)))
    if updates or deletes or state is None:
        run.on_progress(Progress("writing"))
        with run.timer("writing"):
            dim = state.dim if state else embedder.dim
            store.apply(embedder.name, dim, updates, deletes, reset=state is None)
    return updates, deletes


def _suffix(source: SourceFile) -> str:
    return Path(source.doc_id).suffix.lower()


def _reusable(state: IndexState | None, sources: list[SourceFile]) -> dict[str, str]:
    """doc_id -> sha256 of the stored documents whose vectors may be kept when the file's hash
    is the same: all of `state`'s but those its format's text reader read at another revision
    than this package's (`qa.documents.reader_revision`; an index that records none read
    every format at revision 1): their stored text is not what reading them now gives."""
    if state is None:
        return {}
    recorded = state.readers or {}
    stale = {s.doc_id for s in sources
             if recorded.get(_suffix(s), 1) != reader_revision(_suffix(s))}  # fmt: skip
    return {doc_id: sha for doc_id, sha in state.hashes.items() if doc_id not in stale}


def _reread(held: dict[str, str], reusable: dict[str, str], sources: list[SourceFile]) -> str:
    """What a refresh reads again because its text reader changed ("3 .pdf documents": held
    in the index, `held`, but not `reusable`), or "" when nothing."""
    counts: dict[str, int] = {}
    for source in sources:
        if source.doc_id in held and source.doc_id not in reusable:
            counts[_suffix(source)] = counts.get(_suffix(source), 0) + 1
    return ", ".join(f"{n} {suffix} document{'s' if n > 1 else ''}"
                     for suffix, n in sorted(counts.items()))  # fmt: skip


def _usable_state(
    store: ChunkStore, embedder: Embedder
) -> tuple[IndexState | None, IndexState | None, str]:
    """(what is stored, what of it can be reused with this model, why not when it cannot)."""
    try:
        stored = store.state()
    except IndexCorrupt as exc:
        return None, None, f"rebuilt: {exc}"
    if stored is None:
        return None, None, ""
    if stored.model != embedder.name:
        why = f"rebuilt: index was built with model {stored.model!r}, not {embedder.name!r}"
        return stored, None, why
    other_version = incompatible(stored.built_by)
    if other_version:
        return stored, None, f"rebuilt: {other_version}"
    return stored, stored, ""


def _worth_a_tagger(todo: list[SourceFile]) -> bool:
    """Whether a build reading `todo` should load the entity tagger (`TAG_APART_MIN_BYTES`)."""
    return sum(source.size for source in todo) >= TAG_APART_MIN_BYTES


class _ModelLoad:
    """`embedder.load()` in a thread; `wait()` joins it (and re-raises its error if asked)."""

    def __init__(self, embedder: Embedder) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._load, args=(embedder,), name="qa-model-load", daemon=True
        )
        self._thread.start()

    def _load(self, embedder: Embedder) -> None:
        try:
            getattr(embedder, "load", lambda: None)()
        except BaseException as exc:  # noqa: BLE001 - re-raised by `wait` in the build's thread
            self._error = exc

    def wait(self, raise_error: bool) -> None:
        self._thread.join()
        if raise_error and self._error is not None:
            raise self._error


def _extract(
    todo: list[SourceFile],
    skipped: list[Skipped],
    embedder: Embedder,
    options: ChunkingOptions,
    run: _Run,
) -> tuple[list[Document], Pieces, set[str]]:
    """Read and chunk each file of `todo` in a `FileWorker`, within `run.budget`: (the
    documents, their sentences and chunks, the doc_ids skipped); skips go to `skipped`."""
    documents: list[Document] = []
    found: list[tuple[list[Span], list[ChunkSpan]] | None] = []
    failed: set[str] = set()
    with run.timer("extracting"), FileWorker(run.budget, options, _counter(embedder)) as worker:
        for done, source in enumerate(todo):
            run.on_progress(Progress("reading", done, len(todo)))
            result = worker.read(source)
            if isinstance(result, str):
                skipped.append(Skipped(source.doc_id, result))
                failed.add(source.doc_id)
            else:
                documents.append(result.document)
                found.append(result.pieces)
    skipped.sort(key=lambda s: s.path)
    run.on_progress(Progress("chunking", 0, len(documents)))
    with run.timer("chunking"):
        pieces = [
            given if given is not None else chunk_document(d.text, embedder.count_tokens, options)
            for d, given in zip(documents, found, strict=True)
        ]
    return documents, pieces, failed


def _counter(embedder: Embedder) -> Counter:
    """How the file worker counts tokens like `embedder`: its `tokenizer.json`, else its
    `count_tokens` when that can be pickled, else None (chunked here, outside the budget)."""
    tokenizer_file = getattr(embedder, "tokenizer_file", None)
    if tokenizer_file is not None:
        return Path(tokenizer_file)
    try:
        pickle.dumps(embedder.count_tokens)
    except Exception:  # noqa: BLE001 - any pickling failure means "count here"
        return None
    return embedder.count_tokens


def _embed(
    documents: list[Document],
    pieces: Pieces,
    embedder: Embedder,
    run: _Run,
    helper: BuildHelper | None,
) -> list[DocumentUpdate]:
    """Encode all sentences and chunks of the chunked `documents` in one batched call, and tag
    the named entities of the sentences `stored_at_build` picks (`tag_entities`).

    With a `helper` (`qa.build_helper`: a build whose process has not loaded the tagger, such
    as `qa index` or a server's build process), tagging runs there, beside the encode, with
    the tagger it loaded while the files were read; otherwise here, after the encode."""
    texts = [d.text for d in documents]
    wanted = to_tag(texts, pieces) if run.tag_entities else []
    if helper is not None and wanted:
        helper.send(texts, ChunkingOptions(), Path(), True, pieces)
    with run.timer("embedding"):
        vectors = _encode(embedder, _texts(texts, pieces), run)
    with run.timer("tagging"):
        if helper is not None and wanted:
            tagged = helper.entities()
        else:
            tagged = _tag_here([text for *_, text in wanted]) if wanted else None
    entities, model = _by_document(len(documents), wanted, tagged)
    updates, row = [], 0
    for n, (document, (sentences, chunks)) in enumerate(zip(documents, pieces, strict=True)):
        sentence_vectors = vectors[row : row + len(sentences)]
        row += len(sentences)
        chunk_vectors = vectors[row : row + len(chunks)]
        row += len(chunks)
        updates.append(DocumentUpdate(
            document.doc_id, document.title, document.sha256, document.text,
            sentences, chunks, np.asarray(sentence_vectors), np.asarray(chunk_vectors),
            entities[n], model, document.pages, document.sections,
        ))  # fmt: skip
    return updates


def _encode(embedder: Embedder, texts: list[str], run: _Run) -> np.ndarray:
    """`embedder.encode(texts)`, in steps of `EMBED_STEP` texts with a `Progress` after each
    when someone listens (one call otherwise: the embedder batches best on its own)."""
    if run.on_progress is _quiet or len(texts) <= EMBED_STEP:
        run.on_progress(Progress("embedding", 0, len(texts)))
        vectors = embedder.encode(texts, progress=run.progress)
        run.on_progress(Progress("embedding", len(texts), len(texts)))
        return vectors
    parts = []
    for start in range(0, len(texts), EMBED_STEP):
        run.on_progress(Progress("embedding", start, len(texts)))
        parts.append(embedder.encode(texts[start : start + EMBED_STEP], progress=run.progress))
    run.on_progress(Progress("embedding", len(texts), len(texts)))
    return np.concatenate(parts)


def _texts(texts: list[str], pieces: Pieces) -> list[str]:
    """What a build encodes: each document's sentences, then its chunks."""
    out: list[str] = []
    for text, (sentences, chunks) in zip(texts, pieces, strict=True):
        out += [text[s.start : s.end] for s in sentences]
        out += [text[c.start : c.end] for c in chunks]
    return out


def _tag_here(texts: list[str]) -> list[tuple[Entity, ...]] | None:
    """`extract_entities(texts)` in this process; None without the tagger or when it fails:
    the build goes on, and questions tag their quotes themselves."""
    try:
        return extract_entities(texts)
    except Exception as exc:  # noqa: BLE001 - stored entities are an optimization
        log.warning("named entities not stored with this build: %s", exc)
        return None


def _by_document(
    count: int, wanted: list[tuple[int, int, str]], tagged: list[tuple[Entity, ...]] | None
) -> tuple[list[dict[int, tuple[Entity, ...]]], str | None]:
    """Per document, sentence number -> entities, and the tagger's id (None: nothing tagged)."""
    found: list[dict[int, tuple[Entity, ...]]] = [{} for _ in range(count)]
    model = ner_model_id()
    if tagged is None or model is None:
        return found, None
    for (n, i, _), entities in zip(wanted, tagged, strict=True):
        found[n][i] = entities
    return found, model


def build_index(
    settings: Settings,
    embedder: Embedder,
    store: ChunkStore,
    chunking: ChunkingOptions = ChunkingOptions(),
    progress: bool = False,
    allow_removals: bool = False,
    on_progress: ProgressCallback | None = None,
    expected_removals: frozenset[str] = frozenset(),
) -> IndexReport:
    """Bring `store` up to date with `settings.docs_dir` (`qa.indexer.refresh`, within
    `settings.file_budget`) and record when each document version entered it (`qa.ledger`)."""
    report = refresh(
        settings.docs_dir,
        store,
        embedder,
        chunking,
        settings.max_bytes,
        progress,
        settings.entities_at_build,
        allow_removals,
        on_progress,
        expected_removals,
        settings.file_budget,
    )
    state = store.state()
    ledger.record(settings.index_dir, state.hashes if state else {})
    return report
