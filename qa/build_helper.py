"""Chunk a build's documents and tag their entities in a helper process, beside the build.

In: the documents' texts, the chunking options, the model's `tokenizer.json` (chunks are sized
in its word pieces) and whether to tag. Out: each document's sentences and chunks
(`chunking.chunk_document`, the same as computed in process), then the entities of the
sentences `short_answer.stored_at_build` picks (`short_answer.extract_entities`).

A fresh build is single-threaded until its encode starts: it chunks the documents (mostly pysbd) and
loads the embedding model (seconds with torch; under one with the ONNX export, the default), one
after the other, while the second core sits idle. `BuildHelper` starts `python -m qa.build_helper`
at once; it chunks while the build loads the model (so the encode starts earlier), sends the
chunks back, then loads spaCy and tags, partly beside the encode. A thread would not do:
chunking, importing and tagging all need the GIL (no gain measured), and beside the encode
(which keeps both cores busy) tagging slowed the build (docs/performance.md). A plain subprocess
rather than `multiprocessing`: spawning re-runs the caller's main script, which a library must
not do, and forking a process that may run torch's threads is not safe.

The two processes talk by pickles on the helper's stdin and stdout (the same code on both ends):
one request, then two replies (the chunks; the entities or None).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from qa.child_env import child_env
from qa.chunking import ChunkingOptions, ChunkSpan, Span, chunk_document
from qa.embedding import token_counter
from qa.short_answer import Entity, _ner, extract_entities, stored_at_build

log = logging.getLogger(__name__)

Pieces = list[tuple[list[Span], list[ChunkSpan]]]
STOP_SECONDS = 5.0  # how long leaving waits for the request's writer once the helper is gone


@dataclass(frozen=True)
class _Request:
    texts: list[str]
    options: ChunkingOptions
    tokenizer_file: Path
    tag: bool
    pieces: Pieces | None = None  # already chunked: the helper only tags


class BuildHelper:
    """One `python -m qa.build_helper` process, started at once.

    Use as a context manager: `send(...)` once, then `pieces()`, then `entities()`. Leaving the
    block stops the helper if it is still running (a build that failed does not wait for it)."""

    command: tuple[str, ...] = (sys.executable, "-m", "qa.build_helper")

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
        self._errors: list[bytes] = []
        self._writer: threading.Thread | None = None
        drain = threading.Thread(target=self._drain, name="qa-build-helper", daemon=True)
        drain.start()  # stderr read as it comes, so the helper never blocks on a full pipe

    def __enter__(self) -> BuildHelper:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._writer is not None:
            self._writer.join(timeout=STOP_SECONDS)  # it fails fast: the helper is gone
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                # A request left unsent to a helper that died: nothing to do.
                with contextlib.suppress(OSError):
                    stream.close()

    def send(
        self,
        texts: list[str],
        options: ChunkingOptions,
        tokenizer_file: Path,
        tag: bool,
        pieces: Pieces | None = None,
    ) -> None:
        """Ask for the chunks of `texts` (and, with `tag`, the entities); given their `pieces`,
        only for the entities (then call `entities()` only). Written by a thread, so a large
        request never waits for the helper to start reading."""
        payload = pickle.dumps(_Request(texts, options, tokenizer_file, tag, pieces))

        def write() -> None:
            try:
                self._process.stdin.write(payload)  # type: ignore[union-attr]
                self._process.stdin.close()  # type: ignore[union-attr]
            except (OSError, ValueError):
                pass  # the helper died (or was stopped); reading its reply says so

        self._writer = threading.Thread(target=write, name="qa-build-helper-send", daemon=True)
        self._writer.start()

    def pieces(self) -> Pieces | None:
        """Each document's (sentences, chunks), waited for; None if the helper failed."""
        return self._reply("cannot chunk in a helper process")

    def entities(self) -> list[tuple[Entity, ...]] | None:
        """The entities of the sentences `stored_at_build` picks, in document and sentence
        order, waited for; None if the helper failed, has no tagger or was not asked to tag."""
        return self._reply("named entities not stored with this build")

    def _reply(self, what: str) -> Any:
        try:
            return pickle.load(self._process.stdout)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - EOF or garbage: the helper failed; say why
            code = self._process.wait()
            said = b"".join(self._errors).decode(errors="replace").strip().splitlines()
            log.warning("%s: the helper exited with %s (%s)", what, code, (said or ["-"])[-1])
            return None

    def _drain(self) -> None:
        for line in self._process.stderr:  # type: ignore[union-attr]
            self._errors.append(line)


def to_tag(texts: list[str], pieces: Pieces) -> list[tuple[int, int, str]]:
    """(document number, sentence number, text) of each sentence whose entities are stored."""
    every = (
        (n, i, text[s.start : s.end])
        for n, (text, (sentences, _)) in enumerate(zip(texts, pieces, strict=True))
        for i, s in enumerate(sentences)
    )
    return [(n, i, sentence) for n, i, sentence in every if stored_at_build(sentence)]


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The helper: load the tagger while the build reads its files, read the request, reply
    with the chunks (unless given), then with the entities."""
    warm = threading.Thread(target=_ner, name="qa-load-tagger", daemon=True)
    warm.start()
    request: _Request = pickle.load(stdin)
    pieces = request.pieces
    if pieces is None:
        count = token_counter(request.tokenizer_file)
        pieces = [chunk_document(text, count, request.options) for text in request.texts]
        pickle.dump(pieces, stdout)
        stdout.flush()
    wanted = to_tag(request.texts, pieces) if request.tag else []
    warm.join()
    pickle.dump(extract_entities([text for *_, text in wanted]) if wanted else None, stdout)
    stdout.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
