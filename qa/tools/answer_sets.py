"""`qa eval wikiqa`, `tydi` and `squad2`: the quote, its citation and abstention, beyond SQuAD.

In: the WikiQA folder, the TyDi QA GoldP file or the SQuAD 2.0 dev file. Each becomes a docs
folder the way a user's folder does (one document per WikiQA summary, per TyDi passage, per
SQuAD article), indexed by the product's own indexer in `.cache/eval/`. Out: a report dict (the
`--json` object), its text table, and the curves for `--plot`.

Every question is answered once by the product with threshold 0 (so abstention does not count
against the choice of quote) and its confidence kept; answered means confidence >= threshold.
The baselines run on the same index in the same run: the best sentence of the whole index by
BM25 (`bm25`) or by cosine with the question (`dense`), cited from its own document, its score
standing in for a confidence. Figures:

- WikiQA: `top_quote_correct` (questions with a correct sentence: the first quote and a sentence
  labelled 1 contain one another, after SQuAD normalization), `right_document`, and abstention
  on questions without one.
- TyDi: `quote_holds_answer` (a gold answer in the first quote), `right_passage` (the first
  citation's document is the gold passage), `passage_hit1` (so is the first passage shown), on
  all questions and on each half of the file (`Document.group`).
- SQuAD 2.0: `quote_holds_answer` on answerable questions, and abstention on unanswerable ones.

Abstention is reported two ways: at the shipped threshold (product only: `shipped`), and for
every system at the score that answers `ANSWERED_TARGET` of the questions with an answer
(`abstained_at_target`, the SQuAD 2.0 target figure).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer import ScoringModel, always_quoting, judge, respond
from qa.lexical import LexicalIndex
from qa.reader import load_reader
from qa.retrieval import RetrievalOptions, retrieve
from qa.stores.base import Snapshot
from qa.tools.eval_corpus import (
    CACHE,
    Document,
    SquadQuestion,
    all_sentences,
    build_index,
    load_squad,
    load_tydi,
    load_wikiqa,
    progress_bar,
)
from qa.tools.metrics import normalize_answer, outcome_figures, quote_has_answer
from qa.tools.trials import TOP_K, golds, make_embedder

SYSTEMS = ("product", "bm25", "dense")
ANSWERED_TARGET = 0.85
HELDOUT_FROM = 24  # SQuAD v1.1 articles 24-47 were never fitted on (`qa eval fit` uses 0-23)


@dataclass(frozen=True)
class Choice:
    """One system's answer to one question: the quote, the cited document, the first passage's
    document, a score that grows with confidence (product: its calibrated confidence) and, for
    the product, the quotes the outcome `candidates` shows."""

    quote: str | None
    doc_id: str | None
    top_doc: str | None
    score: float
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Asked:
    """One question and the choices of the product and both baselines."""

    question: SquadQuestion
    choices: dict[str, Choice]


def _doc_of(chunk_id: str) -> str:
    return chunk_id.rpartition("#")[0]


class SentenceBaselines:
    """BM25 and dense search over every distinct sentence of a snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.sentences = all_sentences(snapshot)
        self.bm25 = LexicalIndex([s.text for s in self.sentences])
        self.vectors = np.stack([s.vector for s in self.sentences])

    def lexical(self, question: str) -> Choice:
        """The best sentence by BM25 (none when no question word is indexed)."""
        hits = self.snapshot.lexical_search(question, 1)
        top = _doc_of(hits[0].chunk_id) if hits else None
        best = self.bm25.search(question, 1)
        if not best:
            return Choice(None, None, top, 0.0)
        sentence = self.sentences[best[0][0]]
        return Choice(sentence.text, sentence.doc_id, top, float(best[0][1]))

    def dense(self, vector: np.ndarray) -> Choice:
        """The sentence of highest cosine with the question."""
        hits = self.snapshot.dense_search(vector, 1)
        top = _doc_of(hits[0].chunk_id) if hits else None
        similarity = self.vectors @ vector
        row = int(np.argmax(similarity))
        sentence = self.sentences[row]
        return Choice(sentence.text, sentence.doc_id, top, float(similarity[row]))


