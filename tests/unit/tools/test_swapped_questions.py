"""Look-alike questions: the names and numbers found, the swap or opposite word made (or
refused), and the negatives `qa train reader --swapped` adds."""

from __future__ import annotations

import random

from qa.tools.swapped_questions import (
    OPPOSITE,
    article_pool,
    contrast_question,
    kind_of,
    look_alike,
    mentions,
    negate_question,
    swap_question,
)
from qa.tools.train_reader import (
    Corpus,
    Question,
    Sentence,
    article_pools,
    negated_pairs,
    swapped_pairs,
)


def test_mentions_find_names_initials_and_numbers() -> None:
    text = "In 1955 J. H. Thomas met the Duke of York in St Louis, with 2,000 men of the B52s."
    assert mentions(text) == ["J. H. Thomas", "Duke of York", "St Louis", "B52s", "1955", "2,000"]
    assert mentions("What did Gladstone do in the 1980s?") == ["Gladstone"]
    assert mentions("Consequently, Rome grew.", sentence=True) == ["Rome"]
    assert mentions("Consequently, Rome grew.") == ["Consequently", "Rome"]


def test_kind_of() -> None:
    assert [kind_of(m) for m in ("1955", "2,000", "12", "3000", "Rome")] == [
        "year", "number", "number", "number", "name",
    ]  # fmt: skip


def test_swap_replaces_a_shared_mention_with_one_of_its_kind_the_window_lacks() -> None:
    window = "Gladstone led the Liberal Party in 1868. William Gladstone"
    pool = ["Gladstone", "Disraeli", "Liberal Party", "1868", "1874", "Queen Victoria", "300"]
    seen = {swap_question("Which party did Gladstone lead in 1868?", window, pool,
                          random.Random(seed)) for seed in range(30)}  # fmt: skip
    assert seen <= {
        "Which party did Disraeli lead in 1868?",
        "Which party did Queen Victoria lead in 1868?",
        "Which party did Gladstone lead in 1874?",
    }  # fmt: skip
    assert len(seen) == 3


def test_swap_refuses_when_nothing_can_change() -> None:
    rng = random.Random(0)
    # no mention of the question is in the window
    assert swap_question("Who founded Rome?", "Romulus did.", ["Carthage"], rng) is None
    # the only replacement of its kind is in the window too
    assert swap_question("When did Rome fall?", "Rome fell in 476 to Odoacer.", ["Odoacer", "476"],
                         rng) is None  # fmt: skip
    assert swap_question("when did rome fall?", "Rome fell.", ["Carthage"], rng) is None


def test_article_pool_is_ordered_and_distinct() -> None:
    # a lone capitalised first word is skipped, a leading "Then" dropped
    assert article_pool(["Rome and Carthage fought.", "Carthage fell in 146.", "Then Rome"]) == [
        "Carthage", "146", "Rome",
    ]  # fmt: skip


def _punic_wars() -> tuple[Corpus, Question]:
    """One article of three sentences and a question answered by the second."""
    sentences = [
        Sentence("Carthage was founded by Phoenicians.", 0, 0, 0, ""),
        Sentence("Rome destroyed Carthage in 146 BC.", 0, 0, 37, "Carthage was founded."),
        Sentence("Hannibal crossed the Alps in 218 BC.", 0, 1, 0, ""),
    ]
    question = Question("When did Rome destroy Carthage?", 1, (28, 34), "146 BC")
    return Corpus(["Punic Wars"], sentences, [question], [0]), question


def test_swapped_pairs_add_look_alikes_as_negatives_of_the_answer_sentence() -> None:
    corpus, question = _punic_wars()
    pools = article_pools(corpus)
    pairs = swapped_pairs(corpus, pools, [0], 1.0, random.Random(1))
    assert pairs == [(1, 1, 0)]
    look_alike = corpus.questions[1].text
    assert look_alike != question.text and look_alike.startswith("When did ")
    assert "Hannibal" in look_alike or "Alps" in look_alike or "Phoenicians" in look_alike
    assert swapped_pairs(corpus, pools, [0], 0.0, random.Random(1)) == []


