"""Helpers for the web tests: a TestClient that waits for the first build, the requests'
addresses (this machine, another one), a document that tries to inject a script, and ways
to damage a FAISS index on disk."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

QUESTION = "When did Luxon take office?"
EVIL = "notes/evil.txt"
EVIL_TEXT = (
    "Security note\n\nThis page tests escaping: <script>alert(1)</script> must show as text. "
    "The office cat is named Whiskers.\n"
)
CONTRACT_FIELDS = {
    "question", "answered", "answer", "confidence", "citations", "passages", "took_ms",
}  # fmt: skip
LOCAL = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
REMOTE = {"base_url": "http://qa.example:8000", "client": ("203.0.113.9", 50000)}


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def serve(app, **options) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A TestClient over `app`, once its first build is done."""
    with TestClient(app, **options) as client:
        wait_until(lambda: client.get("/health").status_code == 200)
        yield client


DAMAGES = ["truncate", "garbage", "manifest", "missing-file", "current", "current-garbage"]


def damage_index(index: Path, damage: str) -> None:
    """Damage the live generation of the FAISS index in `index` in one of several ways."""
    live = index / (index / "CURRENT").read_text().strip()
    if damage == "truncate":
        vectors = live / "chunk_vectors.npy"
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "garbage":
        texts = live / "texts.jsonl"
        texts.write_bytes(bytes(range(256)) * (texts.stat().st_size // 256 + 1))
    elif damage == "manifest":
        (live / "manifest.json").write_text("{not json")
    elif damage == "missing-file":
        (live / "sentences.npy").unlink()
    elif damage == "current-garbage":
        (index / "CURRENT").write_bytes(bytes(range(256)))
    else:
        (index / "CURRENT").write_text("gen-999999\n")
