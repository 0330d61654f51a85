"""The embedder (qa/embedding.py): questions encoded by the int8 export and documents by the
float32 export by default, torch as the fallback and as a setting, bad settings refused,
answering and building without importing torch, `qa index` preparing the export for the
server."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import qa.onnx_encoder as onnx_encoder
from qa.config import Settings
from qa.embedding import SentenceTransformerEmbedder
from qa.indexer import refresh
from qa.onnx_encoder import OnnxEncoder
from qa.onnx_export import META_FILE, ExportError
from qa.pipeline import Assistant
from tests.support.fakes import ROOT, SEED_DOC, SEEDS

SEED_TEXT = (SEEDS / SEED_DOC).read_text()

QUESTIONS = [
    "Who won Super Bowl 50?",
    "When did Japan and New Zealand sign the information-sharing agreement?",
    "Où est la gare ? 東京はどこですか",
    "?",
    "word " * 600,  # longer than the model's 256 tokens: truncated the same way
]


def test_the_embedder_encodes_questions_with_the_int8_export_by_default(real_embedder, export):
    assert real_embedder.query_encoder == "onnx-int8"
    assert Settings().query_encoder == "onnx-int8"
    vector = real_embedder.encode_query(QUESTIONS[1])
    expected = OnnxEncoder(export, int8=True).encode([QUESTIONS[1]])[0]
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    float_vector = OnnxEncoder(export).encode([QUESTIONS[1]])[0]
    assert not np.allclose(vector, float_vector, atol=1e-5)


def torch_vectors(embedder, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_documents_are_encoded_by_the_float_export_with_the_models_own_vectors(
    real_embedder, export
):
    assert real_embedder.document_encoder == "onnx"
    assert Settings().document_encoder == "onnx"
    texts = QUESTIONS + [SEED_TEXT[:2000], SEED_TEXT[2000:2100]]
    got = real_embedder.encode(texts)
    assert real_embedder.loaded and real_embedder._encoders["documents"].threads >= 1
    np.testing.assert_allclose(got, torch_vectors(real_embedder, texts), atol=1e-5)
    assert real_embedder.dim == export.dim == got.shape[1]


def test_documents_can_be_encoded_by_torch(real_embedder):
    embedder = SentenceTransformerEmbedder(document_encoder="torch")
    embedder.model = real_embedder.model  # share the loaded model (cached_property slot)
    got = embedder.encode(QUESTIONS)
    assert embedder._encoders["documents"] is False  # configured off: no session loaded
    np.testing.assert_allclose(got, torch_vectors(real_embedder, QUESTIONS), atol=1e-6)


def test_a_model_that_cannot_be_exported_falls_back_to_torch(real_embedder, monkeypatch, caplog):
    def refuse(model_dir, int8=False, threads=1):  # type: ignore[no-untyped-def]
        raise ExportError("no exporter here")

    monkeypatch.setattr(onnx_encoder, "load_encoder", refuse)
    embedder = SentenceTransformerEmbedder()
    embedder.model = real_embedder.model  # share the loaded model (cached_property slot)
    with caplog.at_level(logging.WARNING, logger="qa.embedding"):
        vector = embedder.encode_query(QUESTIONS[0])
        documents = embedder.encode(QUESTIONS)
    assert "questions will be encoded with torch: no ONNX encoder (no exporter here)" in caplog.text
    assert "documents will be encoded with torch: no ONNX encoder (no exporter here)" in caplog.text
    reference = torch_vectors(real_embedder, QUESTIONS)
    np.testing.assert_allclose(vector, reference[0], atol=1e-6)
    np.testing.assert_allclose(documents, reference, atol=1e-6)


def test_bad_encoder_settings_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="QA_QUERY_ENCODER"):
        Settings(query_encoder="gpu")
    with pytest.raises(ValueError, match="query encoder"):
        SentenceTransformerEmbedder(query_encoder="gpu")
    with pytest.raises(ValueError, match="QA_DOCUMENT_ENCODER must be one of onnx, torch"):
        monkeypatch.setenv("QA_DOCUMENT_ENCODER", "onnx-int8")
        Settings.from_env()
    with pytest.raises(ValueError, match="document encoder"):
        SentenceTransformerEmbedder(document_encoder="gpu")


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
        "result = {'cited': bool(r.citations)}\n"
    )
    assert torch_free_run(script) == {"cited": True, "loaded": []}


def torch_free_run(script: str) -> dict:
    """Run `script` (which sets a dict `result`) in a fresh interpreter; `result` plus
    `loaded`: which of torch, sentence_transformers, transformers it imported."""
    script += (
        "import json, sys\n"
        "mods = ('torch', 'sentence_transformers', 'transformers')\n"
        "result['loaded'] = [m for m in mods if m in sys.modules]\n"
        "print(json.dumps(result))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def test_building_never_imports_torch(tmp_path, export):
    """With the export made (by `qa index` the first time), a build encodes its documents
    without torch: a server's rebuild child starts in a fraction of the time."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SEED_DOC).write_text(SEED_TEXT)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from qa.embedding import SentenceTransformerEmbedder\n"
        "from qa.indexer import refresh\n"
        "from qa.stores.faiss_store import FaissStore\n"
        f"report = refresh(Path({str(docs)!r}), FaissStore(Path({str(tmp_path / 'index')!r})),\n"
        "                 SentenceTransformerEmbedder(), tag_entities=False)\n"
        "result = {'embedded': report.embedded}\n"
    )
    result = torch_free_run(script)
    assert result["embedded"] > 0 and result["loaded"] == []
