"""Sentence choice, abstention, the scoring file and short answers (fake embedder, no model)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa.answer import FEATURES, ScoringModel, answer, candidates
from qa.pipeline import SCORING_FILE, load_scoring
from qa.retrieval import Passage
from qa.short_answer import find_short_answer, holds_type, question_type
from qa.store import StoredChunk, StoredSentence
from tests.conftest import FakeEmbedder

TEXT = (
    "The bridge was opened in 1932 by the mayor. "
    "It is painted red and crosses the river. "
    "Ferries stopped running after the bridge opened."
)


def _passages(embedder: FakeEmbedder, text: str = TEXT, doc_id: str = "d.txt") -> list[Passage]:
    """One chunk holding every sentence of `text` (split at '. ')."""
    pieces, start = [], 0
    for part in text.split(". "):
        part = part if part.endswith(".") else part + "."
        begin = text.index(part, start)
        pieces.append((begin, begin + len(part)))
        start = begin + len(part)
    vectors = embedder.encode([text[s:e] for s, e in pieces] + [text])
    sentences = [
        StoredSentence(doc_id, s, e, text[s:e], vectors[i]) for i, (s, e) in enumerate(pieces)
    ]
    chunk = StoredChunk(f"{doc_id}#0", doc_id, "Doc", 0, len(text), text, sentences, vectors[-1])
    return [Passage(chunk, 0.03, 1, 0.5, 1, 1)]


def _ask(question: str, model: ScoringModel, **kwargs):  # type: ignore[no-untyped-def]
    embedder = FakeEmbedder()
    vector = embedder.encode([question])[0]
    return answer(question, vector, _passages(embedder), model, **kwargs)


def test_candidates_have_every_feature_in_range() -> None:
    embedder = FakeEmbedder()
    question = "When was the bridge opened?"
    found = candidates(question, embedder.encode([question])[0], _passages(embedder))
    assert found.matrix.shape == (3, len(FEATURES))
    column = dict(zip(FEATURES, found.matrix.T, strict=True))
    assert column["overlap"].max() == pytest.approx(1.0)  # "bridge" and "opened" both there
    assert column["dense_gap"].max() == 0.0 and (column["dense_gap"] <= 0).all()
    assert column["type_match"].tolist() == [1.0, 0.0, 0.0]  # only the first names a year
    assert column["type_miss"].tolist() == [0.0, 1.0, 1.0]
    assert (column["passage_rank"] == 1.0).all()


def test_the_sentence_holding_the_asked_for_kind_wins() -> None:
    model = ScoringModel(("overlap", "type_match"), (1.0, 2.0), -1.0, threshold=0.0)
    result = _ask("When was the bridge opened?", model, short=False)
    assert result.answered
    first = result.citations[0]
    assert first.quote == "The bridge was opened in 1932 by the mayor."
    assert TEXT[first.start : first.end] == first.quote
    assert result.answer.startswith(f"{first.quote} [1]")


def test_abstains_below_the_threshold_and_keeps_the_confidence() -> None:
    model = ScoringModel(("overlap",), (1.0,), -1.0, threshold=0.99)
    result = _ask("When was the bridge opened?", model)
    assert not result.answered and result.citations == [] and result.short_answer is None
    assert "do not answer" in result.answer
    assert 0.0 < result.confidence < 0.99
    assert result.passages  # the passages are still shown


def test_confidence_is_the_calibrated_best_score() -> None:
    model = ScoringModel(("overlap",), (2.0,), 0.0, (0.5, 0.0), -0.25, threshold=0.0)
    result = _ask("When was the bridge opened?", model, short=False)
    # best overlap 1.0 -> score 2.0 -> sigmoid(0.5 * 2.0 - 0.25)
    assert result.confidence == pytest.approx(1 / (1 + np.exp(-0.75)), abs=1e-4)


def test_answer_to_dict_keeps_the_contract_and_adds_short_answer() -> None:
    model = ScoringModel(("overlap",), (5.0,), 0.0, threshold=0.0)
    data = _ask("Which river does the bridge cross?", model, short=False).to_dict()
    assert set(data) == {
        "question", "answered", "answer", "confidence", "citations", "passages", "took_ms",
        "short_answer",
    }  # fmt: skip
    assert set(data["citations"][0]) == {"n", "doc_id", "title", "quote", "start", "end", "score"}
    assert set(data["passages"][0]) == {"doc_id", "chunk_id", "text", "start", "end", "score"}
    assert data["short_answer"] is None


def test_passages_are_cut_to_top_k_after_reordering() -> None:
    embedder = FakeEmbedder()
    question = "What colour is the bridge painted?"
    first = _passages(embedder, "Nothing here matters. Really nothing.", "a.txt")[0]
    second = replace(_passages(embedder)[0], rank=2)
    model = ScoringModel(("overlap",), (5.0,), 0.0, threshold=0.0)
    result = answer(question, embedder.encode([question])[0], [first, second], model, top_k=1)
    assert [p.doc_id for p in result.passages] == ["d.txt"]  # re-ordered by its best sentence
    assert result.citations[0].quote == "It is painted red and crosses the river."
    both = answer(question, embedder.encode([question])[0], [first, second], model)
    assert [p.doc_id for p in both.passages] == ["d.txt", "a.txt"]
    assert 1.0 >= both.passages[0].score > both.passages[1].score >= 0.0


def test_scoring_model_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ScoringModel(threshold=1.5)
    with pytest.raises(ValueError, match="differ"):
        ScoringModel(("dense",), (1.0, 2.0))
    with pytest.raises(ValueError, match="unknown"):
        ScoringModel(("shoe_size",), (1.0,))
    with pytest.raises(ValueError, match="calibration"):
        ScoringModel(calibration=(1.0,))


def test_scoring_file_round_trip_and_threshold_override(tmp_path) -> None:
    model = ScoringModel(
        ("dense", "overlap"), (1.5, 2.5), -3.0, (0.8, 0.1, 2.0), -0.2, 0.35,
        ("best_score", "margin", "context_coverage"),
    )  # fmt: skip
    path = tmp_path / "scoring.json"
    path.write_text(model.to_json({"data": "test"}))
    assert ScoringModel.from_file(path) == model
    assert load_scoring(path, threshold=0.9).threshold == 0.9
    assert load_scoring(tmp_path / "missing.json") == ScoringModel()


def test_the_shipped_scoring_file_is_fitted_and_says_how() -> None:
    data = json.loads(SCORING_FILE.read_text())
    model = ScoringModel.from_file(SCORING_FILE)
    assert set(model.features) <= set(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert "articles 0-23" in data["fitted"]["data"]
    assert data["fitted"]["command"].startswith("qa eval fit")


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When did Luxon take office?", "date"),
        ("In what year was the bridge opened?", "date"),
        ("How many nations attend the meeting?", "number"),
        ("Who patented the espresso machine?", "person"),
        ("Where is the tower?", "place"),
        ("Which team won Super Bowl 50?", "organization"),
        ("Why did the ferries stop?", None),
        ("What does China consider Taiwan?", None),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_holds_type_ignores_what_the_question_already_names() -> None:
    assert holds_type("It opened in 1932.", "date", "When did it open?")
    assert not holds_type("It opened in 1932.", "date", "What happened in 1932?")
    assert holds_type("Bezzera improved it.", "person", "Who improved the machine?")
    assert not holds_type("it was improved later.", "person", "Who improved the machine?")
    assert not holds_type("It opened in 1932.", None, "Why?")


def test_short_answer_is_an_entity_of_the_asked_kind_with_document_offsets() -> None:
    sentence = "Luxon took office in November 2023 after the election."
    found = find_short_answer("When did Luxon take office?", "date", sentence, "d.txt", 100)
    assert found is not None
    assert found.text == "November 2023"
    assert (found.start, found.end, found.doc_id) == (121, 134, "d.txt")
    assert sentence[found.start - 100 : found.end - 100] == found.text


def test_no_short_answer_without_a_fitting_candidate() -> None:
    sentence = "Luxon took office after the election."
    assert find_short_answer("When did Luxon take office?", "date", sentence, "d", 0) is None
    assert find_short_answer("Who is Luxon?", "person", "Luxon is Luxon.", "d", 0) is None
    assert find_short_answer("Why?", None, sentence, "d", 0) is None
