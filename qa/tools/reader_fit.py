"""`qa train fit-reader`: fit how the reader joins the cheap score, on SQuAD dev articles 0-23.

In: the SQuAD v1.1 dev file and a reader folder. Out: the folder's `reader.json` gets its
`cascade` (see `qa.reader.Cascade`) and how it was fitted. As `qa eval fit`, only the first
half of the articles is used, so `qa eval squad`'s held-out figures stay held out:

1. on the index of all articles, the cheap score's `MAX_READ` best sentences of each question
   are read once; every (candidates, weight) of the grid is scored by sentence@1 from those
   (the fewest candidates within `TOLERANCE` of the best wins: each costs time);
2. the short answer: the reader's span when its probability reaches `span_floor`, else the
   entity short answer; the floor with the best mean F1;
3. calibration: as `qa eval fit`, a logistic regression from the calibration inputs (on the
   combined scores) to "the first quote is right", on the index of articles 0-11 asked the
   questions of articles 0-23; the threshold stays the scoring model's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa.answer import ScoringModel, combine
from qa.reader import CONFIG_FILE, Cascade, Reader, Window
from qa.retrieval import RetrievalOptions
from qa.short_answer import find_short_answer, question_type
from qa.tools.eval_corpus import CACHE, build_index, load_squad, progress_bar
from qa.tools.fitting import _fit_logistic, best_and_margin
from qa.tools.metrics import exact_match, quote_has_answer, token_f1
from qa.tools.trials import Trial, golds, make_embedder, run_trials

MAX_READ = 10
CANDIDATES = (1, 2, 3, 4, 5, 6, 8, 10)
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
FLOORS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.01)
TOLERANCE = 0.002


@dataclass
class Read:
    """One question's `MAX_READ` best rows by the cheap score, and what the reader said."""

    trial: Trial
    top: np.ndarray
    scores: np.ndarray  # the cheap scores of all rows
    relevance: np.ndarray
    spans: list


def read_trials(trials: list[Trial], model: ScoringModel, reader: Reader, progress: bool):  # type: ignore[no-untyped-def]
    """The reader's view of each trial's best `MAX_READ` rows."""
    out = []
    for trial in progress_bar(trials, "fit-reader: reading", progress):
        found = trial.found
        scores = model.scores(found.matrix) if found.sentences else np.zeros(0)
        top = np.argsort(-scores, kind="stable")[:MAX_READ]
        windows = [Window(found.sentences[j].text, found.previous[j], found.titles[j])
                   for j in top.tolist()]  # fmt: skip
        read = reader.score(trial.question.question, windows)
        out.append(Read(trial, top, scores, read.relevance, read.spans))
    return out


def chosen_row(read: Read, cascade: Cascade) -> tuple[int, np.ndarray]:
    """The row the cascade quotes first (-1: none), and the combined scores."""
    if len(read.scores) == 0:
        return -1, read.scores
    k = cascade.candidates
    combined = combine(read.scores, read.top[:k], read.relevance[:k], cascade)
    return best_and_margin(combined)[2], combined


def sentence_at_1(reads: list[Read], cascade: Cascade) -> float:
    """Share of questions whose first quote holds a gold answer."""
    hits = [read.trial.labels[j] if j >= 0 else 0.0
            for read in reads for j in [chosen_row(read, cascade)[0]]]  # fmt: skip
    return float(np.mean(hits)) if hits else 0.0


def fit_grid(reads: list[Read], most: int = MAX_READ) -> tuple[Cascade, list[dict]]:
    """The (candidates, weight) with the best sentence@1 (fewest candidates within
    `TOLERANCE`; at most `most`, the latency budget's), and the whole grid."""
    grid = [{"candidates": k, "weight": w,
             "sentence1": sentence_at_1(reads, Cascade(candidates=k, weight=w))}
            for k in CANDIDATES if k <= most for w in WEIGHTS]  # fmt: skip
    best = max(row["sentence1"] for row in grid)
    pick = min((row for row in grid if row["sentence1"] >= best - TOLERANCE),
               key=lambda row: (row["candidates"], -row["sentence1"]))  # fmt: skip
    return Cascade(candidates=int(pick["candidates"]), weight=float(pick["weight"])), grid


def fit_floor(reads: list[Read], cascade: Cascade) -> tuple[float, list[dict]]:
    """The span floor with the best mean short-answer EM + F1 (reader span, else entities)."""
    rows = []
    for read in reads:
        j, _ = chosen_row(read, cascade)
        if j < 0:
            continue
        sentence = read.trial.found.sentences[j]
        position = read.top.tolist().index(j) if j in read.top.tolist() else -1
        span = read.spans[position] if position >= 0 else None
        question = read.trial.question.question
        entity = find_short_answer(question, question_type(question), sentence.text,
                                   sentence.doc_id, sentence.start, sentence.entities)  # fmt: skip
        rows.append((span.probability if span else -1.0,
                     sentence.text[span.start : span.end] if span else None,
                     entity.text if entity else None, golds(read.trial.question)))  # fmt: skip
    table = []
    for floor in FLOORS:
        picked = [text if p >= floor else other for p, text, other, _ in rows]
        gold = [g for *_, g in rows]
        table.append({
            "floor": floor,
            "em": float(np.mean([exact_match(a, g) for a, g in zip(picked, gold, strict=True)])),
            "f1": float(np.mean([token_f1(a, g) for a, g in zip(picked, gold, strict=True)])),
        })  # fmt: skip
    best = max(table, key=lambda row: row["em"] + row["f1"])
    return float(best["floor"]), table


