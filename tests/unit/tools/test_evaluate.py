"""`qa eval squad` and `qa eval beir` end to end on small slices of the real benchmark files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import qa.tools.eval_corpus
import qa.tools.evaluate
from qa.cli import main
from qa.tools.eval_corpus import CachedEmbedder, load_squad
from tests.support import milvus_fixture
from tests.support.fakes import ROOT

pytestmark = pytest.mark.model

SQUAD = ROOT.parent / "shared" / "eval" / "squad-v1.1-dev" / "dev-v1.1.json.gz"
FIGURES = {"passage_hit1", "passage_hit5", "sentence1", "em", "f1"}
milvus_server = milvus_fixture.milvus_server


@pytest.fixture
def eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder) -> Path:
    """Indexes and vectors go to a temporary cache; the real model is loaded only once."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(qa.tools.eval_corpus, "CACHE", cache)
    monkeypatch.setattr(qa.tools.evaluate, "CACHE", cache)
    monkeypatch.setattr(
        qa.tools.evaluate,
        "make_embedder",
        lambda folder, dataset: CachedEmbedder(real_embedder, cache / f"vectors-{dataset}.npz"),
    )
    return cache


@pytest.fixture
def squad_slice(tmp_path: Path) -> Path:
    """The first two paragraphs of the first four SQuAD dev articles, three questions each."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    for article in data["data"]:
        article["paragraphs"] = article["paragraphs"][:2]
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = paragraph["qas"][:3]
    path = tmp_path / "slice.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        json.dump({"version": "1.1", "data": data["data"][:6]}, out)
    return path


def test_squad_slice_reports_every_figure_with_baselines(eval_cache, squad_slice, tmp_path):
    plot = tmp_path / "curve.png"
    args = ["eval", "squad", str(squad_slice), "--json", "--limit", "4", "--plot", str(plot)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["questions"] == 4 * 2 * 3
    for part in (report, report["heldout"]):
        assert set(part["product"]) >= FIGURES and set(part["bm25"]) >= FIGURES
        assert part["bm25"]["em"] is None and part["dense"]["f1"] is None
        for name in ("product", "bm25", "dense"):
            for key in ("passage_hit1", "passage_hit5", "sentence1"):
                assert 0.0 <= part[name][key] <= 1.0
            assert part[name]["passage_hit1"] <= part[name]["passage_hit5"]
        abstention = part["abstention"]
        assert set(abstention) >= {"answered_in_corpus", "abstained_out_of_corpus", "threshold"}
        assert abstention["in_corpus_questions"] == abstention["out_of_corpus_questions"] == 12
        _assert_bands(part["bands"], part["questions"])
    assert report["heldout"]["questions"] == 12
    # On this small, easy slice the product must find the right passage for most questions.
    assert report["product"]["passage_hit5"] >= 0.6
    assert report["latency_ms"]["p50"] > 0 and report["latency_ms"]["p95"] >= 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # A second run reuses the cached indexes and gives the same figures.
    again = CliRunner().invoke(main, args[:-2])
    assert json.loads(again.stdout)["product"] == report["product"]
    table = CliRunner().invoke(main, args[:3] + args[4:6]).output
    assert "in corpus, outcomes at cut points" in table and "out of corpus, outcomes" in table


def _assert_bands(bands: dict, in_corpus: int) -> None:
    """The three outcomes' figures of a SQuAD report part: shares that add up, on the part's
    own questions (all with an answer) and on 12 out-of-corpus ones (none with one)."""
    assert 0.0 <= bands["threshold"] <= bands["answer_threshold"] <= 1.0
    inside, outside = bands["in_corpus"], bands["out_of_corpus"]
    assert inside["questions"] == inside["with_answer"] == in_corpus
    assert outside["questions"] == outside["without_answer"] == 12
    for part in (inside, outside):
        assert sum(part[k] for k in ("answer", "candidates", "none")) == pytest.approx(
            1.0, abs=1e-3
        )
    assert 0.0 <= inside["coverage"] <= 1.0 and inside["answer_without_answer"] is None
    assert outside["coverage"] is None and outside["answer"] == outside["answer_without_answer"]


def test_squad_loader_turns_answers_into_document_offsets(squad_slice):
    articles, questions = load_squad(squad_slice)
    texts = {a.doc_id: a.text for a in articles}
    for question in questions:
        for text, start, end in question.answers:
            assert texts[question.doc_id][start:end] == text


def test_beir_reports_ndcg_and_recall_for_product_and_baselines(eval_cache, tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Coffee", "Espresso is brewed by forcing hot water through ground coffee."),
        "d2": ("Tea", "Green tea leaves are steamed or pan-fired to stop oxidation."),
        "d3": ("Towers", "The Eiffel Tower is 330 metres tall and stands in Paris."),
    }
    with open(folder / "corpus.jsonl", "w") as out:
        for key, (title, text) in docs.items():
            out.write(json.dumps({"_id": key, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as out:
        out.write(json.dumps({"_id": "q1", "text": "how tall is the eiffel tower"}) + "\n")
        out.write(json.dumps({"_id": "q2", "text": "how is espresso made"}) + "\n")
        out.write(json.dumps({"_id": "q3", "text": "not judged"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td3\t1\nq2\td1\t1\n")
    result = CliRunner().invoke(main, ["eval", "beir", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queries"] == 2
    for name in ("product", "bm25", "dense"):
        assert report[name]["ndcg10"] == pytest.approx(1.0)
        assert report[name]["recall100"] == pytest.approx(1.0)


def test_the_same_figures_on_a_milvus_store(eval_cache, squad_slice, milvus_uri_prefix):
    """`--store milvus://...` builds every benchmark index in Milvus; figures match FAISS."""
    reports = {}
    for store in ("faiss", milvus_uri_prefix):
        args = ["eval", "squad", str(squad_slice), "--json", "--limit", "4", "--store", store]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        reports[store] = json.loads(result.stdout)
    faiss, milvus = reports["faiss"], reports[milvus_uri_prefix]
    for part in ("product", "bm25", "dense"):
        for key in ("passage_hit1", "passage_hit5", "sentence1"):
            assert abs(faiss[part][key] - milvus[part][key]) <= 0.01, (part, key)
    assert faiss["abstention"] == milvus["abstention"]
    from pymilvus import MilvusClient

    collections = MilvusClient(uri=f"http://{milvus_uri_prefix.split('/')[2]}").list_collections()
    assert any(name.startswith("eval_") for name in collections), collections


@pytest.fixture
def milvus_uri_prefix(milvus_server: str) -> str:
    return f"milvus://{milvus_server}/eval?grace=0"
