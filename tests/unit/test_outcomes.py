"""The three outcomes (`answer`, `candidates`, `none`) and each citation's context, as the
JSON contract shows them (fake embedder, hand-set scoring models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.answer import MAX_CANDIDATES, ScoringModel, always_quoting, answer
from qa.pipeline import load_scoring
from qa.resources import scoring_file
from qa.retrieval import Passage
from qa.stores.base import StoredChunk, StoredSentence
from tests.support.fakes import FakeEmbedder

QUESTION = "When was the bridge opened?"
DOCS = {
    "a.txt": "The old bridge was opened in 1932. It crosses the river. Boats pass below it.",
    "b.txt": "Records say the bridge opened in spring. The mayor spoke. Crowds came.",
    "c.txt": "A second bridge opened in 1960 upstream. It is smaller. Few use it.",
    "d.txt": "The bridge opened to trains later. Trains stopped in 1970. Buses came.",
}
MODEL = ScoringModel(("overlap",), (4.0,), -2.0, (1.0, 0.0), 0.0, threshold=0.1)


def _passages(embedder: FakeEmbedder) -> list[Passage]:
    """One chunk per document of `DOCS`, its sentences split at '. '."""
    out = []
    for rank, (doc_id, text) in enumerate(DOCS.items(), start=1):
        sentences, start = [], 0
        for part in text.split(". "):
            part = part if part.endswith(".") else part + "."
            begin = text.index(part, start)
            start = begin + len(part)
            vector = embedder.encode([part])[0]
            sentences.append(StoredSentence(doc_id, begin, start, part, vector))
        chunk = StoredChunk(f"{doc_id}#0", doc_id, doc_id, 0, len(text), text, sentences,
                            embedder.encode([text])[0])  # fmt: skip
        out.append(Passage(chunk, 0.03, rank, 0.5, rank, rank))
    return out


def _ask(model: ScoringModel):  # type: ignore[no-untyped-def]
    embedder = FakeEmbedder()
    return answer(QUESTION, embedder.encode([QUESTION])[0], _passages(embedder), model)


def _check_citations(data: dict) -> None:
    for c in data["citations"]:
        text = DOCS[c["doc_id"]]
        assert text[c["start"] : c["end"]] == c["quote"]
        assert text[c["context_start"] : c["context_end"]] == c["context"]
        assert c["context_start"] <= c["start"] < c["end"] <= c["context_end"]
        assert 0.0 <= c["confidence"] <= 1.0


def test_the_outcome_follows_the_two_cut_points() -> None:
    model = ScoringModel(("overlap",), (1.0,), 0.0, threshold=0.3, answer_threshold=0.7)
    assert [model.outcome_of(c) for c in (0.1, 0.3, 0.69, 0.7, 0.99)] == [
        "none", "candidates", "candidates", "answer", "answer"]  # fmt: skip
    single = ScoringModel(("overlap",), (1.0,), 0.0, threshold=0.3)
    assert [single.outcome_of(c) for c in (0.29, 0.3)] == ["none", "answer"]
    assert always_quoting(model).outcome_of(0.0) == "answer"
    with pytest.raises(ValueError, match="answer threshold"):
        ScoringModel(("overlap",), (1.0,), 0.0, answer_threshold=1.2)


def test_answer_outcome_json() -> None:
    result = _ask(MODEL)  # one cut at 0.1: sure
    data = json.loads(json.dumps(result.to_dict()))
    assert data["outcome"] == "answer" and data["answered"] is True
    first = data["citations"][0]
    assert first["doc_id"] == "a.txt" and first["quote"] == "The old bridge was opened in 1932."
    assert first["context"] == "The old bridge was opened in 1932. It crosses the river."
    assert first["confidence"] == data["confidence"]
    assert data["answer"].startswith(f"{first['quote']} [1]")
    _check_citations(data)


def test_candidates_outcome_json() -> None:
    result = _ask(ScoringModel(("overlap",), (4.0,), -2.0, (1.0, 0.0), 0.0, 0.1,
                               answer_threshold=0.999))  # fmt: skip
    data = json.loads(json.dumps(result.to_dict()))
    assert data["outcome"] == "candidates" and data["answered"] is False
    citations = data["citations"]
    assert 2 <= len(citations) <= MAX_CANDIDATES
    assert len({c["doc_id"] for c in citations}) == len(citations)  # different passages
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert citations[0]["confidence"] == data["confidence"]
    confidences = [c["confidence"] for c in citations]
    assert confidences == sorted(confidences, reverse=True)
    assert "may answer" in data["answer"]
    assert all(f"[{c['n']}]" in data["answer"] for c in citations)
    assert all(c["quote"] not in data["answer"] for c in citations)  # not given as the answer
    assert data["short_answer"] is None
    _check_citations(data)


def test_none_outcome_json() -> None:
    result = _ask(ScoringModel(("overlap",), (4.0,), -2.0, (1.0, 0.0), 0.0, threshold=0.999))
    data = result.to_dict()
    assert data["outcome"] == "none" and data["answered"] is False
    assert data["citations"] == [] and data["short_answer"] is None
    assert "do not answer" in data["answer"]
    assert 0.0 < data["confidence"] < 0.999 and data["passages"]


def test_the_shipped_model_has_two_fitted_cut_points() -> None:
    model = load_scoring()
    data = json.loads(scoring_file().read_text())
    assert 0.0 < model.threshold < model.upper < 1.0
    assert data["fitted"]["bands"]["threshold"] == model.threshold
    assert data["fitted"]["bands"]["answer_threshold"] == model.upper


def test_a_threshold_given_alone_is_one_cut_and_both_can_be_given() -> None:
    one = load_scoring(threshold=0.4)
    assert (one.threshold, one.upper) == (0.4, 0.4)
    both = load_scoring(threshold=0.2, answer_threshold=0.6)
    assert (both.threshold, both.upper) == (0.2, 0.6)
    upper = load_scoring(answer_threshold=0.95)
    assert upper.upper == 0.95 and upper.threshold == load_scoring().threshold


def test_candidates_never_come_twice_from_one_passage() -> None:
    from qa.answer import candidate_rows, candidates

    embedder = FakeEmbedder()
    passages = _passages(embedder)
    found = candidates(QUESTION, embedder.encode([QUESTION])[0], passages)
    order = list(np.argsort(-found.matrix[:, 3]))  # any order: every row once
    rows = candidate_rows([int(j) for j in order], found, passages)
    assert len(rows) == MAX_CANDIDATES
    assert len({found.passage_of[j] for j in rows}) == len(rows)
