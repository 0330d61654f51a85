"""Tag the named entities of a build's sentences in a helper process, beside the build.

In: the sentences to tag (strings). Out: their entities (`short_answer.extract_entities`), or
None when the tagger is missing or failed.

A build is single-threaded until its encode starts: it chunks the documents and loads the
embedding model (5-6 s of imports), and the second core sits idle. `HelperTagger` starts
`python -m qa.tagging` as soon as it is made; that process loads spaCy meanwhile and tags what
it is sent, so on SQuAD's 48 articles the whole tagging is done before the encode starts. A
thread would not do: spaCy and the chunker both need the GIL, and beside the encode (torch keeps
both cores busy) tagging slowed the build by 5-15%. A plain subprocess rather than
`multiprocessing`: spawning re-runs the caller's main script, which a library must not do, and
forking a process that may run torch's or onnxruntime's threads is not safe.

The helper reads a JSON list of strings on stdin and writes a JSON list (one list of
`[text, label, start, end]` per string) on stdout; `null` when there is no tagger.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from dataclasses import astuple

from qa.short_answer import Entity, extract_entities

log = logging.getLogger(__name__)


class HelperTagger:
    """One `python -m qa.tagging` process, started (and loading spaCy) at once.

    Use as a context manager: `send(texts)` once, `result()` after; leaving the block stops the
    helper if it is still running (a build that failed meanwhile does not wait for it)."""

    command: tuple[str, ...] = (sys.executable, "-m", "qa.tagging")

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._output: tuple[bytes, bytes] | None = None
        self._talk: threading.Thread | None = None

    def __enter__(self) -> HelperTagger:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def send(self, texts: list[str]) -> None:
        """Hand `texts` to the helper, without waiting for it (a thread writes and reads)."""
        payload = json.dumps(texts).encode()

        def talk() -> None:
            self._output = self._process.communicate(payload)

        self._talk = threading.Thread(target=talk, name="qa-tagging", daemon=True)
        self._talk.start()

    def result(self) -> list[tuple[Entity, ...]] | None:
        """The entities of the texts sent, waited for; None if the helper failed or has no
        tagger (a failure is logged: the build goes on without stored entities)."""
        if self._talk is None:
            raise RuntimeError("HelperTagger.result() before send()")
        self._talk.join()
        out, err = self._output or (b"", b"")
        if self._process.returncode != 0:
            reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            log.warning(
                "named entities not stored with this build: the tagging process exited "
                "with %s (%s)", self._process.returncode, reason[0],
            )  # fmt: skip
            return None
        found = json.loads(out)
        if found is None:
            return None
        return [tuple(Entity(*e) for e in entities) for entities in found]


def _serve() -> None:
    """The helper: load the tagger while stdin is read, tag, print the JSON answer."""
    from qa.short_answer import _ner

    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(sys.stdin.buffer.read()))
    reader.start()
    _ner()
    reader.join()
    tagged = extract_entities(json.loads(received[0]))
    found = None if tagged is None else [[astuple(e) for e in t] for t in tagged]
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    _serve()
