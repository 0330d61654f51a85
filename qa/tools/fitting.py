"""Fit the answerer on data it may ship from; choose its cut points on data it may only measure.

In: SQuAD v1.1 train, the TyDi QA GoldP file, the WikiQA folder and, optionally, a reader
folder. Out (`fit`): a `ScoringModel` and how it was fitted (`qa eval fit` keeps both in
`qa/scoring.json`), and with a reader its `Cascade` (kept in the reader's `reader.json`).

The questions (`fit_sets`):

- ranking: SQuAD train's last `HELD_OUT` articles (the reader never trained on them), indexed
  together and asked their own questions; TyDi half 0 (`passage_half`), every TyDi passage
  indexed. Each source weighs the same in total, so neither kind of question dominates.
- calibration: the same questions asked of indexes holding part of their documents (SQuAD: the
  first half of those articles; TyDi: half 0's passages split in two by another hash), so about
  half of them have no answer in the index, as in real use.
- bands: WikiQA train (its license allows choosing cut points, not training weights), TyDi
  half 0 (every passage indexed) and SQuAD train's last articles with half of them indexed.

The steps:

1. scorer: a conditional logit over `FEATURES`: each question's candidates compete, and the
   loss is minus the log of the probability the model puts on the sentences holding an answer,
   so it fits the choice of the best sentence rather than each sentence alone. Then Platt
   scaling makes the score a logit of "this sentence holds an answer" (the second-sentence rule
   and the passages' shown scores read it so).
2. cascade (with a reader): it reads each question's `MAX_READ` best; (candidates, weight) by
   sentence@1 on the ranking questions, the span floor by short-answer EM + F1 on them.
3. calibration: logistic regression from the calibration inputs to "the first quote holds an
   answer" on the calibration runs (with the reader, on its combined scores, kept in the
   cascade; without, on the cheap scores, kept in the model).
4. bands: the two cut points of the first quote's confidence (with the reader when there is
   one). `answer_threshold`, from which the outcome is `answer`: the lowest at which, on each
   band set, the `answer` quotes hold the answer for `PRECISION_FLOOR` of its questions with
   one, and at most `FALSE_ANSWER_CEILING` of its questions without one get `answer`.
   `threshold`, below which it is `none`: the highest (up to the first) at which each set keeps
   `COVERAGE_KEPT` of its coverage without a `none` (questions with an answer that get `answer`
   with it, or `candidates` with it among their quotes, `qa.answer.candidate_rows`). Between
   the two, `candidates`. `qa eval fit
   --bands-only` redoes this step alone for the shipped scorer and cascade.

`qa eval` then measures on WikiQA dev, TyDi half 1 and SQuAD v1.1 dev, which nothing here saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa.answer import FEATURES, ScoringModel, candidate_rows, with_calibration
from qa.reader import Cascade, Reader
from qa.retrieval import RetrievalOptions
from qa.tools.eval_corpus import (
    CACHE,
    SquadQuestion,
    build_index,
    load_squad,
    load_tydi,
    load_wikiqa,
)
from qa.tools.metrics import outcome_figures
from qa.tools.reader_fit import Read, combined_scores, fit_cascade, read_trials
from qa.tools.train_reader import HELD_OUT  # SQuAD train's last articles, never trained on
from qa.tools.trials import Trial, best_and_margin, make_embedder, quotable_rows, run_trials

REGULARIZATION = 1.0  # C of the pointwise logistic regressions
RANKING_L2 = 0.01  # L2 penalty of the conditional logit
# The bands' targets on each fit set: among its questions with an answer that get `answer`, the
# quote holds it for `PRECISION_FLOOR`; of those without one, at most `FALSE_ANSWER_CEILING`
# get `answer` (the product's own targets, 0.90 and 0.10 on sets it never saw, with a margin);
# `none` costs at most 1 - `COVERAGE_KEPT` of the questions the quotes shown would answer.
PRECISION_FLOOR = 0.92
FALSE_ANSWER_CEILING = 0.08
COVERAGE_KEPT = 0.95
BAND_GRID = tuple(i / 1000 for i in range(1001))
# The confidence's inputs: the best score, its margin, and these features of the best sentence,
# which tell "no document speaks of this" apart from "hard to pick".
CALIBRATION_INPUTS = (
    "best_score", "margin", "dense", "overlap", "context_coverage", "context_rare",
    "passage_dense",
)  # fmt: skip


@dataclass
class FitSets:
    """The prepared questions of each step (see the module's docstring)."""

    ranking: list[tuple[Trial, float]]  # (trial, weight)
    calibration: list[tuple[Trial, bool]]  # (trial, its answer is in the index)
    bands: dict[str, list[tuple[Trial, bool]]]  # per set: (trial, it has an answer in the index)
    counts: dict[str, int]


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=REGULARIZATION, max_iter=2000).fit(x, y, sample_weight=weights)
    return [float(w) for w in fitted.coef_[0]], float(fitted.intercept_[0])


