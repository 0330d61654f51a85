"""`qa eval`: measure the product on SQuAD v1.1 and BEIR, next to BM25-alone and dense-alone
(`wikiqa`, `tydi` and `squad2`: the commands are here, the figures in `qa.tools.answer_sets`).

In: a SQuAD v1.1 file or a BEIR folder. Out: a table on stdout (or, with `--json`, one object of
figures), progress on stderr, and for SQuAD optionally the abstention trade-off plot. Every index
is built by the product's own indexer in `.cache/eval/` (reused while unchanged); the baselines
run on the very same chunks in the same run. `qa eval fit` refits `qa/scoring.json` and the
reader's cascade on SQuAD train, TyDi half 0 and WikiQA train (see `qa.tools.fitting`).

SQuAD figures: passage hit@1/@5 (a shown passage holds a gold answer span), sentence@1 (the first
quote contains a gold answer; the product is asked with threshold 0 here, so abstention does not
count against sentence choice), short-answer EM/F1 (SQuAD normalization; no short answer scores
0), answer latency, and abstention: with only the first half of the articles indexed, the share
of in-corpus questions answered and of out-of-corpus questions abstained. `heldout` repeats the
figures for the second half of the articles (never fitted on); its abstention run indexes the
second half, so its in-corpus questions are held out too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from qa.answer import ScoringModel, always_quoting
from qa.lexical import LexicalIndex
from qa.retrieval import RetrievalOptions, retrieve
from qa.stores.base import Snapshot
from qa.tools import answer_sets, eval_corpus
from qa.tools.eval_corpus import (
    CACHE,
    BeirQuery,
    CachedEmbedder,
    SquadQuestion,
    all_sentences,
    build_index,
    index_settings,
    load_beir,
    load_squad,
    progress_bar,
)
from qa.tools.metrics import (
    exact_match,
    hit_at_k,
    ndcg_at_k,
    outcome_figures,
    percentile,
    quote_has_answer,
    recall_at_k,
    reliability,
    token_f1,
    tradeoff,
)
from qa.tools.trials import (
    TOP_K,
    Trial,
    ask_trial,
    ask_trial_with_candidates,
    golds,
    make_embedder,
    run_trials,
)

LATENCY_SAMPLE = 200


def _spans(snapshot: Snapshot, chunk_ids: list[str]) -> list[tuple[str, int, int]]:
    chunks = [snapshot.chunk(c) for c in chunk_ids]
    return [(c.doc_id, c.start, c.end) for c in chunks]


def _figures(rows: list[dict], with_short: bool) -> dict:
    """Means of the per-question 0/1 (or F1) values."""
    n = len(rows) or 1
    out = {
        "passage_hit1": sum(r["hit1"] for r in rows) / n,
        "passage_hit5": sum(r["hit5"] for r in rows) / n,
        "sentence1": sum(r["sentence1"] for r in rows) / n,
        "em": sum(r["em"] for r in rows) / n if with_short else None,
        "f1": sum(r["f1"] for r in rows) / n if with_short else None,
    }
    return {k: (round(v, 4) if v is not None else None) for k, v in out.items()}


def evaluate_full(
    snapshot: Snapshot, trials: list[Trial], model: ScoringModel, progress: bool
) -> list[dict]:
    """Per-question figures of the product and both baselines on the all-articles index."""
    sentences = all_sentences(snapshot)
    sentence_bm25 = LexicalIndex([s.text for s in sentences])
    sentence_vectors = np.stack([s.vector for s in sentences])
    rows = []
    for trial in progress_bar(trials, "squad: answering", progress):
        q = trial.question
        gold = golds(q)
        asked = ask_trial_with_candidates(trial, model, short=True)
        result, seconds = asked.answer, asked.seconds
        shown = [(p.doc_id, p.start, p.end) for p in result.passages]
        quote = result.citations[0].quote if result.citations else None
        short = result.short_answer.text if result.short_answer else None
        bm25_ids = [h.chunk_id for h in snapshot.lexical_search(q.question, TOP_K)]
        dense_ids = [h.chunk_id for h in snapshot.dense_search(trial.vector, TOP_K)]
        bm25_best = sentence_bm25.search(q.question, 1)
        bm25_quote = sentences[bm25_best[0][0]].text if bm25_best else None
        dense_quote = sentences[int(np.argmax(sentence_vectors @ trial.vector))].text
        row = {"article": q.article, "seconds": seconds, "short_given": short is not None,
               "confidence": result.confidence,
               "candidate_right": max((quote_has_answer(c, gold) for c in asked.candidates),
                                      default=0.0)}  # fmt: skip
        row["product"] = {
            "hit1": hit_at_k(shown, q.answers_at, 1),
            "hit5": hit_at_k(shown, q.answers_at, 5),
            "sentence1": quote_has_answer(quote, gold),
            "em": exact_match(short, gold),
            "f1": token_f1(short, gold),
        }
        for name, ids, best in (("bm25", bm25_ids, bm25_quote), ("dense", dense_ids, dense_quote)):
            spans = _spans(snapshot, ids)
            row[name] = {
                "hit1": hit_at_k(spans, q.answers_at, 1),
                "hit5": hit_at_k(spans, q.answers_at, 5),
                "sentence1": quote_has_answer(best, gold),
            }
        rows.append(row)
    return rows


def confidences(
    trials: list[Trial], in_corpus: set[int], model: ScoringModel
) -> tuple[list[float], list[float]]:
    """The product's confidence for each trial, and whether its first quote was right (never,
    for a question whose article is not indexed)."""
    values, right = [], []
    for trial in trials:
        result, _ = ask_trial(trial, always_quoting(model), short=False)
        values.append(result.confidence)
        quote = result.citations[0].quote if result.citations else None
        inside = trial.question.article in in_corpus
        right.append(quote_has_answer(quote, golds(trial.question)) if inside else 0.0)
    return values, right


def abstention_figures(
    trials: list[Trial], in_corpus: set[int], model: ScoringModel
) -> tuple[dict, dict]:
    """Answered/abstained shares at the model's threshold, the trade-off curve and calibration."""
    values, right = confidences(trials, in_corpus, model)
    inside = [c for c, t in zip(values, trials, strict=True) if t.question.article in in_corpus]
    outside = [
        c for c, t in zip(values, trials, strict=True) if t.question.article not in in_corpus
    ]
    ((_, answered, abstained),) = tradeoff(inside, outside, [model.threshold])
    curve = tradeoff(inside, outside, sorted({i / 200 for i in range(201)} | {model.threshold}))
    error, table = reliability(values, right)
    figures = {
        "answered_in_corpus": round(answered, 4),
        "abstained_out_of_corpus": round(abstained, 4),
        "threshold": model.threshold,
        "in_corpus_questions": len(inside),
        "out_of_corpus_questions": len(outside),
    }
    calibration = {
        "ece": round(error, 4),
        "table": [
            {"bin": f"{b.low:.1f}-{b.high:.1f}", "count": b.count,
             "confidence": round(b.mean_confidence, 4), "accuracy": round(b.accuracy, 4)}
            for b in table
        ],
    }  # fmt: skip
    return figures, {"calibration": calibration, "curve": curve, "outside": outside}


