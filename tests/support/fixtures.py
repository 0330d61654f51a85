"""The fixtures every test may use: a fake embedder, the real model (loaded once), a docs
folder holding the seed article, and an Assistant builder. Registered by tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import Settings
from qa.pipeline import Assistant
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder


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
