"""The index's life inside the server: first build, readiness, one rebuild at a time, --watch.

In: an `Assistant` and the admin token. Out: `Service`, which the routes share: `ready` (set
once questions can be answered), `check_ready()` (raises `NotReady`), `rebuild()` (waits while
another rebuild runs, then refreshes and switches), `answer_json()` and `ask()` (a question on
the answer executor), `start(build, watch)` and `stop()`.

On start a background thread brings the index up to date and warms the model; until then
questions get a 503 that says so. Rebuilds take turns on one lock: a second request waits for
the running one, then runs its own refresh, so its report reflects the folder as it was when it
asked. Queries are answered from the old snapshot until the new one is switched in. An index
rebuilt by another process (`qa index`) is picked up by `Assistant.snapshot()`, which checks
the store's version at most once a second.

Answering is CPU-bound (encoding the question), so questions run on a small executor of their
own (`answer_workers` threads, default one per CPU) rather than in the web framework's large
thread pool: under load requests queue for a worker instead of all running the model at once,
and the event loop, /health and the pages stay free.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from qa.config import Role
from qa.embedding import ModelError
from qa.indexer import DocsFolderError, IndexReport, Progress, TooManyRemovals
from qa.pipeline import Assistant
from qa.short_answer import find_short_answer
from qa.stores.base import IndexProblem
from qa.version import __version__

log = logging.getLogger("qa.server")

WATCH_QUIET_MS = 500  # rebuild once the docs folder has been quiet this long...
WATCH_MAX_WAIT_MS = 3000  # ...or at the latest this long after the first change
STOP_WAIT_SECONDS = 2.0  # how long shutdown waits for background threads
READER_RETRY_SECONDS = 2.0  # a reader-only server looks again for its shared index this often
WARM_UP_QUESTION = "When did Luxon take office?"
ANSWER_WORKERS_ENV = "QA_ANSWER_WORKERS"  # threads answering questions (default: CPUs)
# Failures a person can fix (docs folder, index, model); shown as a 503 with their message.
PRODUCT_ERRORS = (DocsFolderError, IndexProblem, ModelError)


class NotReady(Exception):
    """A question arrived before the index was ready."""


class ReaderOnly(Exception):
    """A rebuild was asked of a server that only reads its shared store."""


class Service:
    """What the routes share: the one Assistant, whether it is ready, and one rebuild at a
    time. Background work (first build, folder watcher) runs in daemon threads."""

    def __init__(
        self,
        assistant: Assistant,
        admin_token: str | None,
        answer_workers: int | None = None,
        role: Role | None = None,
    ) -> None:
        self.assistant = assistant
        # builder (refreshes from its docs folder) or reader-only (never writes the store)
        self.role = role or assistant.settings.role()
        self.admin_token = admin_token or None
        self.answer_workers = answer_workers or default_answer_workers()
        self._answers: ThreadPoolExecutor | None = None
        self._answers_lock = threading.Lock()
        self.ready = threading.Event()
        self.error: str | None = None
        self.last_report: IndexReport | None = None
        self._rebuild_lock = threading.Lock()
        self._rebuilding = False
        self.progress: Progress | None = None  # the running rebuild's stage
        self.rebuild_error: str | None = None  # why the last background rebuild failed
        self.rebuilds = 0  # rebuilds finished (or failed) since start: pages watch it change
        self._expected_removals: set[str] = set()  # removed from the page, not yet rebuilt
        self._pending: Future[IndexReport] | None = None  # a queued rebuild others may join
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding

    def answer_json(self, question: str, top_k: int | None) -> asyncio.Future[bytes]:
        """`assistant.ask(question, top_k)` as the JSON bytes of `Answer.to_dict()`, computed
        on the answer executor; await it from the event loop. Raises what `ask` raises
        (ValueError for a bad question, the `PRODUCT_ERRORS`)."""

        def work() -> bytes:
            return orjson.dumps(self.assistant.ask(question, top_k).to_dict())

        return asyncio.get_running_loop().run_in_executor(self._executor(), work)

    def ask(self, question: str, top_k: int | None) -> dict[str, Any]:
        """`assistant.ask(question, top_k).to_dict()` on the answer executor, for callers in a
        worker thread (the page): waits for its turn like the API's questions."""
        future = self._executor().submit(self.assistant.ask, question, top_k)
        return future.result().to_dict()

    def _executor(self) -> ThreadPoolExecutor:
        with self._answers_lock:
            if self._answers is None:
                self._answers = ThreadPoolExecutor(
                    self.answer_workers, thread_name_prefix="qa-answer"
                )
            return self._answers

    def check_builder(self) -> None:
        """Raise `ReaderOnly` unless this server may write its index (and its docs folder)."""
        if not self.role.builder:
            raise ReaderOnly(
                f"this server is reader-only: it answers from {self.role.store} and never writes "
                f"to it. Rebuild with `{self.assistant.settings.builder_command()}` on the machine "
                "that holds the documents, or start a server with --docs DIR or --watch"
            )

    def rebuild(
        self, allow_removals: bool = False, on_locked: Callable[[], None] | None = None
    ) -> IndexReport:
        """Bring the index up to date and switch to it; waits while another rebuild runs
        (`on_locked` is called once it no longer waits).

        Raises `ReaderOnly` on a reader-only server (nothing is written) and
        `TooManyRemovals` (nothing changed) unless `allow_removals` or the settings allow it."""
        self.check_builder()
        report = self._refresh(allow_removals or self.assistant.settings.allow_removals, on_locked)
        self.error = None
        self.ready.set()
        return report

    def rebuild_in_background(
        self, allow_removals: bool = False, on_locked: Callable[[], None] | None = None
    ) -> Future[IndexReport]:
        """`rebuild()` in a daemon thread, as a future. A request awaiting it never holds up
        the process's exit: on shutdown the thread just stops, which leaves the index as a
        crash would (the previous generation live; the next build removes the half-written
        one)."""
        future: Future[IndexReport] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.rebuild(allow_removals, on_locked))
                self.rebuild_error = None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                self.rebuild_error = str(exc) or type(exc).__name__
                log.warning("rebuild failed: %s", self.rebuild_error)
                future.set_exception(exc)
            finally:
                self.rebuilds += 1

        threading.Thread(target=work, name="qa-rebuild", daemon=True).start()
        return future

    def request_rebuild(self) -> Future[IndexReport]:
        """A rebuild that will see the docs folder as it is now, in the background: joins a
        rebuild that is queued but not started yet, else queues a new one. Uploads and
        removals call it, so a burst of them costs one or two rebuilds, not one each."""
        with self._pending_lock:
            if self._pending is not None:
                return self._pending
            queued: list[Future[IndexReport]] = []

            def unqueue() -> None:
                """It started (or failed): later requests must queue a new one."""
                with self._pending_lock:
                    if queued and self._pending is queued[0]:
                        self._pending = None

            future = self.rebuild_in_background(on_locked=unqueue)
            queued.append(future)  # before `unqueue` can run: it waits for this lock
            self._pending = future
            future.add_done_callback(lambda _: unqueue())
            return future

    def expect_removal(self, doc_id: str) -> None:
        """`doc_id` was removed on purpose: the removal guard does not count it."""
        self._expected_removals.add(doc_id)

    def _refresh(
        self, allow_removals: bool = False, on_locked: Callable[[], None] | None = None
    ) -> IndexReport:
        with self._rebuild_lock:
            if on_locked is not None:
                on_locked()
            self._rebuilding = True
            self.progress = Progress("starting")
            expected = frozenset(self._expected_removals)
            try:
                self.last_report = self.assistant.refresh(
                    allow_removals=allow_removals,
                    on_progress=self._on_progress,
                    expected_removals=expected,
                )
                self._expected_removals -= expected
                self.rebuild_error = None
            except BaseException as exc:
                # Said on /index/status, /health and the page until a build succeeds.
                self.rebuild_error = str(exc) or type(exc).__name__
                raise
            finally:
                self._rebuilding = False
                self.progress = None
        return self.last_report

    def _on_progress(self, progress: Progress) -> None:
        self.progress = progress

    def status(self) -> dict[str, Any]:
        """The `GET /index/status` object: whether a rebuild runs or is queued, its stage and
        how far it got (`done` of `total`, `percent` of the whole rebuild), how many rebuilds
        have finished, the last one's report and error, and the index in use."""
        progress = self.progress
        version = None
        documents = chunks = 0
        if self.ready.is_set():
            try:
                snapshot = self.assistant.snapshot()
                version, documents, chunks = (
                    snapshot.version,
                    snapshot.document_count,
                    snapshot.chunk_count,
                )
            except IndexProblem:
                pass
        return {
            "rebuilding": progress is not None,
            "queued": self._pending is not None,
            "stage": progress.stage if progress else None,
            "done": progress.done if progress else 0,
            "total": progress.total if progress else 0,
            "percent": percent(progress) if progress else None,
            "message": progress.describe() if progress else "idle",
            "rebuilds": self.rebuilds,
            "last_rebuild": self.last_report.to_dict() if self.last_report else None,
            "error": self.rebuild_error,
            "index_version": version,
            "documents": documents,
            "chunks": chunks,
        }

    def health(self) -> dict[str, Any]:
        """The `GET /health` object: status (`ok`, `starting` or `error`), index size, model,
        index version, whether a rebuild runs, the last rebuild's report, the last error, and
        the server's `mode` (builder or reader-only), `docs` (where documents come from),
        `store` (the index, without credentials) and `cache` (a remote store's snapshot cache:
        `MilvusSnapshot.cache`; null for a local index) and `version` (the package's)."""
        documents = chunks = 0
        version = cache = None
        if self.ready.is_set():
            try:
                snapshot = self.assistant.snapshot()
                documents, chunks, version, cache = (
                    snapshot.document_count,
                    snapshot.chunk_count,
                    snapshot.version,
                    snapshot.cache,
                )
            except IndexProblem as exc:
                self.error = str(exc)
        status = "ok" if self.ready.is_set() and version else "starting"
        if status != "ok" and self.error:
            status = "error"
        return {
            "status": status,
            "documents": documents,
            "chunks": chunks,
            "model": self.assistant.embedder.name,
            "index_version": version,
            "rebuilding": self.rebuilding,
            "last_rebuild": self.last_report.to_dict() if self.last_report else None,
            # also when ok: e.g. a refresh failed (or its process died), the old index serves
            "error": self.error or self.rebuild_error,
            "mode": self.role.mode,
            "docs": self.role.docs,
            "store": self.role.store,
            "cache": cache,
            "version": __version__,
        }

    def check_ready(self) -> None:
        if not self.ready.is_set():
            reason = f": {self.error}" if self.error else ""
            raise NotReady(f"the index is not ready yet{reason}")

    def start(self, build: bool, watch: bool) -> None:
        """Start the first build (or mark ready at once) and, with `watch`, the watcher."""
        if build:
            self._spawn(self._first_build, "qa-first-build")
        else:
            self.ready.set()
        if watch:
            self._spawn(self._watch, "qa-watch")

    def stop(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Ask the background threads to stop and wait for them `timeout` seconds in all.
        A build still running then is left to die with the process (see
        `rebuild_in_background`)."""
        self._stop.set()
        with self._answers_lock:
            if self._answers is not None:
                # Questions still queued are dropped (their requests are gone by now); one
                # being answered finishes, which takes milliseconds.
                self._answers.shutdown(wait=False, cancel_futures=True)
                self._answers = None
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._rebuilding:
            log.warning("stopping during an index build; the previous index stays in use")
            self.assistant.stop_build()

    def _ended_by_stop(self, exc: Exception) -> bool:
        """Whether `exc` ended a build because `stop` killed it (the server is going away):
        then it is said in one line, not as a failure with a traceback."""
        if not self._stop.is_set():
            return False
        log.info("index build ended by the shutdown: %s", exc)
        return True

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _first_build(self) -> None:
        """Refresh the index (a builder only), load the model, then accept questions."""
        started = time.perf_counter()
        try:
            if not self.role.builder:
                if not self._wait_for_index():
                    return
            else:
                self._refresh(self.assistant.settings.allow_removals)
        except (*PRODUCT_ERRORS, TooManyRemovals) as exc:
            self.error = str(exc)
            try:
                self.assistant.snapshot()
            except IndexProblem as unusable:
                if str(unusable) != str(exc):
                    self.error = f"{exc}; and the stored index cannot be used: {unusable}"
                log.error("index not ready: %s", self.error)
                return
            log.warning("cannot refresh the index (%s); answering from the stored index", exc)
        except Exception as exc:  # noqa: BLE001 - keep serving; /health and 503s say why
            if self._ended_by_stop(exc):
                return
            self.error = f"index build failed: {exc}"
            log.exception("index build failed")
            return
        try:
            # One question through the whole pipeline loads everything it loads lazily
            # (the model, the search indexes, the answerer's helpers) before the first user.
            self.assistant.ask(WARM_UP_QUESTION)
            # The short-answer model loads only for answered questions of some kinds; without
            # this, the first burst of users would each load it at once (seconds each).
            find_short_answer(WARM_UP_QUESTION, "date", "It opened in May 1900.", "", 0)
        except ModelError as exc:
            self.error = str(exc)
            log.error("%s", exc)
            return
        except Exception:  # noqa: BLE001 - a warm-up failure must not keep the server down
            log.exception("warm-up question failed")
        self.ready.set()
        log.info("ready in %.1f s: %s", time.perf_counter() - started, summary(self.last_report))

    def _wait_for_index(self) -> bool:
        """Reader-only start: load the shared store's snapshot, retrying every
        `READER_RETRY_SECONDS` while it has no usable index yet. True once loaded; False when
        the server stops first."""
        log.info("reader-only: answering from %s, never writing to it", self.role.store)
        while True:
            try:
                self.assistant.snapshot()
                self.error = None
                return True
            except IndexProblem as exc:
                message = f"{exc} (build it with `{self.assistant.settings.builder_command()}`)"
                if message != self.error:
                    log.warning("waiting for the shared index: %s", message)
                self.error = message
            if self._stop.wait(READER_RETRY_SECONDS):
                return False

    def _watch(self) -> None:
        """Rebuild shortly after files in the docs folder change, until `stop()`."""
        from watchfiles import DefaultFilter, watch

        docs = self.assistant.settings.docs_dir.resolve()
        index = str(self.assistant.settings.index_dir.resolve())
        default = DefaultFilter()

        def wanted(change: Any, path: str) -> bool:
            return default(change, path) and not path.startswith(index)

        log.info("watching %s for changes", docs)
        try:
            for changes in watch(
                docs,
                watch_filter=wanted,
                step=WATCH_QUIET_MS,
                debounce=WATCH_MAX_WAIT_MS,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                log.info("%d change(s) in the docs folder; rebuilding", len(changes))
                try:
                    log.info("rebuilt: %s", summary(self.rebuild()))
                except TooManyRemovals as exc:
                    log.warning("change skipped, the index is unchanged: %s", exc)
                except PRODUCT_ERRORS as exc:
                    log.warning("rebuild after change failed: %s", exc)
                except Exception as exc:  # noqa: BLE001 - keep watching; the next change retries
                    if not self._ended_by_stop(exc):
                        log.exception("rebuild after change failed")
        except FileNotFoundError as exc:
            log.warning("cannot watch %s: %s", docs, exc)


def default_answer_workers() -> int:
    """Threads answering questions: env `QA_ANSWER_WORKERS`, else the CPUs this process may
    use (more would only make questions wait for each other's model calls)."""
    configured = os.environ.get(ANSWER_WORKERS_ENV, "").strip()
    if configured:
        try:
            workers = int(configured)
        except ValueError:
            workers = 0
        if workers < 1:
            raise ValueError(
                f"{ANSWER_WORKERS_ENV} must be a whole number >= 1, not {configured!r}"
            )
        return workers
    if hasattr(os, "sched_getaffinity"):  # Linux: honours taskset and container CPU sets
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


# Where each stage of a rebuild starts and ends on a 0..100 progress bar.
STAGE_SPANS = {
    "starting": (0, 2),
    "reading": (2, 15),
    "chunking": (15, 25),
    "embedding": (25, 92),
    "writing": (92, 100),
}


def percent(progress: Progress) -> int:
    """How far a rebuild at `progress` is, 0..100, for a progress bar."""
    lo, hi = STAGE_SPANS.get(progress.stage, (0, 100))
    share = progress.done / progress.total if progress.total else 0.0
    return int(lo + (hi - lo) * min(1.0, share))


def summary(report: IndexReport | None) -> str:
    """One line about what a build did, for the log."""
    if report is None:
        return "no build"
    return (
        f"{report.documents} documents, {report.chunks} chunks ({report.added} added, "
        f"{report.updated} updated, {report.removed} removed, {report.embedded} embedded, "
        f"{report.seconds:.1f} s)"
    )
