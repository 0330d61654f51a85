"""The assistant: one store, one embedder and the current index snapshot, shared by callers.

In: `Settings` (and, in tests, a fake embedder or another store). Out: `refresh()` ->
`IndexReport`, `ask(question, top_k)` -> `Answer`, `ask_many(questions, top_k)` -> a list of
them, `document(doc_id)` -> `DocumentInfo`, `documents()` -> all of them. The public face of
this class is `qa.assistant.Assistant` (`from qa import Assistant`).

The snapshot in use is immutable; a rebuild (here or by another process) commits a new one and
the next call after at most `reload_interval` seconds loads it, while calls in flight finish on
the old one. Loading happens under a lock so only one thread loads; the others keep answering.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

from qa import ledger
from qa.answer import (
    WARM_SENTENCES,
    Answer,
    ScoringModel,
    answer,
    locate,
    prepare_sentences,
)
from qa.build_process import BuildRequest, ChildBuild
from qa.chunking import ChunkingOptions
from qa.config import Settings, validate_question
from qa.context import ChunkFetcher
from qa.embedding import Embedder, SentenceTransformerEmbedder
from qa.indexer import IndexReport, Progress, ProgressCallback, build_index
from qa.layout import DocumentLayout
from qa.reader import load_reader
from qa.resources import REPAIR, PackageDataError, scoring_file, template_dir
from qa.retrieval import RetrievalOptions, retrieve
from qa.stores import open_store
from qa.stores.base import (
    ChunkStore,
    DocumentInfo,
    IndexFromAnotherVersion,
    IndexProblem,
    Snapshot,
    StoredChunk,
)
from qa.version import incompatible

log = logging.getLogger(__name__)


def load_scoring(
    path: Path | None = None,
    threshold: float | None = None,
    answer_threshold: float | None = None,
) -> ScoringModel:
    """The fitted scoring model in `path` (default: the one the package ships), with the cut
    points given: `threshold` alone is the one cut (answer from it, none below, as before the
    `candidates` outcome); `answer_threshold` moves the upper cut. A missing or unreadable file
    raises `PackageDataError`."""
    path = path or scoring_file()
    try:
        model = ScoringModel.from_file(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackageDataError(f"cannot read the scoring model {path}: {exc}; {REPAIR}") from exc
    if threshold is not None:
        model = replace(model, threshold=threshold, answer_threshold=answer_threshold)
    elif answer_threshold is not None:
        model = replace(model, answer_threshold=answer_threshold)
    return model


class Assistant:
    """Answers questions from the index of `settings.docs_dir`; safe to share across threads.

    `preload` (servers): a snapshot that can fill its cache ahead of questions (Milvus) starts
    doing so in a background thread whenever it is loaded."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
        reload_interval: float = 1.0,
        chunking: ChunkingOptions = ChunkingOptions(),
        retrieval: RetrievalOptions = RetrievalOptions(),
        preload: bool = False,
        build_in_child: bool = False,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.model,
            query_encoder=settings.query_encoder,
            document_encoder=settings.document_encoder,
        )
        self.store = store or open_store(settings)
        self.reload_interval = reload_interval
        self.chunking = chunking
        self.retrieval = retrieval
        self.preload = preload
        self.scoring = load_scoring(
            threshold=settings.threshold, answer_threshold=settings.answer_threshold
        )
        self.reader = load_reader(settings.reader)
        template_dir()  # the answer template: missing means a broken install, say so now
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()
        self._build_lock = threading.Lock()
        # Servers: each build runs in a child process (`qa.build_process`), never in this one.
        self._child = ChildBuild() if build_in_child else None

    def refresh(
        self,
        progress: bool = False,
        switch: bool = True,
        allow_removals: bool | None = None,
        on_progress: ProgressCallback | None = None,
        expected_removals: frozenset[str] = frozenset(),
    ) -> IndexReport:
        """Bring the index up to date with the docs folder; with `switch`, start using it.
        `allow_removals` (default: the settings') lets it remove most of the index's documents;
        without it such a refresh raises `TooManyRemovals` and changes nothing; documents in
        `expected_removals` (removed on purpose) do not count towards that. `on_progress`
        hears of each stage (`qa.indexer.Progress`). Records when each document version
        entered the index (`qa.ledger`)."""
        if allow_removals is None:
            allow_removals = self.settings.allow_removals
        with self._build_lock:
            if self._child is not None:
                request = BuildRequest(
                    self.settings, self.embedder, self.chunking, allow_removals, expected_removals
                )
                report = self._child.run(request, on_progress or _ignore)
            else:
                report = build_index(
                    self.settings,
                    self.embedder,
                    self.store,
                    self.chunking,
                    progress,
                    allow_removals,
                    on_progress,
                    expected_removals,
                )
        if switch:
            self._checked_at = 0.0
            self.snapshot()
        return report

    def stop_build(self) -> None:
        """Stop a build running in a child process now (the index in use stays)."""
        if self._child is not None:
            self._child.kill()

    def snapshot(self) -> Snapshot:
        """The current snapshot, reloaded when the store committed a newer one.

        Raises IndexMissing or IndexCorrupt when there is no usable index at all."""
        current = self._snapshot
        now = time.monotonic()
        if current is not None and now - self._checked_at < self.reload_interval:
            return current
        if not self._load_lock.acquire(blocking=current is None):
            return current  # type: ignore[return-value]  # another thread is loading
        try:
            self._checked_at = time.monotonic()
            if self._snapshot is None or self._snapshot.version != self._version():
                try:
                    fresh = self._open()
                except IndexProblem as exc:
                    if self._snapshot is None:
                        raise
                    # Keep answering from the snapshot in memory; the next build repairs it.
                    log.warning("keeping index %s: %s", self._snapshot.version, exc)
                    return self._snapshot
                self._warm(fresh)
                self._snapshot = fresh
            return self._snapshot
        finally:
            self._load_lock.release()

    def _open(self) -> Snapshot:
        """The store's current state; IndexFromAnotherVersion when another major version of
        the package wrote it (a build replaces it; until then it is not read)."""
        snapshot = self.store.open()
        why = incompatible(getattr(snapshot, "built_by", None))
        if why:
            settings = self.settings
            command = (
                settings.builder_command()
                if settings.shared_store
                else f"qa index --index {settings.index_dir}"
            )
            raise IndexFromAnotherVersion(f"{why}; rebuild it with `{command}`")
        return snapshot

    def _warm(self, snapshot: Snapshot) -> None:
        """Build what a snapshot computes lazily (search structures, chunks, per-sentence
        signals) before it serves, so questions do not pay for it, and with `preload` start
        filling its cache in the background. Optional for a store."""
        warm = getattr(snapshot, "warm", None)
        if warm is not None:
            warm()
        sentence_texts = getattr(snapshot, "sentence_texts", None)
        if sentence_texts is not None:
            prepare_sentences(sentence_texts(WARM_SENTENCES))
        if self.preload and hasattr(snapshot, "preload"):
            threading.Thread(
                target=_preload, args=(snapshot,), name="qa-preload", daemon=True
            ).start()

    def _version(self) -> str | None:
        """The store's current version; None (meaning "changed") when it cannot be read, so
        the load that follows reports the problem or keeps the snapshot in memory."""
        try:
            return self.store.version()
        except IndexProblem:
            return None

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        """Answer `question` from the current snapshot; ValueError for a bad question."""
        started = time.perf_counter()
        question = validate_question(question)
        top_k = self.settings.top_k if top_k is None else top_k
        return self._answer(question, top_k, self.snapshot(), started)

    def ask_many(self, questions: list[str], top_k: int | None = None) -> list[Answer]:
        """Answer each of `questions`, in order, all from the same snapshot (each answer is
        the one `ask` gives). Every question is checked first: ValueError, naming the
        question's position, before any is answered."""
        checked = []
        for n, question in enumerate(questions, start=1):
            try:
                checked.append(validate_question(question))
            except ValueError as exc:
                raise ValueError(f"question {n}: {exc}") from None
        if not checked:
            return []
        top_k = self.settings.top_k if top_k is None else top_k
        snapshot = self.snapshot()
        return [self._answer(q, top_k, snapshot, time.perf_counter()) for q in checked]

    def _answer(self, question: str, top_k: int, snapshot: Snapshot, started: float) -> Answer:
        """The answer to a checked `question` from `snapshot`; `took_ms` counts from
        `started` (a `time.perf_counter()`)."""
        vector = self.embedder.encode_query(question)
        depth = max(top_k, self.retrieval.rerank)
        passages = retrieve(snapshot, question, vector, depth, self.retrieval)
        result = answer(
            question, vector, passages, self.scoring, top_k=top_k, reader=self.reader,
            fetch=_fetcher(snapshot),
        )  # fmt: skip
        result.citations = locate(result.citations, snapshot.layout)
        result.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    def indexed_at(self) -> dict[str, ledger.Indexed]:
        """When each document's current version entered the index (may lack some)."""
        return ledger.read(self.settings.index_dir)

    def document(self, doc_id: str) -> DocumentInfo | None:
        """The stored document `doc_id`, or None when the index has no such document."""
        return self.snapshot().document(doc_id)

    def documents(self) -> list[DocumentInfo]:
        """Every document of the current snapshot, sorted by doc_id."""
        snapshot = self.snapshot()
        found = (snapshot.document(doc_id) for doc_id in sorted(snapshot.doc_ids()))
        return [info for info in found if info is not None]

    def layout(self, doc_id: str) -> DocumentLayout:
        """The stored document's page starts and headings (empty when unknown)."""
        return self.snapshot().layout(doc_id)


def _ignore(progress: Progress) -> None:
    """No one listens to this build's progress."""


def _fetcher(snapshot: Snapshot) -> ChunkFetcher:
    """`snapshot.chunk`, None for a chunk it does not hold (a quote's context is then shorter,
    never an error)."""

    def fetch(chunk_id: str) -> StoredChunk | None:
        try:
            return snapshot.chunk(chunk_id)
        except (KeyError, IndexProblem) as exc:
            log.debug("no chunk %s for a context: %s", chunk_id, exc)
            return None

    return fetch


def _preload(snapshot: Snapshot) -> None:
    """`snapshot.preload()`, in a background thread: a failure is logged, not raised (questions
    then read what they need, as without it)."""
    try:
        snapshot.preload()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - an optimisation; questions do not depend on it
        log.warning("could not preload index %s: %s", snapshot.version, exc)
