"""Unanswerable look-alikes for reader training: a question with one name, number or word
swapped.

SQuAD 2.0's unanswerable questions are written against a paragraph to look answerable from it;
the commonest kinds name another person, place or year than the text does, or turn one of its
words into the opposite ("less adept" asked as "more adept", "approved" as "rejected", "after"
as "before"). The reader learns to tell them apart only if it sees those negatives: the
answer's window paired with the question after one of its names (or numbers) that the window
contains is replaced by another of the same kind from the same article that the window does not
contain (`swap_question`), or after one of its words that the window contains is replaced by its
opposite, which the window does not contain (`contrast_question`). A third kind, SQuAD 2.0's
negation, is made apart (`negate_question`: "Who was the first ..." asked as "Who was not the
first ..." of a window that negates nothing), so that `look_alike`'s draws stay as they were.

In: a question, the text of its answer window (sentence, previous sentence, title) and the
article's mentions. Out: the altered question, or None when no change is possible (no shared
mention or word, or no replacement of its kind).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from functools import lru_cache

# A run of capitalised words, with short lower-case joiners ("Duke of York", "Vincent van Gogh").
_WORD = r"(?:[A-Z]\.|[A-Z][\w'’-]*)"  # an initial ("J.") or a capitalised word
_NAME = re.compile(rf"{_WORD}(?:\s+(?:(?:of|the|de|du|da|di|von|van|der|la|le|y)\s+)*{_WORD})*")
_NUMBER = re.compile(r"(?<![\w.,-])\d(?:[\d,.]*\d)?(?![\w])")  # not "1980s", not "B52"
# Capitalised only because they start a question or sentence: never a swappable name.
# fmt: off
_LEADING = frozenset({
    "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "in", "on", "at",
    "the", "a", "an", "is", "was", "are", "were", "do", "does", "did", "of", "for", "by", "to",
    "from", "during", "after", "before", "along", "besides", "since", "as", "it", "its", "this",
    "that", "these", "those", "if", "with", "under", "according", "other", "than", "many",
    "some", "most", "much", "there", "he", "she", "they", "his", "her", "their", "name", "list",
    "give", "then", "however", "although", "but", "and", "also", "later", "thus", "today",
    "while", "because", "both", "each", "all", "following", "despite", "unlike", "like",
})
# Words and their opposites, both ways: swapping one the window holds makes a question it no
# longer answers (only pairs whose swap keeps the question grammatical). A word in two pairs
# ("small": "large small", "big small") keeps its last opposite.
_PAIRS = (
    "more less", "most least", "larger smaller", "largest smallest", "large small", "big small",
    "bigger smaller", "biggest smallest", "higher lower", "highest lowest", "high low",
    "first last", "before after", "earliest latest", "earlier later", "early late",
    "increase decrease", "increased decreased", "increases decreases", "increasing decreasing",
    "rise fall", "rose fell", "won lost", "win lose", "wins loses", "gained lost",
    "accepted rejected", "approved rejected", "accept reject", "approve reject",
    "north south", "east west", "northern southern", "eastern western", "northeast southwest",
    "northwest southeast", "upper lower", "inside outside", "major minor", "longest shortest",
    "longer shorter", "long short", "oldest newest", "older younger", "maximum minimum",
    "positive negative", "strong weak", "stronger weaker", "strongest weakest",
    "successful unsuccessful", "success failure", "began ended", "start end", "opened closed",
    "public private", "legal illegal", "possible impossible", "always never", "same different",
    "above below", "hot cold", "warmer cooler", "wet dry", "rich poor", "richest poorest",
    "male female", "men women", "modern ancient", "internal external", "domestic foreign",
    "imports exports", "import export", "bought sold", "buy sell", "supported opposed",
    "support oppose", "included excluded", "include exclude", "allowed banned", "legalized banned",
    "cheaper dearer", "fastest slowest", "faster slower", "fast slow", "heavier lighter",
    "heaviest lightest", "deepest shallowest", "wider narrower", "widest narrowest",
    "entered left", "arrived departed", "birth death", "victory defeat",
    "majority minority", "best worst", "better worse", "good bad", "lowered raised",
    "decline growth", "declined grew", "agreed refused", "accepted refused", "top bottom",
    "temporary permanent", "true false", "full empty",
)
OPPOSITE = {a: b for pair in _PAIRS for a, b in (pair.split(), pair.split()[::-1])}
# fmt: on


@lru_cache(maxsize=65536)  # each pool's mentions are classified once, not once per question
def kind_of(mention: str) -> str:
    """'year' (four digits 1000-2099), 'number' (other digits) or 'name'."""
    if not _NUMBER.fullmatch(mention):
        return "name"
    return "year" if mention.isdigit() and 1000 <= int(mention) <= 2099 else "number"


def mentions(text: str, sentence: bool = False) -> list[str]:
    """The names (capitalised runs, leading function words dropped) and numbers in `text`.
    With `sentence`, a lone capitalised first word ("Consequently") is not taken for a name."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        words = match.group().split()
        while words and words[0].lower() in _LEADING:
            words.pop(0)
        name = " ".join(words).rstrip(".'’-")
        if sentence and match.start() == 0 and len(match.group().split()) == 1:
            continue
        if len(name) > 1 and name in text:
            found.append(name)
    found.extend(m.group() for m in _NUMBER.finditer(text))
    return found


