"""The ONNX question encoder (qa/onnx_encoder.py): the model's own vectors from the float export,
close ones from int8, the same int8 vectors on a CPU without AVX512."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np

from qa.onnx_encoder import OnnxEncoder
from tests.support.fakes import ROOT
from tests.support.helpers import require_system_tool

QUESTIONS = [
    "Who won Super Bowl 50?",
    "When did Japan and New Zealand sign the information-sharing agreement?",
    "Où est la gare ? 東京はどこですか",
    "?",
    "word " * 600,  # longer than the model's 256 tokens: truncated the same way
]


def torch_vectors(embedder, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The sentence-transformers model's own unit vectors of `texts` (torch)."""
    return embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_float_export_gives_the_models_own_vectors(real_embedder, export):
    reference = torch_vectors(real_embedder, QUESTIONS)
    onnx = OnnxEncoder(export)
    one_by_one = np.stack([onnx.encode([q])[0] for q in QUESTIONS])
    batched = onnx.encode(QUESTIONS)  # padded together
    for got in (one_by_one, batched):
        assert got.dtype == np.float32 and got.shape == reference.shape
        np.testing.assert_allclose(got, reference, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_many_texts_are_encoded_in_length_order_and_returned_in_theirs(real_embedder, export):
    texts = [QUESTIONS[n % len(QUESTIONS)] + " x" * n for n in range(11)]
    reference = torch_vectors(real_embedder, texts)
    onnx = OnnxEncoder(export, threads=2)
    seen: list[list[str]] = []
    encode = onnx.encode
    onnx.encode = lambda batch: seen.append(batch) or encode(batch)  # type: ignore[method-assign]
    got = onnx.encode_many(texts, batch_size=3)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    assert [len(b) for b in seen] == [3, 3, 3, 2]
    lengths = [len(t) for batch in seen for t in batch]
    assert lengths == sorted(lengths)
    assert onnx.encode_many([], batch_size=3).shape == (0, export.dim)


def test_int8_export_is_close_but_not_identical(real_embedder, export):
    reference = torch_vectors(real_embedder, QUESTIONS)
    got = OnnxEncoder(export, int8=True).encode(QUESTIONS)
    cosines = (got * reference).sum(axis=1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98
    assert not np.allclose(got, reference, atol=1e-5)


QEMU = shutil.which("qemu-x86_64")
EMULATED_ENCODE = """
import json, sys
from pathlib import Path
from qa.onnx_encoder import OnnxEncoder
from qa.onnx_export import ExportInfo
encoder = OnnxEncoder(ExportInfo.load(Path(sys.argv[1])), int8=True)
print(json.dumps(encoder.encode(json.loads(sys.argv[2])).tolist()))
"""


def test_int8_vectors_are_the_same_on_a_cpu_without_avx512(export):
    """The int8 export is run on an emulated Haswell (AVX2, no AVX512, no VNNI), where
    onnxruntime takes another integer kernel: the vectors must match this machine's. With
    full-range int8 weights they did not (cosine 0.990, see `_quantize`)."""
    require_system_tool(
        QEMU is not None, "qemu-x86_64 is missing; install it with `apt-get install qemu-user`"
    )
    questions = QUESTIONS[:3]
    command = [QEMU, "-cpu", "Haswell", sys.executable, "-c", EMULATED_ENCODE,
               str(export.folder), json.dumps(questions)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    emulated = np.asarray(json.loads(out.stdout.strip().splitlines()[-1]), dtype=np.float32)
    native = OnnxEncoder(export, int8=True).encode(questions)
    assert emulated.shape == native.shape
    assert (emulated * native).sum(axis=1).min() > 0.9999
