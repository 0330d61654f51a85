"""The metrics on tiny hand-made cases: a wrong metric makes every figure wrong."""

from __future__ import annotations

import math

import pytest

from qa.retrieval import rrf
from qa.tools.metrics import (
    exact_match,
    hit_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    quote_has_answer,
    recall_at_k,
    reliability,
    token_f1,
    tradeoff,
)


def test_normalize_answer_follows_squad() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a day") == "apple day"
    assert normalize_answer("Theory") == "theory"  # "the" only as a whole word


def test_exact_match_uses_normalization_and_any_gold() -> None:
    assert exact_match("the Broncos.", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert exact_match(None, ["Broncos"]) == 0.0


def test_token_f1_is_best_over_golds() -> None:
    # prediction "denver broncos", gold "broncos": precision 1/2, recall 1 -> F1 2/3
    assert token_f1("Denver Broncos", ["Broncos"]) == pytest.approx(2 / 3)
    assert token_f1("Denver Broncos", ["Broncos", "the Denver Broncos"]) == 1.0
    assert token_f1("Carolina", ["Denver Broncos"]) == 0.0
    assert token_f1(None, ["x"]) == 0.0


def test_hit_at_k_needs_the_whole_gold_span_inside_a_passage_of_the_same_document() -> None:
    golds = [("a.txt", 100, 110)]
    ranked = [("b.txt", 0, 500), ("a.txt", 0, 105), ("a.txt", 90, 200)]
    assert hit_at_k(ranked, golds, 1) == 0.0  # other document
    assert hit_at_k(ranked, golds, 2) == 0.0  # span cut at 105
    assert hit_at_k(ranked, golds, 3) == 1.0
    assert hit_at_k(ranked, golds, 5) == 1.0


def test_sentence_at_1_is_case_insensitive_containment() -> None:
    assert quote_has_answer("It was played in Santa Clara.", ["santa clara"]) == 1.0
    assert quote_has_answer("It was played in Santa Clara.", ["Levi's Stadium"]) == 0.0
    assert quote_has_answer(None, ["x"]) == 0.0


def test_ndcg_at_10_by_hand() -> None:
    relevant = {"d1": 1, "d3": 1}
    # hits at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["d1", "d2", "d3"], relevant, 10) == pytest.approx(expected)
    assert ndcg_at_k(["d1", "d3"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"] * 10 + ["d1"], relevant, 10) == 0.0
    assert ndcg_at_k(["d1"], {}, 10) == 0.0


def test_ndcg_uses_graded_gains() -> None:
    relevant = {"a": 2, "b": 1}
    worse = ndcg_at_k(["b", "a"], relevant, 10)
    assert ndcg_at_k(["a", "b"], relevant, 10) == pytest.approx(1.0)
    assert worse == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_recall_at_100() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert recall_at_k(["a", "x"], relevant, 100) == 0.5
    assert recall_at_k(["x"] * 100 + ["a", "b"], relevant, 100) == 0.0
    assert recall_at_k(["b", "a"], relevant, 100) == 1.0


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    fused = rrf([["a", "b"], ["b", "c"]], [1.0, 2.0], k=10)
    assert fused["a"] == pytest.approx(1 / 11)
    assert fused["b"] == pytest.approx(1 / 12 + 2 / 11)
    assert fused["c"] == pytest.approx(2 / 12)
    assert max(fused, key=fused.get) == "b"


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) == 0.0


def test_reliability_table_and_ece() -> None:
    probabilities = [0.05, 0.05, 0.95, 0.95]
    outcomes = [0.0, 1.0, 1.0, 1.0]
    error, table = reliability(probabilities, outcomes, bins=10)
    assert [(b.count, b.accuracy) for b in table] == [(2, 0.5), (2, 1.0)]
    # bin 0: |0.05 - 0.5| = 0.45, bin 9: |0.95 - 1| = 0.05, each half the weight
    assert error == pytest.approx(0.25)
    perfect, _ = reliability([1.0, 0.0], [1.0, 0.0])
    assert perfect == 0.0


def test_tradeoff_counts_answered_and_abstained() -> None:
    rows = tradeoff([0.9, 0.6, 0.2], [0.1, 0.5], [0.0, 0.55, 1.0])
    assert rows[0] == (0.0, 1.0, 0.0)
    assert rows[1] == (0.55, pytest.approx(2 / 3), 1.0)
    assert rows[2] == (1.0, 0.0, 1.0)