def squad_bands(rows: list[dict], outside: list[float], model: ScoringModel) -> dict:
    """The three outcomes at the shipped cut points: on the questions of `rows` (answered on
    the index of all articles) and on out-of-corpus questions (their confidences `outside`)."""
    lower, upper = model.threshold, model.upper
    inside = outcome_figures(
        [r["confidence"] for r in rows], [True] * len(rows),
        [r["product"]["sentence1"] for r in rows], [r["candidate_right"] for r in rows],
        lower, upper,
    )  # fmt: skip
    out = outcome_figures(outside, [False] * len(outside), [0.0] * len(outside),
                          [0.0] * len(outside), lower, upper)  # fmt: skip
    return {"threshold": lower, "answer_threshold": upper, "in_corpus": inside,
            "out_of_corpus": out}  # fmt: skip


def measure_latency(
    cache_name: str, questions: list[SquadQuestion], embedder: CachedEmbedder, count: int
) -> dict:
    """Median and p95 of `Assistant.ask` (encode + retrieve + answer) over `count` questions."""
    from qa.pipeline import Assistant

    assistant = Assistant(index_settings(cache_name), embedder=embedder.inner,
                          reload_interval=3600.0)  # fmt: skip
    sample = questions[:: max(1, len(questions) // count)][:count]
    assistant.ask(sample[0].question)  # load the model and the snapshot
    took = [assistant.ask(q.question).took_ms for q in sample]
    return {
        "p50": round(percentile(took, 50), 2),
        "p95": round(percentile(took, 95), 2),
        "questions": len(took),
    }


def squad_report(
    path: Path, limit: int | None, per_article: int | None, progress: bool
) -> tuple[dict, dict]:
    """The `qa eval squad --json` object, and extra data for the plot (curves)."""
    articles, questions = load_squad(path)
    articles = articles[:limit] if limit else articles
    keep = {a.index for a in articles}
    counts: dict[int, int] = {}
    chosen = []
    for q in questions:
        if q.article in keep and counts.get(q.article, 0) < (per_article or 10**9):
            counts[q.article] = counts.get(q.article, 0) + 1
            chosen.append(q)
    half = max(1, len(articles) // 2)
    first, second = set(range(half)), set(range(half, len(articles)))
    embedder = make_embedder(CACHE, "squad")
    vectors = embedder.encode_queries([q.question for q in chosen], progress=progress)
    docs = {a.doc_id: a.text for a in articles}
    tag = f"squad-{len(articles)}"
    model = answer_sets.shipped_scoring()
    options = RetrievalOptions()
    full = build_index(f"{tag}-all", docs, embedder, progress=progress)
    trials = run_trials(full, chosen, vectors, options, "squad: retrieving", progress)
    rows = evaluate_full(full, trials, always_quoting(model), progress)
    report: dict = {"questions": len(chosen), "articles": len(articles)}
    extra: dict = {}
    heldout_rows = [r for r in rows if r["article"] in second]
    for key, subset in (("all", rows), ("heldout", heldout_rows)):
        target = report if key == "all" else report.setdefault("heldout", {})
        target["questions"] = len(subset)
        for name in ("product", "bm25", "dense"):
            target[name] = _figures([r[name] for r in subset], with_short=name == "product")
        given = [r for r in subset if r["short_given"]]
        target["short_answer"] = {
            "given": round(len(given) / (len(subset) or 1), 4),
            "em_when_given": round(sum(r["product"]["em"] for r in given) / (len(given) or 1), 4),
            "f1_when_given": round(sum(r["product"]["f1"] for r in given) / (len(given) or 1), 4),
        }
        took = [r["seconds"] * 1000 for r in subset]
        target["retrieve_answer_ms"] = {
            "p50": round(percentile(took, 50), 2),
            "p95": round(percentile(took, 95), 2),
        }
    del full, trials
    for key, indexed, name in (("all", first, "first"), ("heldout", second, "second")):
        if not indexed:
            continue
        part = {a.doc_id: a.text for a in articles if a.index in indexed}
        snapshot = build_index(f"{tag}-{name}", part, embedder, progress=progress)
        trials = run_trials(snapshot, chosen, vectors, options, f"squad: {name} half", progress)
        figures, more = abstention_figures(trials, indexed, model)
        target = report if key == "all" else report["heldout"]
        target["abstention"] = figures
        target["calibration"] = more["calibration"]
        subset = rows if key == "all" else heldout_rows
        target["bands"] = squad_bands(subset, more["outside"], model)
        extra[key] = more["curve"]
    report["latency_ms"] = measure_latency(
        f"{tag}-all", chosen, embedder, min(LATENCY_SAMPLE, len(chosen))
    )
    return report, extra


def plot_tradeoff(curves: dict, threshold: float, path: Path) -> None:
    """Draw in-corpus answered vs out-of-corpus abstained as the threshold moves."""
    labels = ("out-of-corpus questions abstained", "in-corpus questions answered",
              "SQuAD v1.1 dev: abstention trade-off")  # fmt: skip
    with answer_sets.png_axes(path, labels, low=0.5) as ax:
        for key, style in (("all", "-"), ("heldout", "--")):
            if key not in curves:
                continue
            curve = curves[key]
            indexed = "first half indexed" if key == "all" else "second half indexed"
            ax.plot([c[2] for c in curve], [c[1] for c in curve], style, label=f"{key} ({indexed})")
            point = min(curve, key=lambda c: abs(c[0] - threshold))
            ax.plot(
                [point[2]], [point[1]], "o",
                label=f"{key} at threshold {threshold:.2f}: {point[2]:.3f} / {point[1]:.3f}",
            )  # fmt: skip
        ax.axhline(0.9, color="grey", lw=0.5)
        ax.axvline(0.9, color="grey", lw=0.5)


def squad_table(report: dict) -> str:
    """The SQuAD figures as a text table (all questions, then held-out articles)."""
    lines = []
    for key, part in (("all", report), ("heldout", report.get("heldout", {}))):
        if not part:
            continue
        lines.append(f"SQuAD v1.1 dev, {key}: {part['questions']} questions")
        lines.append(f"{'':10}{'hit@1':>8}{'hit@5':>8}{'sent@1':>8}{'EM':>8}{'F1':>8}")
        for name in ("product", "bm25", "dense"):
            f = part[name]
            cells = [f["passage_hit1"], f["passage_hit5"], f["sentence1"], f["em"], f["f1"]]
            lines.append(f"{name:10}" + "".join(
                f"{c:8.3f}" if c is not None else f"{'-':>8}" for c in cells))  # fmt: skip
        if "bands" in part:
            lines += squad_bands_lines(part["bands"])
        if "abstention" in part:
            a = part["abstention"]
            lines.append(
                f"abstention at threshold {a['threshold']:.3f}: in-corpus answered "
                f"{a['answered_in_corpus']:.3f}, out-of-corpus abstained "
                f"{a['abstained_out_of_corpus']:.3f}; ECE {part['calibration']['ece']:.3f}"
            )
        lines.append("")
    if "latency_ms" in report:
        lat = report["latency_ms"]
        lines.append(f"answer time (qa ask path): p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    return "\n".join(lines)


def squad_bands_lines(bands: dict) -> list[str]:
    """The three outcomes' figures of a SQuAD report part (`squad_bands`)."""
    inside, outside = bands["in_corpus"], bands["out_of_corpus"]
    cut = {"threshold": bands["threshold"], "answer_threshold": bands["answer_threshold"]}
    return [
        "in corpus, " + answer_sets.bands_line({**inside, **cut}),
        "out of corpus, " + answer_sets.bands_line({**outside, **cut}),
    ]


# --- BEIR ------------------------------------------------------------------------------------

BEIR_DEPTH = 300


def _doc_ranking(snapshot: Snapshot, chunk_ids: list[str]) -> list[str]:
    """Document ids in order of their first chunk in `chunk_ids` (".txt" dropped)."""
    seen: dict[str, None] = {}
    for chunk_id in chunk_ids:
        seen.setdefault(chunk_id.rpartition("#")[0].removesuffix(".txt"), None)
    return list(seen)


def beir_rankings(
    snapshot: Snapshot, query: BeirQuery, vector: np.ndarray, options: RetrievalOptions
) -> dict[str, list[str]]:
    """Document rankings of the product and of both baselines for one query."""
    deep = replace(options, candidates=BEIR_DEPTH)
    fused = retrieve(snapshot, query.text, vector, BEIR_DEPTH, deep)
    return {
        "product": _doc_ranking(snapshot, [p.chunk.chunk_id for p in fused]),
        "bm25": _doc_ranking(
            snapshot, [h.chunk_id for h in snapshot.lexical_search(query.text, BEIR_DEPTH)]
        ),
        "dense": _doc_ranking(
            snapshot, [h.chunk_id for h in snapshot.dense_search(vector, BEIR_DEPTH)]
        ),
    }


def beir_report(
    folder: Path, split: str, progress: bool, options: RetrievalOptions = RetrievalOptions()
) -> dict:
    """The `qa eval beir --json` object."""
    corpus, queries = load_beir(folder, split)
    embedder = make_embedder(CACHE, folder.name)
    snapshot = build_index(
        folder.name, {f"{k}.txt": v for k, v in corpus.items()}, embedder,
        progress=progress,
    )  # fmt: skip
    vectors = embedder.encode_queries([q.text for q in queries], progress=progress)
    sums: dict[str, dict[str, float]] = {
        n: {"ndcg10": 0.0, "recall100": 0.0} for n in ("product", "bm25", "dense")
    }
    for query, vector in progress_bar(
        list(zip(queries, vectors, strict=True)), f"beir {folder.name}", progress
    ):
        for name, ranking in beir_rankings(snapshot, query, vector, options).items():
            sums[name]["ndcg10"] += ndcg_at_k(ranking, query.relevant, 10)
            sums[name]["recall100"] += recall_at_k(ranking, query.relevant, 100)
    n = len(queries) or 1
    report: dict = {"queries": len(queries), "dataset": folder.name, "split": split}
    for name, figures in sums.items():
        report[name] = {k: round(v / n, 4) for k, v in figures.items()}
    return report


def beir_table(report: dict) -> str:
    lines = [f"BEIR {report['dataset']} ({report['split']}): {report['queries']} queries",
             f"{'':10}{'nDCG@10':>9}{'R@100':>9}"]  # fmt: skip
    for name in ("product", "bm25", "dense"):
        lines.append(f"{name:10}{report[name]['ndcg10']:9.3f}{report[name]['recall100']:9.3f}")
    return "\n".join(lines)


# --- commands --------------------------------------------------------------------------------


@click.group("eval")
def eval_group() -> None:
    """Measure answer quality on SQuAD v1.1/2.0, WikiQA, TyDi or a BEIR dataset, next to BM25
    and dense baselines."""


@eval_group.command("squad")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
@click.option("--limit", type=click.IntRange(min=2), help="Use only the first N articles.")
@click.option("--per-article", type=click.IntRange(min=1), help="At most N questions per article.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the abstention trade-off curve into this PNG file.")  # fmt: skip
@click.option(
    "--store",
    default="faiss",
    show_default=True,
    help="Backend for the benchmark indexes: faiss, or milvus://HOST:PORT/PREFIX.",
)
def squad_command(
    path: Path,
    as_json: bool,
    limit: int | None,
    per_article: int | None,
    plot: Path | None,
    store: str,
) -> None:
    """Evaluate on a SQuAD v1.1 file (PATH: dev-v1.1.json or .json.gz)."""
    eval_corpus.STORE = store
    report, curves = squad_report(path, limit, per_article, progress=True)
    if plot:
        plot_tradeoff(curves, report["abstention"]["threshold"], plot)
    click.echo(json.dumps(report) if as_json else squad_table(report))


@eval_group.command("beir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="Which qrels file to use.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
@click.option(
    "--store",
    default="faiss",
    show_default=True,
    help="Backend for the benchmark indexes: faiss, or milvus://HOST:PORT/PREFIX.",
)
def beir_command(folder: Path, split: str, as_json: bool, store: str) -> None:
    """Evaluate on a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)."""
    eval_corpus.STORE = store
    report = beir_report(folder, split, progress=True)
    click.echo(json.dumps(report) if as_json else beir_table(report))


@eval_group.command("wikiqa")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="dev", show_default=True, help="Which WikiQA-SPLIT.tsv to ask.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the abstention trade-off curves into this PNG file.")  # fmt: skip
def wikiqa_command(folder: Path, split: str, as_json: bool, plot: Path | None) -> None:
    """Evaluate on WikiQA (FOLDER holds WikiQA-*.tsv[.gz]; every summary is a document)."""
    report, curves = answer_sets.wikiqa_report(folder, split, progress=True)
    _print_report(report, curves, as_json, plot)


@eval_group.command("tydi")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw share answered vs. quotes right into this PNG file.")  # fmt: skip
def tydi_command(path: Path, as_json: bool, plot: Path | None) -> None:
    """Evaluate on TyDi QA GoldP in SQuAD format (PATH: .json or .json.gz; one document per
    passage)."""
    report, curves = answer_sets.tydi_report(path, progress=True)
    _print_report(report, curves, as_json, plot)


@eval_group.command("squad2")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the abstention trade-off curves into this PNG file.")  # fmt: skip
@click.option(
    "--v11",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The SQuAD v1.1 dev file: also report on its articles 24-47 (never fitted on).",
)
@click.option(
    "--every", default=1, show_default=True, type=click.IntRange(min=1),
    help="Ask every Nth question only (faster; every article is still indexed).",
)  # fmt: skip
def squad2_command(
    path: Path, as_json: bool, plot: Path | None, v11: Path | None, every: int
) -> None:
    """Evaluate on SQuAD 2.0 dev (PATH: .json or .json.gz; one document per article): answered
    on answerable questions, abstained on unanswerable ones."""
    report, curves = answer_sets.squad2_report(path, v11, progress=True, every=every)
    _print_report(report, curves, as_json, plot)


@eval_group.command("pdfs")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of figures.")
def pdfs_command(folder: Path, questions: Path, as_json: bool) -> None:
    """Evaluate on a folder of PDFs (indexed as it is) with QUESTIONS (JSON lines: question,
    doc_id, page, answers; or question and out_of_corpus): the first quote, its document and
    page, and abstention on out-of-corpus questions."""
    from qa.tools import pdf_eval

    report = pdf_eval.pdf_report(folder, questions, progress=True)
    click.echo(json.dumps(report) if as_json else pdf_eval.table(report))


def _print_report(report: dict, curves: dict, as_json: bool, plot: Path | None) -> None:
    if plot:
        answer_sets.plot_report(report, curves, plot)
    click.echo(json.dumps(report) if as_json else answer_sets.report_table(report))


@eval_group.command("fit")
@click.option(
    "--squad-train",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="SQuAD v1.1 train (its last 20 articles are used).",
)
@click.option(
    "--tydi",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The TyDi QA GoldP file (half 0 is used).",
)
@click.option(
    "--wikiqa",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The WikiQA folder (train: the threshold only).",
)
@click.option(
    "--reader",
    "reader_setting",
    default=None,
    help="A reader folder, or 'off' (default: QA_READER's, the packaged one).",
)
@click.option(
    "--every", default=1, show_default=True, help="Use every Nth SQuAD question (faster)."
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model (default: qa/scoring.json).")  # fmt: skip
@click.option(
    "--bands-only",
    is_flag=True,
    help="Keep the shipped scorer, cascade and calibration; refit only the two cut points.",
)
def fit_command(
    squad_train: Path,
    tydi: Path,
    wikiqa: Path,
    reader_setting: str | None,
    every: int,
    output: Path | None,
    bands_only: bool,
) -> None:
    """Refit the sentence scorer, the reader's cascade, the calibration and the cut points of
    the three outcomes (see qa/tools/fitting.py for which data each step uses)."""
    from qa.reader import CONFIG_FILE, load_reader
    from qa.resources import scoring_file
    from qa.tools.fitting import cascade_json, fit, fit_sets

    reader = load_reader(reader_setting)
    sets = fit_sets(squad_train, tydi, wikiqa, every=every, progress=True, bands_only=bands_only)
    command = f"qa eval fit --squad-train {squad_train} --tydi {tydi} --wikiqa {wikiqa}"
    command += (f" --reader {reader_setting}" if reader_setting else "") + f" --every {every}"
    target = output or scoring_file()
    if bands_only:
        _refit_bands(sets, reader, scoring_file(), target, command + " --bands-only")
        return
    model, about, cascade = fit(sets, reader, progress=True)
    about = {"command": command, **about}
    fitted_cascade = about.pop("cascade", None)  # goes to reader.json, not scoring.json
    target.write_text(model.to_json(about) + "\n")
    summary = {"written": [str(target)], **about}
    if reader is not None and cascade is not None:
        config_path = reader.folder / CONFIG_FILE
        config = json.loads(config_path.read_text())
        config["cascade"] = cascade_json(cascade, {"command": command, **fitted_cascade})
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        summary["written"].append(str(config_path))
        summary["cascade"] = {k: v for k, v in fitted_cascade.items() if k != "grid"}
    click.echo(json.dumps(summary, indent=2))


def _refit_bands(sets, reader, source: Path, target: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    """`qa eval fit --bands-only`: the model in `source` with newly fitted cut points, written
    to `target` with how they were fitted (in place of the earlier threshold's account)."""
    from qa.answer import ScoringModel
    from qa.reader import Cascade
    from qa.tools.fitting import fit_bands

    model = ScoringModel.from_file(source)
    cascade = reader.cascade if reader is not None else Cascade(candidates=0)
    model, bands = fit_bands(sets, model, cascade, reader, progress=True)
    about = json.loads(source.read_text()).get("fitted", {})
    about.pop("threshold", None)
    about["bands"] = {"command": command, **bands}
    target.write_text(model.to_json(about) + "\n")
    click.echo(json.dumps({"written": [str(target)], "bands": bands}, indent=2))
