"""SQuAD questions asked of an index, prepared once and reused by `qa eval` and `qa eval fit`.

In: a snapshot, questions and their vectors. Out: `Trial`s (retrieved passages, scored
candidates and their 0/1 labels, per question) from `run_trials`; `ask_trial` answers one
with a given scoring model; `make_embedder` is the product's model behind a vector cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa.answer import Answer, Candidates, ScoringModel, answer, candidates, judge, respond
from qa.reader import load_reader
from qa.retrieval import Passage, RetrievalOptions, retrieve
from qa.stores.base import Snapshot
from qa.tools.eval_corpus import CachedEmbedder, SquadQuestion, progress_bar
from qa.tools.metrics import quote_has_answer

TOP_K = 5


def make_embedder(cache: Path, dataset: str) -> CachedEmbedder:
    """The product's embedding model behind a vector cache for `dataset` (tests replace this)."""
    from qa.config import Settings
    from qa.embedding import SentenceTransformerEmbedder

    settings = Settings.from_env()
    inner = SentenceTransformerEmbedder(
        query_encoder=settings.query_encoder, document_encoder=settings.document_encoder
    )
    return CachedEmbedder(inner, cache / f"vectors-{dataset}.npz")


@dataclass
class Trial:
    """One question asked of one index: the retrieved passages and the scored candidates."""

    question: SquadQuestion
    vector: np.ndarray
    passages: list[Passage]
    found: Candidates
    labels: np.ndarray  # 1.0 where the candidate sentence contains a gold answer
    seconds: float  # retrieval + candidate features


def golds(question: SquadQuestion) -> list[str]:
    return [text for text, _, _ in question.answers]


def run_trials(
    snapshot: Snapshot,
    questions: list[SquadQuestion],
    vectors: np.ndarray,
    options: RetrievalOptions,
    label: str,
    progress: bool,
) -> list[Trial]:
    """Retrieve for every question and compute its candidates' features and labels."""
    trials = []
    depth = max(TOP_K, options.rerank)
    for question, vector in progress_bar(
        list(zip(questions, vectors, strict=True)), label, progress
    ):
        started = time.perf_counter()
        passages = retrieve(snapshot, question.question, vector, depth, options)
        found = candidates(question.question, vector, passages)
        seconds = time.perf_counter() - started
        labels = np.array([quote_has_answer(s.text, golds(question)) for s in found.sentences])
        trials.append(Trial(question, vector, passages, found, labels, seconds))
    return trials


def ask_trial(trial: Trial, model: ScoringModel, short: bool) -> tuple[Answer, float]:
    """The product's answer for a prepared trial, and the seconds retrieval + answer took. The
    reader is the default configuration's (`QA_READER`: the packaged one unless `off`)."""
    started = time.perf_counter()
    result = answer(
        trial.question.question, trial.vector, trial.passages, model,
        top_k=TOP_K, short=short, found=trial.found, reader=load_reader(),
    )  # fmt: skip
    return result, trial.seconds + time.perf_counter() - started


@dataclass(frozen=True)
class TrialAnswer:
    """A trial answered as `ask_trial` does, and the quotes the outcome `candidates` would show
    (from the same scores: the reader reads once)."""

    answer: Answer
    candidates: list[str]
    seconds: float  # retrieval + the answer (not the candidates)


def ask_trial_with_candidates(trial: Trial, model: ScoringModel, short: bool) -> TrialAnswer:
    """`ask_trial` for a model that always quotes, plus the candidate quotes."""
    started = time.perf_counter()
    reader = load_reader()
    question = trial.question.question
    judged = judge(question, trial.vector, trial.passages, model, trial.found, reader)
    outcome = "answer" if judged.order else "none"
    result = respond(question, judged, trial.passages, outcome, top_k=TOP_K, short=short,
                     reader=reader)  # fmt: skip
    seconds = trial.seconds + time.perf_counter() - started
    if not judged.order:
        return TrialAnswer(result, [], seconds)
    maybe = respond(question, judged, trial.passages, "candidates", top_k=TOP_K, short=False)
    return TrialAnswer(result, [c.quote for c in maybe.citations], seconds)


def best_and_margin(scores: np.ndarray) -> tuple[float, float, int]:
    """The best score, its margin over the runner-up and its index."""
    if len(scores) == 0:
        return -30.0, 0.0, -1
    order = np.argsort(-scores, kind="stable")
    margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else 0.0
    return float(scores[order[0]]), margin, int(order[0])


def quotable_rows(trial: Trial) -> Trial:
    """`trial` with only the candidate rows the product may quote (`Candidates.quotable`), as a
    fit must see them; the per-passage `members` are dropped (the fits never read them)."""
    found = trial.found
    if not found.quotable or all(found.quotable):
        return trial
    keep = [j for j, ok in enumerate(found.quotable) if ok]

    def pick(values: list) -> list:
        return [values[j] for j in keep] if values else values

    kept = replace(
        found, sentences=pick(found.sentences), titles=pick(found.titles),
        passage_of=pick(found.passage_of), words=pick(found.words), matrix=found.matrix[keep],
        members=[], previous=pick(found.previous), quotable=[True] * len(keep),
        antecedent=pick(found.antecedent),
    )  # fmt: skip
    return replace(trial, found=kept, labels=trial.labels[keep])