def fit_ranking(groups: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """Conditional-logit weights (no bias: it cancels within a question).

    In: one (feature matrix, 0/1 labels, weight) per question that has a positive. Out: w
    minimizing sum weight * -log(sum of softmax(X w) over the positives) + RANKING_L2 |w|^2."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = RANKING_L2 * float(w @ w), 2 * RANKING_L2 * w
        for x, y, weight in groups:
            s = x @ w
            e = np.exp(s - s.max())
            positive = e * (y > 0)
            total -= weight * (np.log(positive.sum()) - np.log(e.sum()))
            grad = grad - weight * (x.T @ (positive / positive.sum() - e / e.sum()))
        return total, grad

    width = groups[0][0].shape[1]
    return minimize(loss, np.zeros(width), jac=True, method="L-BFGS-B").x


def fit_scorer(ranking: list[tuple[Trial, float]]) -> tuple[ScoringModel, dict]:
    """Step 1: the sentence scorer (ranking weights, then Platt scaling), and its figures."""
    usable = [(t, w) for t, w in ranking if len(t.labels) and t.labels.max() > 0]
    direction = fit_ranking([(t.found.matrix, t.labels, w) for t, w in usable])
    scores = np.concatenate([t.found.matrix @ direction for t, _ in usable])
    labels = np.concatenate([t.labels for t, _ in usable])
    weights = np.concatenate([np.full(len(t.labels), w) for t, w in usable])
    (scale,), bias = _fit_logistic(scores[:, None], labels, weights)
    model = ScoringModel(FEATURES, tuple(float(w) for w in direction * scale), bias)
    top1 = [t.labels[best_and_margin(model.scores(t.found.matrix))[2]] if len(t.labels) else 0.0
            for t, _ in ranking]  # fmt: skip
    return model, {"candidates": int(len(labels)), "positives": int(labels.sum()),
                   "train_sentence1": round(float(np.mean(top1)), 4)}  # fmt: skip


def fit_sets(
    squad_train: Path,
    tydi: Path,
    wikiqa: Path,
    every: int = 1,
    progress: bool = False,
    bands_only: bool = False,
) -> FitSets:
    """Index the three sources (cached in `.cache/eval/`) and prepare every step's trials
    (`bands_only`: only those of the bands; the others are left empty)."""
    ranking, calibration = _squad_train(squad_train, every, progress, not bands_only)
    tydi_ranking, tydi_calibration, tydi_threshold = _tydi(tydi, progress, not bands_only)
    wikiqa_threshold = _wikiqa(wikiqa, progress)
    share = len(ranking) / max(1, len(tydi_ranking))  # each source weighs the same
    return FitSets(
        ranking=ranking + [(t, share) for t, _ in tydi_ranking],
        calibration=calibration + tydi_calibration,
        bands={
            "wikiqa_train": wikiqa_threshold,
            "tydi_half0": tydi_threshold,
            "squad_train_half_indexed": calibration,
        },  # fmt: skip
        counts={
            "squad_train_questions": len(ranking),
            "tydi_half0_questions": len(tydi_ranking),
            "wikiqa_train_questions": len(wikiqa_threshold),
        },  # fmt: skip
    )


def _trials(
    name: str, docs: dict[str, str], questions: list[SquadQuestion], dataset: str, progress: bool
) -> list[Trial]:
    """`questions` asked of an index of `docs` (`.cache/eval/<name>`), with only the rows the
    product may quote."""
    embedder = make_embedder(CACHE, dataset)
    vectors = embedder.encode_queries([q.question for q in questions], progress=progress)
    snapshot = build_index(name, docs, embedder, progress=progress)
    trials = run_trials(snapshot, questions, vectors, RetrievalOptions(), f"fit: {name}", progress)
    embedder.save()
    return [quotable_rows(t) for t in trials]


def _squad_train(path: Path, every: int, progress: bool, rank: bool = True):  # type: ignore[no-untyped-def]
    """Ranking trials (weight 1; none unless `rank`) and calibration trials of SQuAD train's
    last articles."""
    articles, questions = load_squad(path)
    tail = articles[-HELD_OUT:]
    first = tail[0].index
    asked = [q for q in questions if q.article >= first][::every]
    docs = {a.doc_id: a.text for a in tail}
    ranking = (
        _trials(f"squadtrain-tail-{len(tail)}", docs, asked, "squadtrain-tail", progress)
        if rank
        else []
    )
    part = {a.doc_id: a.text for a in tail[: len(tail) // 2]}
    inside = set(part)
    calibration = _trials(f"squadtrain-tail-{len(part)}", part, asked, "squadtrain-tail", progress)
    return [(t, 1.0) for t in ranking], [(t, t.question.doc_id in inside) for t in calibration]


def _tydi(path: Path, progress: bool, calibrate: bool = True):  # type: ignore[no-untyped-def]
    """Half 0's ranking trials, calibration trials (a quarter of the passages indexed; none
    unless `calibrate`) and band trials (every one answerable)."""
    documents, questions = load_tydi(path)
    half = {d.doc_id for d in documents if d.group == 0}
    asked = [q for q in questions if q.doc_id in half]
    docs = {d.doc_id: d.text for d in documents}
    ranking = _trials(f"tydi-{len(documents)}", docs, asked, "tydi", progress)
    part = {d.doc_id: d.text for d in documents if d.doc_id in half and _quarter(d.text) == 0}
    calibration = (
        _trials(f"tydi-h0part-{len(part)}", part, asked, "tydi", progress) if calibrate else []
    )
    return (
        [(t, 1.0) for t in ranking],
        [(t, t.question.doc_id in part) for t in calibration],
        [(t, True) for t in ranking],
    )


def _quarter(text: str) -> int:
    """0 or 1, by a hash salted differently from `passage_half`'s."""
    return hashlib.sha256(f"qa-fit-quarter\n{text}".encode()).digest()[0] % 2