def fit_calibration(reads: list[Read], cascade: Cascade, model: ScoringModel, inside: set[int]):  # type: ignore[no-untyped-def]
    """Calibration weights and bias on the combined scores (see the module's docstring)."""
    rows, right = [], []
    for read in reads:
        j, combined = chosen_row(read, cascade)
        best, margin, _ = best_and_margin(combined)
        found = read.trial.found
        rows.append(model.calibration_row(best, margin, found.matrix[j] if j >= 0 else None))
        ok = read.trial.question.article in inside and j >= 0
        right.append(quote_has_answer(found.sentences[j].text, golds(read.trial.question))
                     if ok else 0.0)  # fmt: skip
    return _fit_logistic(np.array(rows), np.array(right))


def fit_reader(
    path: Path, folder: Path, every: int = 1, most: int = MAX_READ, progress: bool = True
) -> dict:
    """Fit the cascade of the reader in `folder` (reading at most `most` candidates a
    question) and write it into its `reader.json`."""
    from qa.pipeline import load_scoring

    articles, questions = load_squad(path)
    half = len(articles) // 2
    quarter = half // 2
    train = [q for q in questions if q.article < half][::every]
    embedder = make_embedder(CACHE, "squad")
    vectors = embedder.encode_queries([q.question for q in train], progress=progress)
    options = RetrievalOptions()
    tag = f"squad-{len(articles)}"
    model = load_scoring()
    reader = Reader(folder)
    full = build_index(f"{tag}-all", {a.doc_id: a.text for a in articles}, embedder)
    reads = read_trials(run_trials(full, train, vectors, options, "fit-reader", progress),
                        model, reader, progress)  # fmt: skip
    cascade, grid = fit_grid(reads, most)
    floor, floors = fit_floor(reads, cascade)
    cascade = replace(cascade, span_floor=floor)
    off = sentence_at_1(reads, Cascade(candidates=0))
    del full
    part = {a.doc_id: a.text for a in articles if a.index < quarter}
    small = build_index(f"{tag}-quarter", part, embedder)
    calib = read_trials(run_trials(small, train, vectors, options, "fit-reader: calibration",
                                   progress), model, reader, progress)  # fmt: skip
    weights, bias = fit_calibration(calib, cascade, model, set(range(quarter)))
    cascade = replace(cascade, calibration=tuple(weights), calibration_bias=bias)
    about = {
        "command": f"qa train fit-reader {path} {folder} --every {every} --candidates {most}",
        "data": f"SQuAD v1.1 dev, articles 0-{half - 1} only ({len(train)} questions)",
        "sentence1_cheap": round(off, 4),
        "sentence1_cascade": round(sentence_at_1(reads, cascade), 4),
        "grid": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in grid
        ],  # fmt: skip
        "span_floors": [{k: round(v, 4) for k, v in row.items()} for row in floors],
    }
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["cascade"] = {**asdict(cascade), "calibration": list(cascade.calibration or ()),
                         "fitted": about}  # fmt: skip
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return {k: v for k, v in about.items() if k not in ("grid",)} | {"cascade": asdict(cascade)}


def compare(path: Path, folder: Path, every: int = 1, progress: bool = True) -> dict:
    """The held-out articles' questions (24-47) on the index of all articles, answered with the
    reader off and on: sentence@1, short answer EM / F1 (over all questions), and the answer
    step's own time (`qa.answer.answer`: scoring, the reader, choosing, the short answer)."""
    import time

    from qa.answer import answer
    from qa.pipeline import load_scoring
    from qa.tools.metrics import percentile

    articles, questions = load_squad(path)
    half = len(articles) // 2
    held = [q for q in questions if q.article >= half][::every]
    embedder = make_embedder(CACHE, "squad")
    vectors = embedder.encode_queries([q.question for q in held], progress=progress)
    full = build_index(f"squad-{len(articles)}-all", {a.doc_id: a.text for a in articles},
                       embedder)  # fmt: skip
    trials = run_trials(full, held, vectors, RetrievalOptions(), "compare", progress)
    model = replace(load_scoring(), threshold=0.0)
    reader = Reader(folder)
    report: dict = {"questions": len(held), "articles": f"{half}-{len(articles) - 1}"}
    for name, used in (("off", None), ("on", reader), ("off_again", None), ("on_again", reader)):
        hits, em, f1, took = [], [], [], []
        for trial in progress_bar(trials, f"compare: {name}", progress):
            started = time.perf_counter()
            result = answer(trial.question.question, trial.vector, trial.passages, model,
                            top_k=5, found=trial.found, reader=used)  # fmt: skip
            took.append((time.perf_counter() - started) * 1000)
            gold = golds(trial.question)
            quote = result.citations[0].quote if result.citations else None
            short = result.short_answer.text if result.short_answer else None
            hits.append(quote_has_answer(quote, gold))
            em.append(exact_match(short, gold))
            f1.append(token_f1(short, gold))
        report[name] = {
            "sentence1": round(float(np.mean(hits)), 4),
            "short_em": round(float(np.mean(em)), 4),
            "short_f1": round(float(np.mean(f1)), 4),
            "answer_ms_p50": round(percentile(took, 50), 2),
            "answer_ms_p95": round(percentile(took, 95), 2),
        }
    return report
