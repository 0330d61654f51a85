"""Extract and chunk a build's files one by one in a worker process, each within its budget.

In: the files to read (`SourceFile`), a `FileBudget`, the chunking options and how to count
tokens (the model's `tokenizer.json`, or a picklable counter; None: do not chunk). Out, per
file: an `Extracted` (the `Document` and its sentences and chunks) or the reason it was
skipped: "extraction took longer than 60 s", "extraction needed more than 1024 MB", or what
`qa.documents.load` says.

A parser that loops, inflates or crashes on a hostile file must not stall, bloat or kill the
build, so files are read in `python -m qa.file_worker`: its address space is capped
(`RLIMIT_AS`, the budget above what it holds once its parsers are imported) and each file
gets a wall-clock deadline, after which the worker is killed. One worker serves file after
file (a small file costs a round trip of pickles, well under a millisecond); a new one is
started only after a failure. A plain subprocess rather than `multiprocessing`, for the
reasons `qa.build_helper` gives.

The two processes talk by length-prefixed pickles on the worker's stdin and stdout: a
`_Setup`, the worker's "ready", then one `SourceFile` and one reply at a time.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from qa.child_env import child_env
from qa.chunking import ChunkingOptions, ChunkSpan, Span, chunk_document
from qa.documents import (
    DEFAULT_MAX_BYTES,
    PLAIN_SUFFIXES,
    Document,
    ExtractionError,
    SourceFile,
    load,
    parse_check,
    precheck,
)
from qa.file_budget import FileBudget

log = logging.getLogger(__name__)

Counter = Path | Callable[[str], int] | None
START_SECONDS = 120.0  # how long a worker may take to import its parsers (not a file's time)
_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class Extracted:
    """A file read within its budget: its document and, when a counter was given, its
    sentences and chunks (`chunking.chunk_document`)."""

    document: Document
    pieces: tuple[list[Span], list[ChunkSpan]] | None


@dataclass(frozen=True)
class _Setup:
    budget: FileBudget
    options: ChunkingOptions
    counter: Counter


@dataclass(frozen=True)
class _Check:
    """Parse an upload's bytes, as `documents.parse_check` (nothing is written)."""

    suffix: str
    data: bytes


@dataclass(frozen=True)
class _Failed:
    reason: str
    fatal: bool = False  # the worker exits after saying it (memory ran out)


class FileWorker:
    """Reads files in a worker process within `budget`. Use as a context manager; `read(source)`
    returns an `Extracted` or the reason the file is skipped."""

    command: tuple[str, ...] = (sys.executable, "-m", "qa.file_worker")

    def __init__(self, budget: FileBudget, options: ChunkingOptions, counter: Counter) -> None:
        self.budget, self.options, self.counter = budget, options, counter
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: list[bytes] = []

    def __enter__(self) -> FileWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def read(self, source: SourceFile) -> Extracted | str:
        """`source` extracted (and chunked) within the budget, or why it was skipped."""
        return self._ask(source)  # type: ignore[no-any-return]

    def check(self, suffix: str, data: bytes) -> str | None:
        """Why `data` (an upload with `suffix`) cannot be indexed, parsed within the budget;
        None when it can."""
        reply = self._ask(_Check(suffix, data))
        return reply if isinstance(reply, str) else None

    def _ask(self, request: SourceFile | _Check) -> Any:
        process = self._start()
        try:
            send_message(process.stdin, request)  # type: ignore[arg-type]
            reply = receive_message(process.stdout, time.monotonic() + self.budget.seconds)  # type: ignore[arg-type]
        except TimeoutError:
            self._stop()
            return self.budget.over_time()
        except (EOFError, OSError, pickle.UnpicklingError):
            return self._died()
        if isinstance(reply, _Failed):
            if reply.fatal:
                self._stop()
            return reply.reason
        return reply

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        env = child_env(MALLOC_ARENA_MAX="2", TOKENIZERS_PARALLELISM="false")
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._process, self._errors = process, []
        drain = threading.Thread(target=self._drain, args=(process,), daemon=True)
        drain.start()  # stderr read as it comes, so the worker never blocks on a full pipe
        send_message(process.stdin, _Setup(self.budget, self.options, self.counter))  # type: ignore[arg-type]
        try:
            ready = receive_message(process.stdout, time.monotonic() + START_SECONDS)  # type: ignore[arg-type]
        except (EOFError, TimeoutError, OSError, pickle.UnpicklingError):
            ready = None
        if ready != "ready":
            self._stop()
            said = b"".join(self._errors).decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"the file worker did not start: {(said or [repr(ready)])[-1]}")
        return process

    def _died(self) -> str:
        """The reason for a file during which the worker died; stops it."""
        process = self._process
        code = process.wait() if process is not None else None
        self._stop()
        said = b"".join(self._errors).decode(errors="replace").strip().splitlines()
        log.warning("the file worker exited with %s (%s)", code, (said or ["-"])[-1])
        if code is not None and code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
            return f"extraction stopped by {how} (over {self.budget.memory_mb:g} MB of memory?)"
        return f"extraction failed: the file worker exited with code {code}"

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            self._errors.append(line)