def test_opposites_go_both_ways() -> None:
    assert OPPOSITE["more"] == "less" and OPPOSITE["less"] == "more"
    assert OPPOSITE["before"] == "after" and OPPOSITE["after"] == "before"
    assert all(word != opposite for word, opposite in OPPOSITE.items())


def test_contrast_turns_a_shared_word_into_its_opposite_the_window_lacks() -> None:
    window = "As a person ages the skin becomes less adept at producing vitamin D."
    rng = random.Random(0)
    assert contrast_question("What becomes less adept at producing vitamin D as a person ages?",
                             window, rng) == (
        "What becomes more adept at producing vitamin D as a person ages?"
    )  # fmt: skip
    # capitalisation kept, whole words only ("Before" not in "Beforehand")
    assert contrast_question("Before 1815, who ruled?", "Before 1815 the Tsar ruled.", rng) == (
        "After 1815, who ruled?"
    )  # fmt: skip
    seen = {contrast_question("Who was the first and largest donor?",
                              "The first and largest donor was Mr Smith.", random.Random(seed))
            for seed in range(20)}  # fmt: skip
    assert seen == {"Who was the last and largest donor?", "Who was the first and smallest donor?"}


def test_contrast_refuses_when_the_window_holds_both_words_or_neither() -> None:
    rng = random.Random(0)
    assert contrast_question("Who had more votes?", "Jones had more, Smith less.", rng) is None
    assert contrast_question("Who had more votes?", "Jones was elected mayor.", rng) is None
    assert contrast_question("Who won the most votes?", "Beforehand the mostly rural vote.",
                             rng) is None  # fmt: skip
    # the opposite already in the question: swapping would make nonsense, not a look-alike
    assert contrast_question("Was more or less rain seen?", "more rain fell", rng) is None


def test_look_alike_draws_either_kind() -> None:
    window = "Rome grew larger after 146 BC."
    seen = {look_alike("What grew larger after 146 BC?", window, ["Carthage", "202"],
                       random.Random(seed)) for seed in range(30)}  # fmt: skip
    assert "What grew larger after 202 BC?" in seen
    assert "What grew smaller after 146 BC?" in seen
    assert "What grew larger before 146 BC?" in seen
    assert look_alike("Who ruled?", "Kings ruled.", [], random.Random(0)) is None


def test_negation_contracts_the_first_auxiliary() -> None:
    window = "The festival is held in May. Tarragona"
    rng = random.Random(0)
    assert negate_question("When is the festival held?", window, rng) == (
        "When isn't the festival held?"
    )  # fmt: skip
    assert negate_question("What did Gladstone do in 1868?", window, rng) == (
        "What didn't Gladstone do in 1868?"
    )  # fmt: skip
    assert negate_question("Was it held in May?", window, rng) == "Wasn't it held in May?"
    # after a subject "who" / "what" / "which", a copula takes "not" or the contraction
    seen = {negate_question("Which river is the longest?", window, random.Random(seed))
            for seed in range(20)}  # fmt: skip
    assert seen == {"Which river is not the longest?", "Which river isn't the longest?"}


def test_negation_refuses_without_an_auxiliary_or_with_a_negation_anywhere() -> None:
    rng = random.Random(0)
    assert negate_question("Which river flows through Paris?", "The Seine flows.", rng) is None
    assert negate_question("Who wasn't crowned?", "Louis was crowned.", rng) is None
    assert negate_question("Who is not a king?", "Louis was crowned.", rng) is None
    # the window says what is not so: it might answer the negated question
    assert negate_question("Who was crowned?", "Louis was crowned, not Henri.", rng) is None
    assert negate_question("Who was crowned?", "Louis never was.", rng) is None
    assert negate_question("Who was crowned?", "Henri couldn't be.", rng) is None


def test_negated_pairs_add_negations_as_negatives_of_the_answer_sentence() -> None:
    corpus, _ = _punic_wars()
    assert negated_pairs(corpus, [0], 1.0, random.Random(1)) == [(1, 1, 0)]
    assert corpus.questions[1] == Question("When didn't Rome destroy Carthage?", 1, (28, 34),
                                           "146 BC")  # fmt: skip
    assert negated_pairs(corpus, [0], 0.0, random.Random(1)) == []
