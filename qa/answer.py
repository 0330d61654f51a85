"""Choose the sentences that answer a question and render them as a cited, verbatim answer.

In: the question, its vector and the retrieved `Passage`s. Out: an `Answer`, the `/ask` and
`qa ask --json` object. Every sentence of the retrieved passages is scored with a few signals
(`SentenceFeatures`), combined linearly by `ScoringModel`; the logistic of that score is the
confidence. The best sentence is quoted; a second one only when it covers question words the
first one lacks. Below the confidence threshold the answerer abstains. The answer text comes
from the Jinja2 template `web/templates/answer.txt.j2`, the one place to change its wording.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.lexical import tokens
from qa.retrieval import Passage
from qa.store import StoredSentence

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@dataclass(frozen=True)
class Citation:
    """A quoted sentence: `quote == text_of(doc_id)[start:end]`."""

    n: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class PassageOut:
    """A retrieved passage as reported to the user."""

    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    """The answer object of the HTTP and CLI contracts."""

    question: str
    answered: bool
    answer: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    passages: list[PassageOut] = field(default_factory=list)
    took_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SentenceFeatures:
    """Signals for one candidate sentence; all roughly in 0..1."""

    dense: float  # cosine of question and sentence vectors
    passage_dense: float  # cosine of question and the best passage holding the sentence
    overlap: float  # share of the question's content words found in the sentence
    passage_rank: float  # 1 / rank of the best passage holding the sentence

    def vector(self) -> list[float]:
        return [self.dense, self.passage_dense, self.overlap, self.passage_rank]


@dataclass(frozen=True)
class ScoringModel:
    """A logistic model over `SentenceFeatures`: confidence = sigmoid(weights . x + bias)."""

    weights: tuple[float, ...] = (9.0, 2.0, 3.0, 0.5)
    bias: float = -7.0
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in 0..1, got {self.threshold}")

    def confidence(self, features: SentenceFeatures) -> float:
        z = sum(w * x for w, x in zip(self.weights, features.vector(), strict=True)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class _Candidate:
    sentence: StoredSentence
    title: str
    features: SentenceFeatures
    confidence: float
    words: frozenset[str]


def answer(
    question: str,
    vector: np.ndarray,
    passages: list[Passage],
    model: ScoringModel = ScoringModel(),
    max_sentences: int = 2,
) -> Answer:
    """Score the sentences of `passages` and build the cited answer (or an abstention)."""
    candidates = _candidates(question, vector, passages, model)
    chosen = _choose(candidates, model, max_sentences)
    passages_out = [
        PassageOut(p.chunk.doc_id, p.chunk.chunk_id, p.chunk.text, p.chunk.start, p.chunk.end,
                   round(p.score, 6))
        for p in passages
    ]  # fmt: skip
    best = candidates[0].confidence if candidates else 0.0
    if not chosen:
        return Answer(
            question, False, render_abstention(question), round(best, 4), [], passages_out
        )
    citations = [
        Citation(n, c.sentence.doc_id, c.title, c.sentence.text, c.sentence.start,
                 c.sentence.end, round(c.confidence, 4))
        for n, c in enumerate(chosen, start=1)
    ]  # fmt: skip
    return Answer(question, True, render_answer(citations), round(best, 4), citations, passages_out)


def _candidates(
    question: str, vector: np.ndarray, passages: list[Passage], model: ScoringModel
) -> list[_Candidate]:
    """Every distinct sentence of `passages` with its features, best first."""
    question_words = set(tokens(question))
    seen: dict[tuple[str, int], _Candidate] = {}
    for passage in passages:
        passage_dense = float(np.dot(vector, passage.chunk.vector))
        for sentence in passage.chunk.sentences:
            key = (sentence.doc_id, sentence.start)
            if key in seen:
                continue  # the best passage holding it came first
            words = frozenset(tokens(sentence.text))
            features = SentenceFeatures(
                dense=float(np.dot(vector, sentence.vector)),
                passage_dense=passage_dense,
                overlap=len(question_words & words) / len(question_words)
                if question_words
                else 0.0,
                passage_rank=1.0 / passage.rank,
            )
            seen[key] = _Candidate(
                sentence,
                passage.chunk.title,
                features,
                model.confidence(features),
                words & question_words,
            )
    return sorted(seen.values(), key=lambda c: (-c.confidence, c.sentence.doc_id, c.sentence.start))


def _choose(candidates: list[_Candidate], model: ScoringModel, limit: int) -> list[_Candidate]:
    """The best candidate, plus others above threshold that add question words it lacks."""
    if not candidates or candidates[0].confidence < model.threshold:
        return []
    chosen = [candidates[0]]
    covered = set(candidates[0].words)
    for candidate in candidates[1:]:
        if len(chosen) >= limit or candidate.confidence < model.threshold:
            break
        if candidate.words - covered:
            chosen.append(candidate)
            covered |= candidate.words
    return chosen


@lru_cache(maxsize=1)
def _environment():  # type: ignore[no-untyped-def]
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # Plain-text output: the web page escapes it when it shows it.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def render_answer(citations: list[Citation]) -> str:
    """The answer text: each quote followed by its `[n]` marker."""
    template = _environment().get_template("answer.txt.j2")
    return template.render(citations=citations, answered=True).strip()


def render_abstention(question: str) -> str:
    """The sentence said when the documents do not answer `question`."""
    template = _environment().get_template("answer.txt.j2")
    return template.render(citations=[], answered=False, question=question).strip()
