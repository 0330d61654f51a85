"""Shared fixtures: a fast fake embedder, the real model (loaded once), and document folders."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.pipeline import Assistant

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2, loaded once for the whole test session."""
    from qa.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    _ = embedder.model
    return embedder


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A docs folder holding a copy of the seed article."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEEDS / SEED_DOC, folder / SEED_DOC)
    return folder


@pytest.fixture
def make_assistant(tmp_path: Path):
    """Build an Assistant over a docs folder with a given embedder and a fresh index folder."""

    def build(docs_dir: Path, embedder, **settings) -> Assistant:  # type: ignore[no-untyped-def]
        config = Settings(docs_dir=docs_dir, index_dir=tmp_path / "index", **settings)
        return Assistant(config, embedder=embedder, reload_interval=0.0)

    return build
