"""Fit the answerer's `ScoringModel` on SQuAD articles 0-23 only (the first half).

In: the SQuAD v1.1 dev file. Out: a `ScoringModel` and a dict saying how it was fitted (kept in
`qa/scoring.json` by `qa eval fit`). Three steps, all on the first-half articles:

1. sentence scorer: logistic regression (scikit-learn) over `FEATURES` of every candidate
   sentence the product considers for each first-half question (index of all 48 articles),
   label 1 when the sentence contains a gold answer;
2. calibration: a second logistic regression from (best score, margin over the runner-up) to
   "the quoted sentence is right", on an index of articles 0-11 asked the questions of articles
   0-23, so half the questions have no answer in the index (label 0), as in real use;
3. threshold: on that same calibration run, the highest confidence that still answers
   `ANSWER_FLOOR` (0.91) of the in-corpus questions; above it, as much abstention as possible.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.answer import FEATURES, ScoringModel
from qa.retrieval import RetrievalOptions
from qa.tools.eval_corpus import CACHE, build_index, load_squad
from qa.tools.metrics import quote_has_answer, tradeoff
from qa.tools.trials import golds, make_embedder, run_trials

REGULARIZATION = 1.0
# The threshold keeps at least this share of answerable questions answered. The share answered
# carries over from the small calibration index to bigger ones; the share abstained does not
# (a bigger corpus offers more near-misses), so the rule is stated on the former.
ANSWER_FLOOR = 0.91
# What the confidence is computed from: the best score, its margin, and these features of the
# best sentence, which tell "no document speaks of this" apart from "hard to pick".
CALIBRATION_INPUTS = (
    "best_score", "margin", "dense", "overlap", "context_coverage", "context_rare",
    "passage_dense",
)  # fmt: skip


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + float(np.exp(-z)))


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=REGULARIZATION, max_iter=2000).fit(x, y)
    return [float(w) for w in fitted.coef_[0]], float(fitted.intercept_[0])


def best_and_margin(scores: np.ndarray) -> tuple[float, float, int]:
    """The best score, its margin over the runner-up and its index."""
    if len(scores) == 0:
        return -30.0, 0.0, -1
    order = np.argsort(-scores, kind="stable")
    margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else 0.0
    return float(scores[order[0]]), margin, int(order[0])


def fit_squad(path: Path, progress: bool = False) -> tuple[ScoringModel, dict]:
    """Fit the scorer, its calibration and threshold on articles 0-23 of a SQuAD file."""
    articles, questions = load_squad(path)
    half = len(articles) // 2
    quarter = half // 2
    train = [q for q in questions if q.article < half]
    embedder = make_embedder(CACHE, "squad")
    vectors = embedder.encode_queries([q.question for q in train], progress=progress)
    options = RetrievalOptions()
    tag = f"squad-{len(articles)}"
    full = build_index(f"{tag}-all", {a.doc_id: a.text for a in articles}, embedder)
    trials = run_trials(full, train, vectors, options, "fit: scorer", progress)
    x = np.vstack([t.found.matrix for t in trials if len(t.labels)])
    y = np.concatenate([t.labels for t in trials if len(t.labels)])
    weights, bias = _fit_logistic(x, y)
    model = ScoringModel(FEATURES, tuple(weights), bias)
    top1 = np.mean([t.labels[best_and_margin(model.scores(t.found.matrix))[2]]
                    if len(t.labels) else 0.0 for t in trials])  # fmt: skip
    del full, trials

    part = {a.doc_id: a.text for a in articles if a.index < quarter}
    small = build_index(f"{tag}-quarter", part, embedder)
    trials = run_trials(small, train, vectors, options, "fit: calibration", progress)
    model = replace(
        model, calibration=(0.0,) * len(CALIBRATION_INPUTS), calibration_inputs=CALIBRATION_INPUTS
    )
    rows, right, inside = [], [], []
    for trial in trials:
        best, margin, j = best_and_margin(model.scores(trial.found.matrix))
        rows.append(model.calibration_row(best, margin, trial.found.matrix[j] if j >= 0 else None))
        ok = trial.question.article < quarter and j >= 0
        right.append(
            quote_has_answer(trial.found.sentences[j].text, golds(trial.question)) if ok else 0.0
        )
        inside.append(trial.question.article < quarter)
    calibration, calibration_bias = _fit_logistic(np.array(rows), np.array(right))
    model = replace(model, calibration=tuple(calibration), calibration_bias=calibration_bias)
    conf = [_sigmoid(float(np.dot(calibration, r)) + calibration_bias) for r in rows]
    curve = tradeoff(
        [c for c, i in zip(conf, inside, strict=True) if i],
        [c for c, i in zip(conf, inside, strict=True) if not i],
        [i / 1000 for i in range(1001)],
    )
    floor = [row for row in curve if row[1] >= ANSWER_FLOOR] or curve[:1]
    threshold, answered, abstained = max(floor, key=lambda row: row[0])
    model = replace(model, threshold=threshold)
    about = {
        "command": "qa eval fit ../shared/eval/squad-v1.1-dev/dev-v1.1.json.gz",
        "data": f"SQuAD v1.1 dev, articles 0-{half - 1} only ({len(train)} questions)",
        "scorer": {
            "method": f"scikit-learn LogisticRegression(C={REGULARIZATION}), label: the "
            "candidate sentence contains a gold answer",
            "index": f"all {len(articles)} articles",
            "candidates": int(len(y)),
            "positives": int(y.sum()),
            "train_sentence1": round(float(top1), 4),
        },
        "calibration": {
            "method": "LogisticRegression on the calibration inputs; label: first quote right",
            "index": f"articles 0-{quarter - 1}, asked the questions of articles 0-{half - 1}",
            "questions": len(rows),
        },
        "threshold": {
            "rule": "the highest threshold at which the calibration run still answers at "
            f"least {ANSWER_FLOOR} of its in-corpus questions",
            "answered_in_corpus": round(answered, 4),
            "abstained_out_of_corpus": round(abstained, 4),
        },
    }
    return model, about