def ask_all(
    snapshot: Snapshot,
    questions: list[SquadQuestion],
    vectors: np.ndarray,
    model: ScoringModel,
    label: str,
    progress: bool,
) -> list[Asked]:
    """Every question answered by the product (threshold 0) and by both baselines.

    In: the index, questions, their vectors (as the product computes them) and the shipped
    model. Out: one `Asked` per question, in order."""
    options = RetrievalOptions()
    depth = max(TOP_K, options.rerank)
    open_model = always_quoting(model)
    baselines = SentenceBaselines(snapshot)
    reader = load_reader()  # the default configuration's (QA_READER; off: None)
    asked = []
    for question, vector in progress_bar(
        list(zip(questions, vectors, strict=True)), label, progress
    ):
        passages = retrieve(snapshot, question.question, vector, depth, options)
        judged = judge(question.question, vector, passages, open_model, reader=reader)
        outcome = "answer" if judged.order else "none"
        result = respond(question.question, judged, passages, outcome, top_k=TOP_K,
                         short=False, reader=reader)  # fmt: skip
        maybe = respond(question.question, judged, passages, "candidates", top_k=TOP_K,
                        short=False) if judged.order else None  # fmt: skip
        first = result.citations[0] if result.citations else None
        product = Choice(
            first.quote if first else None,
            first.doc_id if first else None,
            result.passages[0].doc_id if result.passages else None,
            result.confidence,
            tuple(c.quote for c in maybe.citations) if maybe else (),
        )
        choices = {"product": product, "bm25": baselines.lexical(question.question),
                   "dense": baselines.dense(vector)}  # fmt: skip
        asked.append(Asked(question, choices))
    return asked


# --- figures ---------------------------------------------------------------------------------


def mean(values: list[float]) -> float | None:
    """The mean, rounded to 4 places (None for no values)."""
    return round(sum(values) / len(values), 4) if values else None


def threshold_answering(scores: list[float], share: float) -> float:
    """The highest score threshold t with at least `share` of `scores` >= t (-inf: none)."""
    if not scores:
        return -math.inf
    ordered = sorted(scores, reverse=True)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def abstention_at_target(with_answer: list[float], without: list[float]) -> dict:
    """Abstention on questions without an answer at the threshold answering `ANSWERED_TARGET`
    of those with one. In: the two lists of scores. Out: threshold, answered, abstained."""
    t = threshold_answering(with_answer, ANSWERED_TARGET)
    answered = sum(s >= t for s in with_answer) / (len(with_answer) or 1)
    return {
        "threshold_at_target": round(t, 4) if t > -math.inf else None,
        "answered_at_target": round(answered, 4),
        "abstained_at_target": mean([float(s < t) for s in without]),
    }


def shipped_abstention(with_answer: list[float], without: list[float], threshold: float) -> dict:
    """The product's answered share (questions with an answer) and abstained share (without),
    at the shipped threshold."""
    return {
        "threshold": threshold,
        "answered_with_answer": mean([float(s >= threshold) for s in with_answer]),
        "abstained_without_answer": mean([float(s < threshold) for s in without]),
    }


def tradeoff_curve(with_answer: list[float], without: list[float]) -> list[tuple[float, float]]:
    """(abstained without an answer, answered with one) at every distinct score as threshold."""
    answerable, other = np.sort(with_answer), np.sort(without)
    thresholds = np.unique(np.concatenate([answerable, other]))
    answered = (len(answerable) - np.searchsorted(answerable, thresholds)) / max(1, len(answerable))
    abstained = np.searchsorted(other, thresholds) / max(1, len(other))
    return list(zip(abstained.tolist(), answered.tolist(), strict=True))


def coverage_curve(scores: list[float], right: list[float]) -> list[tuple[float, float]]:
    """(share answered, share of the answered that are right) as the threshold rises."""
    pairs = sorted(zip(scores, right, strict=True), key=lambda p: -p[0])
    points, hits = [], 0.0
    for n, (_, ok) in enumerate(pairs, start=1):
        hits += ok
        points.append((n / len(pairs), hits / n))
    return points


def matches_sentence(quote: str | None, sentences: list[str]) -> float:
    """WikiQA's test: 1.0 when the quote and one of `sentences` contain one another (normalized;
    the product splits sentences itself, so a quote may be part of a labelled one or hold it)."""
    if not quote:
        return 0.0
    said = normalize_answer(quote)
    for sentence in sentences:
        gold = normalize_answer(sentence)
        if said and gold and (said in gold or gold in said):
            return 1.0
    return 0.0


