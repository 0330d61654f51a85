"""Test doubles and paths every test may use: the fake embedder, the seed article's location."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEED_DOC = "japan-new-zealand-information-sharing.txt"
# The ONNX export of the model (qa.onnx_export) is made once into the repository's .cache and
# reused by every test and every process a test starts, not written to the user's home.
os.environ.setdefault("QA_CACHE_DIR", str(ROOT / ".cache" / "qa"))


class FakeEmbedder:
    """Bag-of-words hashed into 64 dimensions: similar words, similar vectors; no model."""

    name = "fake-bow-64"
    dim = 64

    def __init__(self) -> None:
        self.encoded = 0

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


class SlowFakeEmbedder(FakeEmbedder):
    """The fake embedder, taking `build` seconds per batch and `query` per single text (in
    a module of its own so a server's build child can unpickle it)."""

    def __init__(self, build: float, query: float) -> None:
        super().__init__()
        self.build, self.query = build, query

    def encode(self, texts, progress=False):  # type: ignore[no-untyped-def]
        time.sleep(self.query if len(texts) == 1 else self.build)
        return super().encode(texts, progress)


def slow_fsync(delay: float):  # type: ignore[no-untyped-def]
    """`faiss_store._fsync_file`, `delay` seconds slower per file."""
    import qa.stores.faiss_store

    fsync = qa.stores.faiss_store._fsync_file

    def slow(path):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        fsync(path)

    return slow


class HostileCounter:
    """A token counter (words and punctuation, like `FakeEmbedder`) that misbehaves on cue,
    for the file worker's budget tests: a text with `SLEEPFOREVER` hangs, `EATMEMORY`
    allocates 64 GB, `KILLME` kills its process."""

    def __call__(self, text: str) -> int:
        if "SLEEPFOREVER" in text:
            time.sleep(3600)
        if "EATMEMORY" in text:
            hog = bytearray(64 * 1024**3)
            return len(hog)
        if "KILLME" in text:
            os.kill(os.getpid(), 9)
        return len(re.findall(r"\w+|[^\w\s]", text))


class KillingEmbedder(FakeEmbedder):
    """The fake embedder, whose process dies by SIGKILL when it encodes a batch (as a build
    killed for its memory would)."""

    def encode(self, texts, progress=False):  # type: ignore[no-untyped-def]
        if len(texts) > 1:
            os.kill(os.getpid(), 9)
        return super().encode(texts, progress)