def send_message(stream: IO[bytes], message: Any) -> None:
    """Write `message` to `stream` as a length-prefixed pickle (`receive_message` reads it)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def receive_message(stream: IO[bytes], deadline: float) -> Any:
    """The next message on `stream`; TimeoutError past `deadline`, EOFError at its end."""
    header = _read_exactly(stream.fileno(), _HEADER.size, deadline)
    return pickle.loads(_read_exactly(stream.fileno(), _HEADER.unpack(header)[0], deadline))


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    parts, left = [], size
    while left:
        wait = None if deadline == float("inf") else deadline - time.monotonic()
        if wait is not None and (wait <= 0 or not select.select([fd], [], [], wait)[0]):
            raise TimeoutError
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


# --- the worker process --------------------------------------------------------------------


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker: set up, then read file after file until stdin closes."""
    setup: _Setup = receive_message(stdin, float("inf"))
    counter = setup.counter
    count = counter if callable(counter) else _token_counter(counter) if counter else None
    _import_parsers()
    _cap_memory(setup.budget.memory_bytes)
    send_message(stdout, "ready")
    while True:
        try:
            request: SourceFile | _Check = receive_message(stdin, float("inf"))
        except EOFError:
            return
        if isinstance(request, _Check):
            reply: Extracted | _Failed | None = _check_one(request, setup.budget)
        else:
            reply = _read_one(request, setup, count)
        send_message(stdout, reply)
        if isinstance(reply, _Failed) and reply.fatal:
            return


def _read_one(
    source: SourceFile, setup: _Setup, count: Callable[[str], int] | None
) -> Extracted | _Failed:
    try:
        document = load(source, setup.budget)
        pieces = chunk_document(document.text, count, setup.options) if count else None
        return Extracted(document, pieces)
    except ExtractionError as exc:
        return _Failed(str(exc))
    except MemoryError:
        return _Failed(setup.budget.over_memory(), fatal=True)
    except RecursionError:
        return _Failed("extraction failed: the file is nested too deeply")
    except Exception as exc:  # noqa: BLE001 - any parser or chunker failure skips the file
        return _Failed(f"cannot extract or chunk the file: {type(exc).__name__}: {exc}")


def _check_one(request: _Check, budget: FileBudget) -> _Failed | None:
    try:
        reason = parse_check(request.suffix, request.data)
    except MemoryError:
        return _Failed(budget.over_memory(), fatal=True)
    except RecursionError:
        reason = "cannot parse the file: it is nested too deeply"
    return _Failed(reason) if reason else None


def check_content(
    name: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, budget: FileBudget | None = None
) -> str | None:
    """Why a file called `name` holding `data` could not be indexed (the reason `scan` or
    `load` would give), or None when it can: for uploads, checked before anything is written.
    What needs no parser is checked here (`documents.precheck`: type, size, zip and entity
    bombs by `budget`, default `FileBudget.from_env()`); HTML, PDF and DOCX are then parsed in
    a worker process within the budget (`check_apart`), never in the caller's (the server's)."""
    budget = budget or FileBudget.from_env()
    reason = precheck(name, data, max_bytes, budget)
    suffix = Path(name).suffix.lower()
    if reason is not None or suffix in PLAIN_SUFFIXES:
        return reason
    return check_apart(suffix, data, budget)


def check_apart(suffix: str, data: bytes, budget: FileBudget) -> str | None:
    """`documents.parse_check(suffix, data)` in a worker process within `budget`: why the
    upload cannot be indexed (also "took longer than" / "needed more than"), or None."""
    with FileWorker(budget, ChunkingOptions(), None) as worker:
        return worker.check(suffix, data)


def _token_counter(tokenizer_file: Path) -> Callable[[str], int]:
    from qa.embedding import token_counter

    return token_counter(tokenizer_file)


def _import_parsers() -> None:
    """Import what reading any file needs now (the sentence splitter), so its time and memory
    are not the first file's. The format parsers (bs4, pypdfium2, python-docx: a second in all)
    are imported by the first file that needs them: most builds read text files only."""
    from qa.chunking import _segmenter

    _segmenter()


def _cap_memory(budget_bytes: int) -> None:
    """Cap this process's address space at what it maps now plus `budget_bytes`."""
    import resource

    mapped = _vm_size()
    if mapped is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + budget_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _vm_size() -> int | None:
    """This process's mapped address space in bytes (Linux), or None where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main() -> None:
    """The worker's entry point: replies go to a copy of stdout, and whatever a library prints
    goes to stderr, so it cannot garble them."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    # By the module's own name: what it pickles must unpickle as qa.file_worker.*,
    # not __main__.*
    from qa.file_worker import main as _main

    _main()
