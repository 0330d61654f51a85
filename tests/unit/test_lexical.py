"""The tokenizer, corpus-free term weights and BM25 on tiny corpora."""

from __future__ import annotations

import pytest

from qa.lexical import (
    LexicalIndex,
    content_words,
    term_weights,
    token_set,
    tokens,
    weighted_overlap,
)


def test_tokens_drop_stop_words_and_stem() -> None:
    assert tokens("When were the bridges opened in 1932?") == ["bridg", "open", "1932"]


@pytest.mark.parametrize(
    "text",
    [
        "How many chunkservers does cluster A have?",
        "Cluster; A; B",
        "Foods rich in vitamin A.",
        "Is A larger than B?",
        "See Appendix A for the proofs.",
    ],
)
def test_a_capital_a_that_names_something_is_a_word_to_the_scorer(text: str) -> None:
    assert "a" in token_set(text)
    assert term_weights(text)["a"] == term_weights("Plan B")["b"]


@pytest.mark.parametrize(
    "text",
    [
        "A lease is granted by the master.",
        "It failed. A new master was elected.",
        "Notes: A new approach",
        "Introduction\nA new approach",
        "\u2022 A lease per chunk",
        '"A good day," he said.',
        "THIS IS A TEST",
        "a lease",
        "Which objects does the V&A hold?",
        'A "Members Debate" is held first.',
    ],
)
def test_the_article_a_is_not_a_word_to_the_scorer(text: str) -> None:
    assert "a" not in token_set(text)
    assert "a" not in term_weights(text)


def test_bm25_and_the_length_count_the_same_words_with_or_without_a_named_a() -> None:
    named, plain = "Cluster A has 342 chunkservers.", "Cluster has 342 chunkservers."
    assert tokens(named) == tokens(plain)
    assert content_words(token_set(named)) == content_words(token_set(plain)) == 3


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