def band_figures(
    asked: list[Asked], right: Callable[[str | None, SquadQuestion], float], model: ScoringModel
) -> dict:
    """The product's three outcomes on `asked` at the shipped cut points (`outcome_figures`);
    `right(quote, question)`: whether a quote holds the question's answer."""

    def any_right(a: Asked) -> float:
        return max((right(q, a.question) for q in a.choices["product"].candidates), default=0.0)

    product = [(a.choices["product"], a) for a in asked]
    return {
        "threshold": model.threshold,
        "answer_threshold": model.upper,
        **outcome_figures(
            [c.score for c, _ in product],
            [bool(a.question.answers) for _, a in product],
            [right(c.quote, a.question) for c, a in product],
            [any_right(a) for _, a in product],
            model.threshold,
            model.upper,
        ),
    }


def _holds(quote: str | None, question: SquadQuestion) -> float:
    return quote_has_answer(quote, golds(question))


def _matches(quote: str | None, question: SquadQuestion) -> float:
    return matches_sentence(quote, golds(question))


# --- WikiQA ----------------------------------------------------------------------------------


def wikiqa_report(folder: Path, split: str, progress: bool) -> tuple[dict, dict]:
    """The `qa eval wikiqa --json` object and the plot's curves.

    In: the WikiQA folder and the split to ask. Out: product/bm25/dense figures
    (`top_quote_correct`, `right_document`, abstention at the target), the shipped threshold's
    figures, and {system: trade-off curve}."""
    documents, questions = load_wikiqa(folder, split)
    asked = _ask_dataset("wikiqa", documents, questions, progress)
    model = shipped_scoring()
    has = [a for a in asked if a.question.answers]
    lacks = [a for a in asked if not a.question.answers]
    report: dict = {
        "dataset": "wikiqa",
        "split": split,
        "documents": len(documents),
        "questions": len(asked),
        "with_answer": len(has),
        "without_answer": len(lacks),
    }
    curves = {}
    for name in SYSTEMS:
        right = [matches_sentence(a.choices[name].quote, golds(a.question)) for a in has]
        cited = [float(a.choices[name].doc_id == a.question.doc_id) for a in has]
        scores = ([a.choices[name].score for a in has], [a.choices[name].score for a in lacks])
        report[name] = {"top_quote_correct": mean(right), "right_document": mean(cited),
                        **abstention_at_target(*scores)}  # fmt: skip
        curves[name] = tradeoff_curve(*scores)
    product = (
        [a.choices["product"].score for a in has],
        [a.choices["product"].score for a in lacks],
    )
    report["shipped"] = shipped_abstention(*product, model.threshold)
    report["bands"] = band_figures(asked, _matches, model)
    return report, curves


# --- TyDi ------------------------------------------------------------------------------------


def _tydi_figures(asked: list[Asked], model: ScoringModel) -> dict:
    """The TyDi figures of a set of questions (all of them, or one half)."""
    out: dict = {"questions": len(asked)}
    for name in SYSTEMS:
        choices = [(a.choices[name], a.question) for a in asked]
        out[name] = {
            "quote_holds_answer": mean([quote_has_answer(c.quote, golds(q)) for c, q in choices]),
            "right_passage": mean([float(c.doc_id == q.doc_id) for c, q in choices]),
            "passage_hit1": mean([float(c.top_doc == q.doc_id) for c, q in choices]),
        }
    threshold = model.threshold
    product = [a.choices["product"] for a in asked]
    answered = [
        (c, a.question) for c, a in zip(product, asked, strict=True) if c.score >= threshold
    ]
    out["shipped"] = {
        "threshold": threshold,
        "answered": mean([float(c.score >= threshold) for c in product]),
        "quote_holds_answer_when_answered": mean(
            [quote_has_answer(c.quote, golds(q)) for c, q in answered]
        ),
    }
    out["bands"] = band_figures(asked, _holds, model)
    return out


def tydi_report(path: Path, progress: bool) -> tuple[dict, dict]:
    """The `qa eval tydi --json` object and the plot's curves.

    In: the TyDi GoldP file. Out: figures on all questions and on each half of the file
    (`half0`, `half1`, by `passage_half`), and {system: coverage curve of quote_holds_answer}."""
    documents, questions = load_tydi(path)
    asked = _ask_dataset("tydi", documents, questions, progress)
    model = shipped_scoring()
    group = {d.doc_id: d.group for d in documents}
    report: dict = {"dataset": "tydi", "documents": len(documents)}
    report.update(_tydi_figures(asked, model))
    for half in (0, 1):
        part = [a for a in asked if group[a.question.doc_id] == half]
        report[f"half{half}"] = {"documents": sum(d.group == half for d in documents),
                                 **_tydi_figures(part, model)}  # fmt: skip
    curves = {
        name: coverage_curve([a.choices[name].score for a in asked],
                             [quote_has_answer(a.choices[name].quote, golds(a.question))
                              for a in asked])
        for name in SYSTEMS
    }  # fmt: skip
    return report, curves


