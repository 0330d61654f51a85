"""Import sentence-transformers without importing scikit-learn.

In: nothing. Out: `sentence_transformer_class()` -> `sentence_transformers.SentenceTransformer`.
Used by `qa.embedding` (document vectors) and `qa.onnx_export` (the question encoder's export).
"""

from __future__ import annotations

import sys
import types
from typing import Any


def sentence_transformer_class() -> Any:
    """`sentence_transformers.SentenceTransformer`, imported without importing scikit-learn.

    sentence-transformers imports `sklearn.metrics.pairwise_distances` when it is imported,
    for a helper this product never calls, and scikit-learn's import is seconds of the time
    a fresh build spends importing before its encode can start (docs/performance.md). So
    while it imports, `sklearn.metrics` is a stand-in whose
    `pairwise_distances` imports the real one when first called; the stand-in is gone from
    `sys.modules` afterwards, so a later `import sklearn.metrics` gets the real module."""
    if "sentence_transformers" in sys.modules or "sklearn.metrics" in sys.modules:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer
    stand_in = types.ModuleType("sklearn.metrics")
    stand_in.pairwise_distances = _pairwise_distances  # type: ignore[attr-defined]
    sys.modules["sklearn.metrics"] = stand_in
    try:
        from sentence_transformers import SentenceTransformer
    finally:
        if sys.modules.get("sklearn.metrics") is stand_in:
            del sys.modules["sklearn.metrics"]
    return SentenceTransformer


def _pairwise_distances(*args: Any, **kwargs: Any) -> Any:
    from sklearn.metrics import pairwise_distances

    return pairwise_distances(*args, **kwargs)
