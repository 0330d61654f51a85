"""The tokenizer, corpus-free term weights and BM25 on tiny corpora."""

from __future__ import annotations

import pytest

from qa.lexical import LexicalIndex, term_weights, tokens, weighted_overlap


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokens("When were the bridges opened in 1932?") == ["bridg", "open", "1932"]


def test_term_weights_favour_rare_words() -> None:
    weights = term_weights("Which team represented the AFC at Super Bowl 50?")
    assert weights["afc"] > weights["team"]
    assert "the" not in weights and "which" not in weights
    assert all(1.0 <= w <= 9.0 for w in weights.values())


def test_weighted_overlap_is_a_share_of_the_question_weight() -> None:
    weights = {"afc": 5.0, "team": 3.0}
    assert weighted_overlap(weights, {"afc"}) == pytest.approx(5 / 8)
    assert weighted_overlap(weights, {"afc", "team", "other"}) == 1.0
    assert weighted_overlap({}, {"afc"}) == 0.0


@pytest.mark.parametrize(
    "texts", [["Espresso is brewed under pressure."], ["Espresso is brewed.", "Tea is steeped."]]
)
def test_bm25_works_on_one_or_two_documents(texts: list[str]) -> None:
    index = LexicalIndex(texts)
    hits = index.search("how is espresso brewed", 5)
    assert hits and hits[0][0] == 0 and hits[0][1] > 0  # no zero-IDF collapse


def test_bm25_leaves_out_documents_without_a_query_word() -> None:
    index = LexicalIndex(["Espresso is brewed.", "Tea is steeped.", ""])
    assert [row for row, _ in index.search("steeped tea", 5)] == [1]
    assert index.search("the of and", 5) == []


def test_bm25_hits_are_plain_numbers_best_first() -> None:
    index = LexicalIndex(["tea tea tea", "tea and espresso", "espresso only"])
    hits = index.search("tea", 3)
    assert [row for row, _ in hits] == [0, 1]
    assert all(type(row) is int and type(score) is float for row, score in hits)
    assert hits[0][1] > hits[1][1] > 0
