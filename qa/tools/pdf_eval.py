"""`qa eval pdfs DIR QUESTIONS.jsonl`: the product on a folder of real PDFs, cited by page.

In: a docs folder (indexed as it is, by the product's own indexer, into `.cache/eval/`; vectors
cached) and a JSON-lines file of questions, one object a line:

    {"question": str, "doc_id": str, "page": int, "answers": [str, ...]}   answerable
    {"question": str, "out_of_corpus": true}                                out of corpus

`doc_id` is the file's path in the folder, `page` the 1-based page holding the answer, and
`answers` short strings any of which, found in the first quote (ignoring case and white space,
NFKC-normalized: a ligature in the quote still reads as its letters), makes it right.

Out: a report dict (the `--json` object) and its table. Every question is answered once (with
threshold 0, its confidence kept; answered means confidence >= the shipped threshold), so:

- answerable: `answered`, `quote_holds_answer` (answered, and the first quote holds an answer),
  `right_document` (answered, first citation from `doc_id`), `right_page` (and on `page`); the
  same three at threshold 0 (`*_open`: what the quote would be without abstention).
- out of corpus: `abstained` (not answered at the shipped threshold).
- `misses`: each answerable question whose first quote does not hold the answer, or whose
  citation is on another page, and each out-of-corpus question answered, with what was cited.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from qa.answer import Answer, Citation, ScoringModel, answer, locate
from qa.embedding import Embedder
from qa.indexer import refresh
from qa.reader import load_reader
from qa.retrieval import RetrievalOptions, retrieve
from qa.stores.base import Snapshot
from qa.tools.eval_corpus import CACHE, index_settings, progress_bar
from qa.tools.trials import TOP_K


@dataclass(frozen=True)
class PdfQuestion:
    """One question of the set: answerable (`doc_id`, `page`, `answers`) or out of corpus."""

    question: str
    doc_id: str | None = None
    page: int | None = None
    answers: tuple[str, ...] = ()

    @property
    def out_of_corpus(self) -> bool:
        return self.doc_id is None


def load_questions(path: Path) -> list[PdfQuestion]:
    """The questions of a JSON-lines file; ValueError naming the line of a malformed one."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(_question(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: not a question object ({exc})") from exc
    return questions