# --- SQuAD 2.0 -------------------------------------------------------------------------------


def heldout_titles(v11: Path) -> set[str]:
    """The titles (as in doc ids) of SQuAD v1.1 articles 24-47, never fitted on."""
    articles, _ = load_squad(v11)
    return {a.doc_id.partition("-")[2] for a in articles[HELDOUT_FROM:]}


def _squad2_figures(asked: list[Asked], model: ScoringModel) -> tuple[dict, dict]:
    """The SQuAD 2.0 figures of a set of questions, and their trade-off curves."""
    has = [a for a in asked if a.question.answers]
    lacks = [a for a in asked if not a.question.answers]
    out: dict = {"questions": len(asked), "answerable": len(has), "unanswerable": len(lacks)}
    curves = {}
    for name in SYSTEMS:
        scores = ([a.choices[name].score for a in has], [a.choices[name].score for a in lacks])
        right = [quote_has_answer(a.choices[name].quote, golds(a.question)) for a in has]
        out[name] = {"quote_holds_answer": mean(right), **abstention_at_target(*scores)}
        curves[name] = tradeoff_curve(*scores)
    product = (
        [a.choices["product"].score for a in has],
        [a.choices["product"].score for a in lacks],
    )
    out["shipped"] = shipped_abstention(*product, model.threshold)
    out["bands"] = band_figures(asked, _holds, model)
    return out, curves


def squad2_report(
    path: Path, v11: Path | None, progress: bool, every: int = 1
) -> tuple[dict, dict]:
    """The `qa eval squad2 --json` object and the plot's curves.

    In: the SQuAD 2.0 dev file; optionally the SQuAD v1.1 dev file, to repeat the figures on the
    articles that are v1.1 articles 24-47 (`heldout`); `every`: ask every Nth question only
    (every article is indexed all the same). Out: the figures and {system: curve}."""
    articles, questions = load_squad(path)
    questions = questions[::every]
    documents = [Document(a.doc_id, a.text) for a in articles]
    asked = _ask_dataset("squad2", documents, questions, progress)
    model = shipped_scoring()
    report: dict = {"dataset": "squad2", "documents": len(documents), "every": every}
    figures, curves = _squad2_figures(asked, model)
    report.update(figures)
    if v11 is not None:
        titles = heldout_titles(v11)
        part = [a for a in asked if a.question.doc_id.partition("-")[2] in titles]
        report["heldout"], _ = _squad2_figures(part, model)
        report["heldout"]["documents"] = len({a.question.doc_id for a in part})
    return report, curves


# --- shared ----------------------------------------------------------------------------------


def _ask_dataset(
    name: str, documents: list[Document], questions: list[SquadQuestion], progress: bool
) -> list[Asked]:
    """Index `documents` as `.cache/eval/<name>-<count>/` and ask every question."""
    embedder = make_embedder(CACHE, name)
    snapshot = build_index(f"{name}-{len(documents)}", {d.doc_id: d.text for d in documents},
                           embedder, progress=progress)  # fmt: skip
    vectors = embedder.encode_queries([q.question for q in questions], progress=progress)
    return ask_all(snapshot, questions, vectors, shipped_scoring(), f"{name}: answering", progress)


def shipped_scoring() -> ScoringModel:
    """The installed `qa/scoring.json` (imported here, not at start: `qa eval --help` stays
    quick)."""
    from qa.pipeline import load_scoring

    return load_scoring()


