"""Encode texts with the ONNX export of the embedding model, through onnxruntime.

In: an `ExportInfo` (see `qa.onnx_export`), whether to use its int8 variant and how many
threads a call may use. Out: `OnnxEncoder.encode(texts)` -> (n, dim) float32 unit vectors for
one batch (a question), `encode_many(texts)` for a build's thousands of texts (sorted by length
and batched, so that a batch pads little). The float32 export gives the same vectors as the
sentence-transformers model (cosine 1.0 to 6 decimals) at a third of the time for one question
and under half for a build's texts, and neither answering nor building imports torch.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.onnx_export import (
    FLOAT_FILE,
    INT8_FILE,
    TOKENIZER_FILE,
    ExportInfo,
    discard_export,
    ensure_export,
)

log = logging.getLogger(__name__)


def load_encoder(model_dir: Path, int8: bool = False, threads: int = 1) -> OnnxEncoder:
    """The encoder of `model_dir`'s export, ready to run `threads` wide (made first when
    missing). An export that onnxruntime cannot load (a damaged file in the cache) is made
    again, once."""
    export = ensure_export(model_dir)
    try:
        return _opened(OnnxEncoder(export, int8=int8, threads=threads))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own kinds
        log.warning("the ONNX export in %s is damaged (%s); exporting again", export.folder, exc)
        discard_export(export.folder)
    return _opened(OnnxEncoder(ensure_export(model_dir), int8=int8, threads=threads))


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _opened(encoder: OnnxEncoder) -> OnnxEncoder:
    """`encoder` with its session and tokenizer loaded (raises when they cannot be)."""
    _ = encoder.session, encoder.tokenizer
    return encoder


class OnnxEncoder:
    """One onnxruntime session over an exported model; safe to share across threads."""

    def __init__(self, export: ExportInfo, int8: bool = False, threads: int = 1) -> None:
        self.export = export
        self.int8 = int8
        self.threads = threads

    @cached_property
    def session(self):  # type: ignore[no-untyped-def]
        # Questions: one thread per call: answers run on two worker threads, one per core, and
        # a one-question call is too small to gain from splitting (two threads: 3x slower
        # here; docs/history/2026-11-28-answer-speed.md). A build's batches use every core.
        return cpu_session(
            self.export.folder / (INT8_FILE if self.int8 else FLOAT_FILE), self.threads
        )

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.export.folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(self.export.max_length)
        tokenizer.enable_padding(pad_id=self.export.pad_id, pad_token=self.export.pad_token)
        return tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors."""
        if not texts:
            return np.zeros((0, self.export.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)  # configured once: safe across threads
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self.export.input_names}
        vectors = self.session.run(None, feed)[0].astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))

    def encode_many(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """(len(texts), dim) unit vectors in `texts`' order, encoded `batch_size` at a time in
        order of length: each batch pads to its longest text, so mixing a 10-word sentence
        with a 200-word chunk would triple the work (measured on the shared papers' texts:
        random order 3x slower than sorted). `progress` shows a bar on a terminal."""
        vectors = np.zeros((len(texts), self.export.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(order), batch_size)
        if progress and sys.stderr.isatty():
            from tqdm import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            vectors[rows] = self.encode([texts[i] for i in rows])
        return vectors


def cpu_session(path: Path, threads: int = 1):  # type: ignore[no-untyped-def]
    """An onnxruntime CPU session over the model file `path`, with `threads` intra-op threads,
    one inter-op thread and warnings only (and no telemetry: `qa.offline`)."""
    from qa.offline import onnxruntime

    ort = onnxruntime()

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
