"""Run an index build in a child process, so the server that answers questions never builds.

In: a `BuildRequest` (the settings, the embedder, chunking options, the removal guard's
inputs) and a progress callback. Out: the build's `IndexReport`, or the exception the build
raised (`TooManyRemovals`, `DocsFolderError`, `IndexProblem`, `ModelError`, ...), or
`BuildFailed` when the child died (crashed, killed, out of memory).

A build imports torch and the document model (1-2 GB) and runs parsers over untrusted files;
in the server that memory stays after the build and a crash takes the answering process with
it. `ChildBuild.run` starts `python -m qa.build_process` for each build: the child brings the
store up to date (`qa.indexer.build_index`: the store writes a new generation and switches
atomically) and makes the ONNX question encoder if it is missing, then exits, giving its
memory back. The server then loads the new generation like an index rebuilt by `qa index`.
A child that dies leaves the generation in use as it was (the next build removes what it
half wrote). The child exits by itself when the server does: it watches its stdin, which the
server holds open for the whole build.

The two processes talk by length-prefixed pickles (`qa.file_worker.send_message`): the
request on the child's stdin; ("progress", Progress) messages, then ("report", IndexReport)
or ("error", exception) on its stdout. Its stderr is the server's, so its log lines show in
the server's log. A plain subprocess rather than `multiprocessing`, as in `qa.build_helper`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from qa.child_env import child_env
from qa.chunking import ChunkingOptions
from qa.config import Settings
from qa.embedding import Embedder
from qa.file_worker import receive_message, send_message
from qa.indexer import IndexReport, Progress, ProgressCallback, build_index
from qa.stores import open_store

log = logging.getLogger(__name__)

PARENT_GONE_EXIT = 70  # the child's exit code when the server went away mid-build


@dataclass(frozen=True)
class BuildRequest:
    """One build, as `qa.indexer.build_index` takes it."""

    settings: Settings
    embedder: Embedder
    chunking: ChunkingOptions
    allow_removals: bool
    expected_removals: frozenset[str] = frozenset()


class BuildFailed(Exception):
    """The build's process died before it reported; the index in use is unchanged."""


class ChildBuild:
    """Runs builds in a child process, one at a time (callers hold their own lock)."""

    command: tuple[str, ...] = (sys.executable, "-m", "qa.build_process")

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def run(self, request: BuildRequest, on_progress: ProgressCallback) -> IndexReport:
        """Build in a fresh child; `on_progress` hears the child's stages. Raises what the
        build raised, or `BuildFailed` when the child died without a report."""
        process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env()
        )
        with self._lock:
            self._process = process
        try:
            send_message(process.stdin, request)  # type: ignore[arg-type]
            while True:
                kind, value = receive_message(process.stdout, float("inf"))  # type: ignore[arg-type]
                if kind == "progress":
                    on_progress(value)
                elif kind == "report":
                    return value  # type: ignore[no-any-return]
                else:
                    raise value
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise BuildFailed(_died(process)) from exc
        finally:
            with self._lock:
                self._process = None
            _close(process)

    def kill(self) -> None:
        """Stop the build that runs now, if any (its generation is left unswitched)."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.kill()


def _died(process: subprocess.Popen[bytes]) -> str:
    """Why a child that stopped talking failed, for /index/status, /health and the page."""
    if process.poll() is None:
        process.kill()
    code = process.wait()
    if code < 0:
        try:
            how = signal.Signals(-code).name
        except ValueError:
            how = f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the index build process was stopped by {how}{hint}; the index in use is unchanged"
    return f"the index build process exited with code {code}; the index in use is unchanged"


def _close(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    if process.poll() is None:
        process.kill()
    process.wait()


# --- the child -----------------------------------------------------------------------------


def _build(request: BuildRequest, replies: IO[bytes]) -> IndexReport:
    def progress(stage: Progress) -> None:
        send_message(replies, ("progress", stage))

    report = build_index(
        request.settings,
        request.embedder,
        open_store(request.settings),
        request.chunking,
        allow_removals=request.allow_removals,
        on_progress=progress,
        expected_removals=request.expected_removals,
    )
    getattr(request.embedder, "prepare_queries", lambda: None)()
    return report


def _exit_with_parent(stdin: IO[bytes]) -> None:
    """Block until the server closes our stdin (it exited, or dropped the build); then exit
    at once, leaving the generation half written for the next build to remove."""
    while stdin.read(65536):
        pass
    os._exit(PARENT_GONE_EXIT)


def _picklable(exc: BaseException) -> BaseException:
    """`exc` if it survives a pickle round trip, else a plain Exception with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure: send the message only
        return Exception(f"{type(exc).__name__}: {exc}")


def main() -> None:
    """The child's entry point: one build, replies on a copy of stdout (what libraries print
    goes to stderr)."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    request: BuildRequest = receive_message(sys.stdin.buffer, float("inf"))
    watch = threading.Thread(target=_exit_with_parent, args=(sys.stdin.buffer,), daemon=True)
    watch.start()
    message: tuple[str, Any]
    try:
        message = ("report", _build(request, replies))
    except BaseException as exc:  # noqa: BLE001 - every failure is the server's to report
        message = ("error", _picklable(exc))
    send_message(replies, message)
    replies.flush()


if __name__ == "__main__":
    # By the module's own name: what it pickles must unpickle as qa.build_process.*,
    # not __main__.*
    from qa.build_process import main as _main

    _main()