def article_pool(sentences: Iterable[str]) -> list[str]:
    """Every distinct mention of an article's sentences, in first-seen order (deterministic)."""
    return list(dict.fromkeys(m for text in sentences for m in mentions(text, sentence=True)))


def swap_question(question: str, window: str, pool: list[str], rng: random.Random) -> str | None:
    """`question` with one of its mentions that `window` holds replaced by a mention of the same
    kind from `pool` that neither `window` nor `question` holds; None when there is none."""
    lowered_window, lowered_question = window.lower(), question.lower()
    shared = [m for m in dict.fromkeys(mentions(question)) if m in window]
    rng.shuffle(shared)
    for mention in shared:
        kind = kind_of(mention)
        options = [
            other for other in pool
            if kind_of(other) == kind and other.lower() not in lowered_window
            and other.lower() not in lowered_question
            and mention.lower() not in other.lower() and other.lower() not in mention.lower()
        ]  # fmt: skip
        if options:
            return question.replace(mention, rng.choice(options), 1)
    return None


def _has_word(word: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def contrast_question(question: str, window: str, rng: random.Random) -> str | None:
    """`question` with one of its words that `window` also holds replaced by its opposite
    (`OPPOSITE`, capitalisation kept), an opposite that neither `window` nor `question` holds;
    None when there is none."""
    words = [
        w for w in dict.fromkeys(re.findall(r"[A-Za-z]+", question))
        if w.lower() in OPPOSITE and _has_word(w, window)
        and not _has_word(OPPOSITE[w.lower()], window)
        and not _has_word(OPPOSITE[w.lower()], question)
    ]  # fmt: skip
    if not words:
        return None
    word = rng.choice(words)
    opposite = OPPOSITE[word.lower()]
    if word[0].isupper():
        opposite = opposite[0].upper() + opposite[1:]
    return re.sub(rf"\b{re.escape(word)}\b", opposite, question, count=1)


def look_alike(question: str, window: str, pool: list[str], rng: random.Random) -> str | None:
    """An unanswerable look-alike of `question` for its answer's `window`: a name or number
    swapped (`swap_question`) or a word turned into its opposite (`contrast_question`), the kind
    drawn at random among those possible; None when neither is."""
    makers = [
        lambda: swap_question(question, window, pool, rng),
        lambda: contrast_question(question, window, rng),
    ]
    rng.shuffle(makers)
    for make in makers:
        made = make()
        if made is not None:
            return made
    return None


# Auxiliaries and copulas a question can negate, with their contracted negation: "When isn't the
# festival held?" and "What didn't Gladstone do?" stay grammatical where "not" would have to
# follow the subject.
_NEGATED = {
    "is": "isn't", "are": "aren't", "was": "wasn't", "were": "weren't", "do": "don't",
    "does": "doesn't", "did": "didn't", "can": "can't", "could": "couldn't", "has": "hasn't",
    "have": "haven't", "had": "hadn't", "will": "won't", "would": "wouldn't",
    "should": "shouldn't", "must": "mustn't",
}  # fmt: skip
# After a copula that follows its subject ("Who", "Which river"), "not" reads as well: "Who was
# not the first ...", but not "When is not the festival held?".
_SUBJECT = frozenset({"who", "what", "which"})
_COPULA = frozenset({"is", "are", "was", "were"})
_DETERMINER = frozenset({"the", "a", "an", "one", "considered", "known", "called", "used"})
# A window with one of these may state what is not so: a negated question could be answered.
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|none|without)\b|n't\b", re.IGNORECASE)


def negate_question(question: str, window: str, rng: random.Random) -> str | None:
    """`question` with its first auxiliary or copula negated ("When is the festival held?" ->
    "When isn't the festival held?"; after a "who", "what" or "which" subject, a copula before
    "the", "a", ... as "is not" or "isn't" at random); None when it has none, already negates,
    or `window` negates anything (it might answer the negated question)."""
    if _NEGATION.search(question) or _NEGATION.search(window):
        return None
    words = list(re.finditer(r"[A-Za-z']+", question))
    subject = bool(words) and words[0].group().lower() in _SUBJECT
    for here, after in zip(words, words[1:], strict=False):
        word = here.group()
        if word.lower() not in _NEGATED:
            continue
        negated = _NEGATED[word.lower()]
        if (subject and word.lower() in _COPULA and after.group().lower() in _DETERMINER
                and rng.random() < 0.5):  # fmt: skip
            negated = f"{word.lower()} not"
        if word[0].isupper():
            negated = negated[0].upper() + negated[1:]
        return f"{question[: here.start()]}{negated}{question[here.end() :]}"
    return None