def _wikiqa(folder: Path, progress: bool) -> list[tuple[Trial, bool]]:
    """WikiQA train's questions, each with whether a sentence of its summary answers it."""
    documents, questions = load_wikiqa(folder, "train")
    docs = {d.doc_id: d.text for d in documents}
    trials = _trials(f"wikiqa-{len(documents)}", docs, questions, "wikiqa", progress)
    return [(t, bool(t.question.answers)) for t in trials]


def fit(
    sets: FitSets, reader: Reader | None, progress: bool = False
) -> tuple[ScoringModel, dict, Cascade | None]:
    """Steps 1-4 on prepared `sets`. Out: the model, how it was fitted, and the reader's
    fitted cascade (None without a reader)."""
    model, scorer = fit_scorer(sets.ranking)
    model = replace(
        model, calibration=(0.0,) * len(CALIBRATION_INPUTS), calibration_inputs=CALIBRATION_INPUTS
    )
    about: dict = {"data": sets.counts, "scorer": scorer}
    cascade = Cascade(candidates=0)
    if reader is not None:
        cascade, about["cascade"] = fit_cascade(sets.ranking, model, reader, progress)
    trials, inside = [t for t, _ in sets.calibration], [i for _, i in sets.calibration]
    cheap = read_trials(trials, model, None, progress)
    weights, bias = calibrate(cheap, Cascade(candidates=0), model, inside)
    model = replace(model, calibration=weights, calibration_bias=bias)
    if reader is not None:
        reads = read_trials(trials, model, reader, progress, cascade.candidates)
        weights, bias = calibrate(reads, cascade, model, inside)
        cascade = replace(cascade, calibration=weights, calibration_bias=bias)
    about["calibration"] = {"questions": len(trials), "in_index": sum(inside)}
    model, about["bands"] = fit_bands(sets, model, cascade, reader, progress)
    return model, about, (cascade if reader is not None else None)


def _quoted(read: Read, cascade: Cascade) -> tuple[int, float, float, np.ndarray | None]:
    """The row the cascade quotes first (-1: none), its combined score, its margin over the
    runner-up and its features (None: no row): what a confidence is computed from."""
    best, margin, j = best_and_margin(combined_scores(read, cascade))
    return j, best, margin, (read.trial.found.matrix[j] if j >= 0 else None)