def _question(row: dict) -> PdfQuestion:
    text = row["question"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty question")
    if row.get("out_of_corpus") is True:
        return PdfQuestion(text)
    page, answers = row["page"], row["answers"]
    if not isinstance(page, int) or page < 1:
        raise ValueError("page must be an integer >= 1")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise ValueError("answers must be a non-empty list of strings")
    return PdfQuestion(text, str(row["doc_id"]), page, tuple(answers))


def _squeeze(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def holds_answer(quote: str | None, answers: tuple[str, ...]) -> bool:
    """Whether `quote` contains one of `answers`, ignoring case, white space and ligatures."""
    if not quote:
        return False
    said = _squeeze(quote)
    return any(_squeeze(a) and _squeeze(a) in said for a in answers)


@dataclass(frozen=True)
class Outcome:
    """One question's answer: the first citation (None when nothing was quotable) and the
    confidence; `answered` at the shipped threshold."""

    question: PdfQuestion
    first: Citation | None
    confidence: float
    answered: bool


def index_folder(folder: Path, embedder: Embedder, progress: bool = False) -> Snapshot:
    """Index `folder` as it is (files never copied) under `.cache/eval/pdfs-<hash>/`, reused
    while unchanged; the opened snapshot."""
    from qa.pipeline import open_store

    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    settings = index_settings(f"pdfs-{key}")
    store = open_store(settings)
    refresh(folder, store, embedder, max_bytes=1 << 30, progress=progress)
    snapshot = store.open()
    getattr(snapshot, "warm", lambda: None)()
    return snapshot


def ask_all(
    snapshot: Snapshot,
    questions: list[PdfQuestion],
    embedder: Embedder,
    model: ScoringModel,
    progress: bool = False,
) -> list[Outcome]:
    """Each question answered by the product (threshold 0, so the quote is seen even where
    it would abstain), its citations located by page and section."""
    options = RetrievalOptions()
    depth = max(TOP_K, options.rerank)
    open_model = replace(model, threshold=0.0)
    reader = load_reader()
    texts = [q.question for q in questions]
    batch = getattr(embedder, "encode_queries", None)  # the evaluation cache's, when there
    vectors = batch(texts) if batch else [embedder.encode_query(t) for t in texts]
    outcomes = []
    for question, vector in progress_bar(
        list(zip(questions, vectors, strict=True)), "pdf questions", progress
    ):
        passages = retrieve(snapshot, question.question, vector, depth, options)
        result: Answer = answer(question.question, vector, passages, open_model, top_k=TOP_K,
                                short=False, reader=reader)  # fmt: skip
        citations = locate(result.citations, snapshot.layout)
        first = citations[0] if citations else None
        confidence = result.confidence if first else 0.0
        outcomes.append(Outcome(question, first, confidence, confidence >= model.threshold))
    return outcomes


def _share(hits: list[bool]) -> dict:
    return {"count": sum(hits), "of": len(hits), "share": round(sum(hits) / len(hits), 4)
            if hits else 0.0}  # fmt: skip


def report(outcomes: list[Outcome], snapshot: Snapshot | None = None) -> dict:
    """The figures of `outcomes` (see the module docstring) and the misses."""
    inside = [o for o in outcomes if not o.question.out_of_corpus]
    outside = [o for o in outcomes if o.question.out_of_corpus]
    quote = [holds_answer(o.first.quote if o.first else None, o.question.answers) for o in inside]
    doc = [o.first is not None and o.first.doc_id == o.question.doc_id for o in inside]
    page = [d and o.first is not None and o.first.page == o.question.page
            for d, o in zip(doc, inside, strict=True)]  # fmt: skip
    answered = [o.answered for o in inside]
    figures = {
        "answered": _share(answered),
        "quote_holds_answer": _share([a and q for a, q in zip(answered, quote, strict=True)]),
        "right_document": _share([a and d for a, d in zip(answered, doc, strict=True)]),
        "right_page": _share([a and p for a, p in zip(answered, page, strict=True)]),
        "quote_holds_answer_open": _share(quote),
        "right_document_open": _share(doc),
        "right_page_open": _share(page),
    }
    misses = [_miss(o, q, p) for o, q, p in zip(inside, quote, page, strict=True)
              if not (o.answered and q and p)]  # fmt: skip
    misses += [_miss(o, False, False) for o in outside if o.answered]
    return {
        "set": "pdfs",
        "documents": snapshot.document_count if snapshot is not None else None,
        "questions": {"answerable": len(inside), "out_of_corpus": len(outside)},
        "answerable": figures,
        "out_of_corpus": {"abstained": _share([not o.answered for o in outside])},
        "misses": misses,
    }


def _miss(outcome: Outcome, quote_right: bool, page_right: bool) -> dict:
    """What went wrong with one question, in words a person can check against the PDF."""
    q, first = outcome.question, outcome.first
    if q.out_of_corpus:
        why = "answered an out-of-corpus question"
    elif first is None:
        why = "nothing quotable"
    elif first.doc_id != q.doc_id:
        why = "wrong document"
    elif not quote_right:
        why = "right document, quote lacks the answer"
    elif not page_right:
        why = "quote holds the answer, cited page differs"
    else:
        why = "abstained (quote was right)"
    if (
        not q.out_of_corpus
        and first is not None
        and not outcome.answered
        and why != ("abstained (quote was right)")
    ):
        why += "; abstained"
    return {
        "question": q.question,
        "why": why,
        "expected": None if q.out_of_corpus else {"doc_id": q.doc_id, "page": q.page},
        "cited": None
        if first is None
        else {"doc_id": first.doc_id, "page": first.page, "quote": first.quote[:300]},  # fmt: skip
        "confidence": round(outcome.confidence, 4),
    }


def table(result: dict) -> str:
    """The report as a small text table, then the misses."""
    figures, counts = result["answerable"], result["questions"]
    lines = [
        f"PDFs: {result['documents']} documents, {counts['answerable']} answerable and "
        f"{counts['out_of_corpus']} out-of-corpus questions",
        f"{'figure':<28}{'shipped threshold':>20}{'threshold 0':>14}",
    ]
    for name in ("quote_holds_answer", "right_document", "right_page"):
        shipped, open_ = figures[name], figures[f"{name}_open"]
        lines.append(f"{name:<28}{_cell(shipped):>20}{_cell(open_):>14}")
    lines.append(f"{'answered':<28}{_cell(figures['answered']):>20}")
    lines.append(
        f"{'out of corpus abstained':<28}{_cell(result['out_of_corpus']['abstained']):>20}"
    )
    if result["misses"]:
        lines += ["", "misses:"]
        for miss in result["misses"]:
            cited = miss["cited"]
            where = f"{cited['doc_id']} p. {cited['page']}" if cited else "-"
            lines.append(f"- {miss['question']} [{miss['why']}; cited {where}; "
                         f"confidence {miss['confidence']:.2f}]")  # fmt: skip
    return "\n".join(lines)


def _cell(share: dict) -> str:
    return f"{share['count']}/{share['of']} {share['share']:.3f}"


def pdf_report(folder: Path, questions_file: Path, progress: bool = False) -> dict:
    """Index `folder`, ask every question of `questions_file`, and report (see above)."""
    from qa.pipeline import load_scoring
    from qa.tools.trials import make_embedder

    questions = load_questions(questions_file)
    embedder = make_embedder(CACHE, "pdfs")
    snapshot = index_folder(folder, embedder, progress)
    outcomes = ask_all(snapshot, questions, embedder, load_scoring(), progress)
    return report(outcomes, snapshot)
