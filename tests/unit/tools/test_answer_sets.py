"""`qa eval wikiqa`, `tydi` and `squad2` end to end on tiny slices of the real benchmark files,
and the loaders and figures they rest on."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.tools.answer_sets import (
    abstention_at_target,
    coverage_curve,
    matches_sentence,
    threshold_answering,
    tradeoff_curve,
)
from qa.tools.eval_corpus import load_squad, load_tydi, load_wikiqa, passage_half
from tests.support.eval_slices import SQUAD11

SYSTEMS = ("product", "bm25", "dense")


def test_wikiqa_loader_indexes_every_split_and_marks_correct_sentences(wikiqa_slice):
    documents, questions = load_wikiqa(wikiqa_slice, "dev")
    texts = {d.doc_id: d.text for d in documents}
    assert len(questions) == 12
    assert any(q.answers for q in questions) and any(not q.answers for q in questions)
    for question in questions:
        assert question.doc_id in texts
        for sentence, start, end in question.answers:
            assert texts[question.doc_id][start:end] == sentence
    _, train = load_wikiqa(wikiqa_slice, "train")
    assert len(train) == 3 and all(q.doc_id in texts for q in train)
    with pytest.raises(FileNotFoundError):
        load_wikiqa(wikiqa_slice, "test")


def test_tydi_loader_makes_one_document_per_distinct_passage(tydi_slice):
    documents, questions = load_tydi(tydi_slice)
    texts = {d.doc_id: d.text for d in documents}
    assert len(documents) == len(texts) <= 10 and len(questions) >= 10
    for question in questions:
        for text, start, end in question.answers:
            assert texts[question.doc_id][start:end] == text
    assert all(d.group == passage_half(d.text) in (0, 1) for d in documents)


def test_squad_loader_reads_unanswerable_questions_of_squad2(squad2_slice):
    articles, questions = load_squad(squad2_slice)
    assert len(articles) == 3
    assert any(not q.answers for q in questions) and any(q.answers for q in questions)


def test_threshold_answering_answers_at_least_the_share():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    t = threshold_answering(scores, 0.85)
    assert t == 0.1 and sum(s >= t for s in scores) / len(scores) >= 0.85
    assert threshold_answering([], 0.85) == -math.inf
    figures = abstention_at_target(scores, [0.05, 0.2, 0.01, 0.09])
    assert figures["answered_at_target"] == 0.9
    assert figures["abstained_at_target"] == 0.75  # 0.05, 0.01 and 0.09 are below 0.1


def test_curves_move_with_the_threshold():
    # thresholds 0.05, 0.1, 0.2, 0.5, 0.9: (abstained without, answered with)
    assert tradeoff_curve([0.1, 0.5, 0.5, 0.9], [0.2, 0.5, 0.05]) == [
        (0.0, 1.0), (1 / 3, 1.0), (1 / 3, 0.75), (2 / 3, 0.75), (1.0, 0.25)
    ]  # fmt: skip
    assert coverage_curve([0.9, 0.1, 0.5], [1.0, 0.0, 0.0]) == [(1 / 3, 1.0), (2 / 3, 0.5),
                                                               (1.0, 1 / 3)]  # fmt: skip


def test_matches_sentence_accepts_containment_either_way():
    gold = ["The Eiffel Tower is 330 metres tall."]
    assert matches_sentence("the Eiffel Tower is 330 metres tall", gold) == 1.0
    assert matches_sentence("Intro. The Eiffel Tower is 330 metres tall. More.", gold) == 1.0
    assert matches_sentence("It stands in Paris.", gold) == 0.0
    assert matches_sentence(None, gold) == 0.0 and matches_sentence("", gold) == 0.0


def _run(args: list[str]) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _assert_shares(part: dict, keys: tuple[str, ...]) -> None:
    for name in SYSTEMS:
        for key in keys:
            value = part[name][key]
            assert value is None or 0.0 <= value <= 1.0, (name, key, value)


@pytest.mark.model
def test_wikiqa_command_reports_quotes_and_abstention_with_baselines(
    eval_cache, wikiqa_slice, tmp_path
):
    plot = tmp_path / "wikiqa.png"
    report = _run(["eval", "wikiqa", str(wikiqa_slice), "--plot", str(plot)])
    assert report["questions"] == 12 and report["with_answer"] + report["without_answer"] == 12
    _assert_shares(report, ("top_quote_correct", "right_document", "abstained_at_target"))
    assert report["product"]["answered_at_target"] >= 0.85
    assert set(report["shipped"]) == {
        "threshold",
        "answered_with_answer",
        "abstained_without_answer",
    }
    assert plot.read_bytes()[:4] == b"\x89PNG"
    _assert_bands(report["bands"], report["with_answer"], report["without_answer"])
    table = CliRunner().invoke(main, ["eval", "wikiqa", str(wikiqa_slice)]).output
    assert "top_quote_correct" in table and "bm25" in table
    assert "outcomes at cut points" in table and "coverage" in table


def _assert_bands(bands: dict, with_answer: int, without_answer: int) -> None:
    """The three outcomes' figures at the shipped cut points: shares that add up to 1, and
    each figure on the questions it is about."""
    assert 0.0 <= bands["threshold"] <= bands["answer_threshold"] <= 1.0
    assert (bands["with_answer"], bands["without_answer"]) == (with_answer, without_answer)
    assert sum(bands[k] for k in ("answer", "candidates", "none")) == pytest.approx(1.0, abs=1e-3)
    for key, present in (("coverage", with_answer), ("answer_without_answer", without_answer)):
        assert (bands[key] is None) == (not present)
        assert bands[key] is None or 0.0 <= bands[key] <= 1.0


@pytest.mark.model
def test_tydi_command_reports_quote_and_passage_on_each_half(eval_cache, tydi_slice):
    report = _run(["eval", "tydi", str(tydi_slice)])
    keys = ("quote_holds_answer", "right_passage", "passage_hit1")
    for part in (report, report["half0"], report["half1"]):
        _assert_shares(part, keys)
        assert 0.0 <= part["shipped"]["answered"] <= 1.0
    assert report["half0"]["questions"] + report["half1"]["questions"] == report["questions"]
    for part in (report, report["half0"], report["half1"]):
        _assert_bands(part["bands"], part["questions"], 0)
    # Ten passages: the product must cite the right one for most questions.
    assert report["product"]["right_passage"] >= 0.6


@pytest.mark.model
def test_squad2_command_reports_abstention_on_unanswerable(eval_cache, squad2_slice, tmp_path):
    plot = tmp_path / "squad2.png"
    report = _run(["eval", "squad2", str(squad2_slice), "--v11", str(SQUAD11), "--plot", str(plot)])
    assert report["answerable"] + report["unanswerable"] == report["questions"] == 36
    _assert_shares(report, ("quote_holds_answer", "answered_at_target", "abstained_at_target"))
    shipped = report["shipped"]
    assert 0.0 <= shipped["answered_with_answer"] <= 1.0
    assert 0.0 <= shipped["abstained_without_answer"] <= 1.0
    # Only Pharmacy is among v1.1 articles 24-47, never fitted on.
    assert report["heldout"]["questions"] == 12 and report["heldout"]["documents"] == 1
    assert plot.read_bytes()[:4] == b"\x89PNG"
    for part in (report, report["heldout"]):
        _assert_bands(part["bands"], part["answerable"], part["unanswerable"])
