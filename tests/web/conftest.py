"""Fixtures of the web tests: a docs folder with a hostile document, an Assistant over the
fake embedder, and TestClients over the app (as a remote client, and as this machine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.pipeline import Assistant
from qa.web.app import create_app
from tests.support.fakes import FakeEmbedder
from tests.support.web import EVIL, EVIL_TEXT, LOCAL, serve


@pytest.fixture
def folder(docs: Path) -> Path:
    """The seed article plus a document holding a <script> tag, in a subfolder."""
    (docs / "notes").mkdir()
    (docs / EVIL).write_text(EVIL_TEXT)
    return docs


@pytest.fixture
def assistant(folder: Path, make_assistant) -> Assistant:  # type: ignore[no-untyped-def]
    # A low threshold so the fake embedder's answers are not abstentions.
    return make_assistant(folder, FakeEmbedder(), threshold=0.05)


@pytest.fixture
def client(assistant: Assistant) -> Iterator[TestClient]:
    with serve(create_app(assistant)) as client:
        yield client


@pytest.fixture
def local(assistant: Assistant) -> Iterator[TestClient]:
    """A client that looks like a browser or curl on this machine."""
    with serve(create_app(assistant), **LOCAL) as client:
        yield client
