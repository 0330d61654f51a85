"""Test doubles and paths every test may use: the fake embedder, the seed article's location."""

from __future__ import annotations

import hashlib
import os
import re
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
