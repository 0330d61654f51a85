"""Evaluation metrics, each a small pure function over plain values.

In: ranked lists, gold spans or relevance judgements, predicted texts, probabilities. Out:
floats (or small tables). SQuAD answer normalization and token F1 follow the official v1.1
evaluation script; nDCG uses graded gains with a log2 discount, as BEIR's pytrec_eval does.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lowercase, drop punctuation and articles, squeeze whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str | None, golds: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized gold answer (None scores 0)."""
    if prediction is None:
        return 0.0
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(g) for g in golds))


def token_f1(prediction: str | None, golds: Sequence[str]) -> float:
    """Best token-level F1 of the prediction against any gold answer (None scores 0)."""
    if prediction is None:
        return 0.0
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        truth = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(truth)).values())
        if common:
            precision, recall = common / len(predicted), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def span_within(span: tuple[int, int], container: tuple[int, int]) -> bool:
    """True when the half-open `span` lies inside the half-open `container`."""
    return container[0] <= span[0] and span[1] <= container[1]


def hit_at_k(
    ranked: Sequence[tuple[str, int, int]], golds: Sequence[tuple[str, int, int]], k: int
) -> float:
    """1.0 when one of the first `k` ranked `(doc_id, start, end)` ranges holds a gold span."""
    for doc_id, start, end in ranked[:k]:
        for gold_doc, gold_start, gold_end in golds:
            if doc_id == gold_doc and span_within((gold_start, gold_end), (start, end)):
                return 1.0
    return 0.0


def quote_has_answer(quote: str | None, golds: Sequence[str]) -> float:
    """sentence@1's test: 1.0 when the quote contains any gold answer, case-insensitively."""
    if not quote:
        return 0.0
    lowered = quote.lower()
    return float(any(g.strip() and g.strip().lower() in lowered for g in golds))


def ndcg_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains `relevant[doc]` and a log2(rank + 1) discount."""
    dcg = sum(
        relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1)
    )
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the first `k` ranked ones."""
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability table: predictions in [low, high), their mean and hit rate."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability(
    probabilities: Sequence[float], outcomes: Sequence[float], bins: int = 10
) -> tuple[float, list[ReliabilityBin]]:
    """Expected calibration error and the table of equal-width bins (empty bins left out)."""
    if len(probabilities) != len(outcomes):
        raise ValueError("probabilities and outcomes differ in length")
    table, error, total = [], 0.0, len(probabilities)
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            (p, y)
            for p, y in zip(probabilities, outcomes, strict=True)
            if low <= p < high or (b == bins - 1 and p == 1.0)
        ]
        if not members:
            continue
        mean_p = sum(p for p, _ in members) / len(members)
        accuracy = sum(y for _, y in members) / len(members)
        error += len(members) / total * abs(mean_p - accuracy)
        table.append(ReliabilityBin(low, high, len(members), mean_p, accuracy))
    return error, table


def tradeoff(
    in_corpus: Sequence[float], out_of_corpus: Sequence[float], thresholds: Sequence[float]
) -> list[tuple[float, float, float]]:
    """Per threshold t: (t, share of in-corpus confidences >= t, of out-of-corpus ones < t)."""
    rows = []
    for t in thresholds:
        answered = sum(c >= t for c in in_corpus) / len(in_corpus) if in_corpus else 0.0
        abstained = sum(c < t for c in out_of_corpus) / len(out_of_corpus) if out_of_corpus else 0.0
        rows.append((float(t), answered, abstained))
    return rows


def outcome_figures(
    confidence: Sequence[float],
    answerable: Sequence[bool],
    first_right: Sequence[float],
    candidate_right: Sequence[float],
    lower: float,
    upper: float,
) -> dict[str, float | int | None]:
    """The three outcomes' figures of a set of questions at the cut points `lower` (below:
    `none`) and `upper` (from it: `answer`; between: `candidates`).

    In, per question: the first quote's confidence, whether the documents hold an answer,
    whether the first quote holds it, whether one of the candidate quotes does (both 0 for a
    question without an answer). Out: the share of each outcome; `answer_precision`, the share
    of `answer` outcomes whose quote holds the answer (a question without one counts wrong), and
    `answer_right_with_answer` the same among questions with an answer;
    `answer_without_answer`, the share of questions without an answer that get `answer`;
    `coverage`, the share of questions with an answer that get `answer` with the answer in the
    quote or `candidates` with it among the quotes (None where a set has no such questions)."""
    c = np.asarray(confidence, dtype=float)
    has = np.asarray(answerable, dtype=bool)
    first = np.asarray(first_right, dtype=float) * has
    other = np.asarray(candidate_right, dtype=float) * has
    answer = c >= upper
    maybe = (c >= lower) & ~answer
    none = ~(answer | maybe)

    def share(mask: np.ndarray, within: np.ndarray | None = None) -> float | None:
        chosen = mask if within is None else mask[within]
        return round(float(chosen.mean()), 4) if chosen.size else None

    covered = (answer & (first > 0)) | (maybe & (other > 0))
    return {
        "questions": int(c.size),
        "answer": share(answer),
        "candidates": share(maybe),
        "none": share(none),
        "answer_precision": round(float(first[answer].mean()), 4) if answer.any() else None,
        "answer_right_with_answer": (
            round(float(first[answer & has].mean()), 4) if (answer & has).any() else None
        ),
        "answer_without_answer": share(answer, ~has),
        "coverage": share(covered, has),
        "with_answer": int(has.sum()),
        "without_answer": int((~has).sum()),
    }
