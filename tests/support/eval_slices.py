"""Tiny slices of the real benchmark files and a temporary eval cache, for the `qa eval`
command tests (wikiqa, tydi, squad2, fit)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import qa.tools.answer_sets
import qa.tools.eval_corpus
import qa.tools.fitting
from qa.tools.eval_corpus import CachedEmbedder
from tests.support.fakes import ROOT

EVAL = ROOT.parent / "shared" / "eval"
WIKIQA = EVAL / "wikiqa"
TYDI = EVAL / "tydiqa-en" / "tydiqa-en-goldp-dev.json.gz"
SQUAD2 = EVAL / "squad-v2.0-dev" / "dev-v2.0.rebuilt.json.gz"
SQUAD11 = EVAL / "squad-v1.1-dev" / "dev-v1.1.json.gz"
SQUAD_TRAIN = ROOT.parent / "shared" / "train" / "squad-v1.1-train" / "train-v1.1.rebuilt.json.gz"


@pytest.fixture
def eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder) -> Path:
    """Indexes and vectors go to a temporary cache; the real model is loaded only once."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(qa.tools.eval_corpus, "CACHE", cache)
    monkeypatch.setattr(qa.tools.answer_sets, "CACHE", cache)
    monkeypatch.setattr(qa.tools.fitting, "CACHE", cache)
    # `qa eval squad|beir --store` set this module global; a test before may have left a URI.
    monkeypatch.setattr(qa.tools.eval_corpus, "STORE", "faiss")
    for module in (qa.tools.answer_sets, qa.tools.fitting):
        monkeypatch.setattr(
            module,
            "make_embedder",
            lambda folder, dataset: CachedEmbedder(real_embedder, cache / f"vectors-{dataset}.npz"),
        )
    return cache


def _wikiqa_lines(name: str, questions: int) -> list[str]:
    """The header and the rows of the first `questions` questions of a WikiQA file."""
    with gzip.open(WIKIQA / f"WikiQA-{name}.tsv.gz", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept, seen = [lines[0]], []
    for line in lines[1:]:
        qid = line.split("\t")[0]
        if qid not in seen:
            seen.append(qid)
        if len(seen) > questions:
            break
        kept.append(line)
    return kept


@pytest.fixture
def wikiqa_slice(tmp_path: Path) -> Path:
    """Dev's first 12 questions as a plain .tsv, train's first 3 as .tsv.gz."""
    folder = tmp_path / "wikiqa"
    folder.mkdir()
    (folder / "WikiQA-dev.tsv").write_text("\n".join(_wikiqa_lines("dev", 12)) + "\n")
    with gzip.open(folder / "WikiQA-train.tsv.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(_wikiqa_lines("train", 3)) + "\n")
    return folder


@pytest.fixture
def tydi_slice(tmp_path: Path) -> Path:
    """The first 10 passages of the TyDi GoldP file."""
    with gzip.open(TYDI, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    path = tmp_path / "tydi.json"
    path.write_text(json.dumps({"version": "tydi", "data": data["data"][:10]}))
    return path


def write_squad_slice(
    source: Path, pick: slice | list[int], paragraphs: int, questions: int, path: Path, version: str
) -> Path:
    """The articles `pick` of the SQuAD file `source`, cut to their first `paragraphs` paragraphs
    of `questions` questions each, written to `path` (.json.gz)."""
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    data = articles[pick] if isinstance(pick, slice) else [articles[i] for i in pick]
    for article in data:
        article["paragraphs"] = article["paragraphs"][:paragraphs]
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = paragraph["qas"][:questions]
    with gzip.open(path, "wt", encoding="utf-8") as out:
        json.dump({"version": version, "data": data}, out)
    return path


@pytest.fixture
def squad_train_slice(tmp_path: Path) -> Path:
    """The last 4 articles of SQuAD v1.1 train, 2 paragraphs of 4 questions each."""
    return write_squad_slice(SQUAD_TRAIN, slice(-4, None), 2, 4, tmp_path / "train.json.gz", "1.1")


@pytest.fixture
def squad2_slice(tmp_path: Path) -> Path:
    """Two paragraphs of SQuAD 2.0 dev articles 0, 1 (v1.1 articles 2 and 4) and 16 (Pharmacy,
    v1.1 article 26), six questions each."""
    return write_squad_slice(SQUAD2, [0, 1, 16], 2, 6, tmp_path / "squad2.json.gz", "v2.0")