@contextmanager
def png_axes(path: Path, labels: tuple[str, str, str], low: float = 0.0) -> Iterator:
    """Matplotlib axes to draw on (no display needed); on exit they get (x label, y label,
    title), both axes from `low` to 1.005 and a legend, and are saved as the PNG `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    try:
        yield ax
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(labels[2])
        ax.set_xlim(low, 1.005)
        ax.set_ylim(low, 1.005)
        ax.legend(loc="lower left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def plot_curves(
    curves: dict[str, list[tuple[float, float]]],
    mark: tuple[float, float] | None,
    labels: tuple[str, str, str],
    path: Path,
) -> None:
    """Draw one curve per system into a PNG. In: {system: [(x, y)]}, an optional point to mark
    (the product at the shipped threshold), (x label, y label, title)."""
    with png_axes(path, labels) as ax:
        for name, style in zip(SYSTEMS, ("-", "--", ":"), strict=True):
            ax.plot([p[0] for p in curves[name]], [p[1] for p in curves[name]], style, label=name)
        if mark is not None:
            ax.plot([mark[0]], [mark[1]], "o",
                    label=f"product, shipped: {mark[0]:.3f} / {mark[1]:.3f}")  # fmt: skip


def plot_report(report: dict, curves: dict, path: Path) -> None:
    """The `--plot` of a wikiqa, tydi or squad2 report."""
    shipped = report["shipped"]
    if report["dataset"] == "tydi":
        mark = (shipped["answered"], shipped["quote_holds_answer_when_answered"] or 0.0)
        labels = ("share answered", "quote holds the answer, among answered", "TyDi GoldP (en)")
    else:
        mark = (shipped["abstained_without_answer"], shipped["answered_with_answer"])
        title = "WikiQA " + report["split"] if report["dataset"] == "wikiqa" else "SQuAD 2.0 dev"
        labels = ("abstained, questions without an answer", "answered, questions with one", title)
    plot_curves(curves, mark, labels, path)


# --- tables ----------------------------------------------------------------------------------


def _rows(part: dict, keys: tuple[str, ...]) -> list[str]:
    """One line per system of the figures `keys` ('-' where a figure is None)."""
    lines = [f"{'':10}" + "".join(f"{k:>22}" for k in keys)]
    for name in SYSTEMS:
        cells = [part[name].get(k) for k in keys]
        lines.append(f"{name:10}" + "".join(
            f"{c:22.3f}" if c is not None else f"{'-':>22}" for c in cells))  # fmt: skip
    return lines


def _shipped_line(shipped: dict) -> str:
    figures = ", ".join(
        f"{k} {v:.3f}" for k, v in shipped.items() if k != "threshold" and v is not None
    )
    return f"product at the shipped threshold {shipped['threshold']:.3f}: {figures}"


def report_table(report: dict) -> str:
    """The text table of a wikiqa, tydi or squad2 report."""
    kind: Callable[[dict], list[str]] = {"wikiqa": _wikiqa_lines, "tydi": _tydi_lines,
                                         "squad2": _squad2_lines}[report["dataset"]]  # fmt: skip
    return "\n".join(kind(report))


def bands_line(bands: dict) -> str:
    """The three outcomes' figures of a report part (`band_figures`) on one line."""

    def cell(key: str) -> str:
        value = bands.get(key)
        return "-" if value is None else f"{value:.3f}"

    return (
        f"outcomes at cut points {bands['threshold']:.3f} / {bands['answer_threshold']:.3f}: "
        f"answer {cell('answer')}, candidates {cell('candidates')}, none {cell('none')}; "
        f"answer right {cell('answer_precision')} (target >= 0.90), answer without an answer "
        f"{cell('answer_without_answer')} (<= 0.10), coverage {cell('coverage')} (>= 0.70)"
    )


def _wikiqa_lines(report: dict) -> list[str]:
    lines = [
        f"WikiQA {report['split']}: {report['questions']} questions ({report['with_answer']} "
        f"with a correct sentence), {report['documents']} summaries"
    ]
    lines += _rows(report, ("top_quote_correct", "right_document", "abstained_at_target"))
    return [*lines, _shipped_line(report["shipped"]), bands_line(report["bands"])]


def _tydi_lines(report: dict) -> list[str]:
    lines = []
    for key, part in (("all", report), ("half0", report["half0"]), ("half1", report["half1"])):
        lines.append(f"TyDi GoldP (en), {key}: {part['questions']} questions")
        lines += _rows(part, ("quote_holds_answer", "right_passage", "passage_hit1"))
        lines += [_shipped_line(part["shipped"]), bands_line(part["bands"]), ""]
    return lines


def _squad2_lines(report: dict) -> list[str]:
    lines = []
    for key, part in (("all", report), ("heldout", report.get("heldout"))):
        if not part:
            continue
        lines.append(f"SQuAD 2.0 dev, {key}: {part['answerable']} answerable, "
                     f"{part['unanswerable']} unanswerable")  # fmt: skip
        lines += _rows(part, ("quote_holds_answer", "answered_at_target", "abstained_at_target"))
        lines += [_shipped_line(part["shipped"]), bands_line(part["bands"]), ""]
    return lines