def calibrate(
    reads: list[Read], cascade: Cascade, model: ScoringModel, inside: list[bool]
) -> tuple[tuple[float, ...], float]:
    """Step 3: calibration weights and bias from the calibration inputs of each question's
    best row (by `cascade`; no reader when it reads none) to "its first quote holds an answer"
    (0 when the answer is not in the index)."""
    rows, right = [], []
    for read, held in zip(reads, inside, strict=True):
        j, best, margin, features = _quoted(read, cascade)
        rows.append(model.calibration_row(best, margin, features))
        right.append(float(read.trial.labels[j]) if held and j >= 0 else 0.0)
    weights, bias = _fit_logistic(np.array(rows), np.array(right))
    return tuple(weights), bias


@dataclass(frozen=True)
class BandSet:
    """One band set's questions as the cut points see them (`outcome_figures`' inputs)."""

    confidence: list[float]
    answerable: list[bool]
    first_right: list[float]
    candidate_right: list[float]

    def figures(self, lower: float, upper: float) -> dict:
        return outcome_figures(self.confidence, self.answerable, self.first_right,
                               self.candidate_right, lower, upper)  # fmt: skip


def band_set(
    questions: list[tuple[Trial, bool]],
    model: ScoringModel,
    cascade: Cascade,
    reader: Reader | None,
    progress: bool,
) -> BandSet:
    """Each question's first quote confidence (as the default configuration computes it) and
    whether its first quote, or one of its candidate quotes, holds the answer."""
    trials = [t for t, _ in questions]
    reads = read_trials(trials, model, reader, progress, cascade.candidates)
    used = with_calibration(model, cascade) if reader is not None else model
    out = BandSet([], [], [], [])
    for read, (trial, answerable) in zip(reads, questions, strict=True):
        j, best, margin, features = _quoted(read, cascade)
        combined = combined_scores(read, cascade)
        order = [int(k) for k in np.argsort(-combined, kind="stable") if np.isfinite(combined[k])]
        rows = candidate_rows(order, trial.found, trial.passages)
        out.confidence.append(used.confidence(best, margin, features))
        out.answerable.append(answerable)
        out.first_right.append(float(trial.labels[j]) if answerable and j >= 0 else 0.0)
        out.candidate_right.append(
            float(max(trial.labels[rows], default=0.0)) if answerable and rows else 0.0
        )
    return out


def choose_bands(sets: dict[str, BandSet]) -> tuple[float, float, dict]:
    """Step 4 on prepared band sets: (threshold, answer_threshold, how they were chosen and
    the figures of each set at them)."""

    def sure(upper: float) -> bool:
        for band in sets.values():
            f = band.figures(upper, upper)
            right = f["answer_right_with_answer"]
            if right is not None and right < PRECISION_FLOOR:
                return False
            wrong = f["answer_without_answer"]
            if wrong is not None and wrong > FALSE_ANSWER_CEILING:
                return False
        return True

    upper = min((u for u in BAND_GRID if sure(u)), default=1.0)
    most = {name: band.figures(0.0, upper)["coverage"] for name, band in sets.items()}

    def covers(lower: float) -> bool:
        return all(band.figures(lower, upper)["coverage"] >= COVERAGE_KEPT * most[name]
                   for name, band in sets.items() if most[name] is not None)  # fmt: skip

    lower = max((v for v in BAND_GRID if v <= upper and covers(v)), default=0.0)
    return (
        lower,
        upper,
        {
            "rule": f"answer_threshold: the lowest confidence at which, on every band set, the "
            f"answer quotes hold the answer for {PRECISION_FLOOR} of the questions with one that "
            f"get answer, and at most {FALSE_ANSWER_CEILING} of those without one get answer; "
            f"threshold: the highest at which each set keeps {COVERAGE_KEPT} of the coverage "
            "(answer with it, or candidates with it among the quotes) it has without a none",
            "threshold": lower,
            "answer_threshold": upper,
            "sets": {name: band.figures(lower, upper) for name, band in sets.items()},
        },
    )


def fit_bands(
    sets: FitSets,
    model: ScoringModel,
    cascade: Cascade,
    reader: Reader | None,
    progress: bool,
) -> tuple[ScoringModel, dict]:
    """`model` with the cut points chosen on `sets.bands` (see `choose_bands`)."""
    bands = {name: band_set(questions, model, cascade, reader, progress)
             for name, questions in sets.bands.items()}  # fmt: skip
    lower, upper, about = choose_bands(bands)
    return replace(model, threshold=lower, answer_threshold=upper), about


def cascade_json(cascade: Cascade, about: dict) -> dict:
    """The `cascade` entry of a reader's `reader.json`."""
    return {**asdict(cascade), "calibration": list(cascade.calibration or ()), "fitted": about}
