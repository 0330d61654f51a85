"""When each document's current version entered the index: a small JSON file beside it.

In: the index folder and the stored documents' hashes after a refresh. Out: `record(folder,
hashes)`, which keeps the time of a document whose hash is unchanged and stamps new and
changed ones with now, and `read(folder)` -> doc_id -> `Indexed(sha256, at)`.

The store itself keeps no times; this file is a convenience for the library page. Losing it
(or a store written elsewhere, such as a shared Milvus collection) only means "unknown".
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LEDGER_FILE = "indexed-at.json"


@dataclass(frozen=True)
class Indexed:
    """A document version (`sha256`) and when it entered the index (`at`, Unix seconds)."""

    sha256: str
    at: float


def read(folder: Path) -> dict[str, Indexed]:
    """The ledger in `folder`; empty when there is none or it cannot be read."""
    try:
        raw = json.loads((Path(folder) / LEDGER_FILE).read_text(encoding="utf-8"))
        return {doc_id: Indexed(str(e["sha256"]), float(e["at"])) for doc_id, e in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def record(folder: Path, hashes: dict[str, str], now: float | None = None) -> dict[str, Indexed]:
    """Bring the ledger in `folder` in line with `hashes` (doc_id -> sha256 of what the index
    holds now) and write it atomically; returns it. A write failure is logged, not raised."""
    now = time.time() if now is None else now
    old = read(folder)
    ledger = {
        doc_id: old[doc_id] if doc_id in old and old[doc_id].sha256 == sha else Indexed(sha, now)
        for doc_id, sha in sorted(hashes.items())
    }
    if ledger != old:
        _write(Path(folder), ledger)
    return ledger


def _write(folder: Path, ledger: dict[str, Indexed]) -> None:
    body = {d: {"sha256": e.sha256, "at": e.at} for d, e in ledger.items()}
    target = folder / LEDGER_FILE
    tmp = folder / f".{LEDGER_FILE}.tmp-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(body, indent=0), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        log.warning("cannot record indexing times in %s: %s", target, exc)
        tmp.unlink(missing_ok=True)
