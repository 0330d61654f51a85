"""`qa eval pdfs` (qa/tools/pdf_eval.py): the question file, the answer test, the figures and
misses, and a whole run over generated PDFs with the fake embedder; plus the committed set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.answer import Citation
from qa.pipeline import load_scoring
from qa.tools import pdf_eval
from qa.tools.pdf_eval import Outcome, PdfQuestion, holds_answer, load_questions, report
from tests.support.fakes import FakeEmbedder
from tests.support.helpers import write_paged_pdf

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "pdf_questions.jsonl"
SHARED_PDFS = Path(__file__).resolve().parents[4] / "shared" / "eval" / "pdfs"


def test_the_committed_set_is_well_formed_and_big_enough() -> None:
    questions = load_questions(COMMITTED)
    answerable = [q for q in questions if not q.out_of_corpus]
    outside = [q for q in questions if q.out_of_corpus]
    assert len(questions) >= 40 and len(answerable) >= 35 and len(outside) >= 5
    assert len({q.question for q in questions}) == len(questions)
    assert all(q.doc_id.endswith(".pdf") and q.page >= 1 and q.answers for q in answerable)
    if SHARED_PDFS.is_dir():  # every document named is one of the shared PDFs
        assert {q.doc_id for q in answerable} <= {p.name for p in SHARED_PDFS.glob("*.pdf")}


@pytest.mark.parametrize(
    "line",
    [
        '{"question": "", "out_of_corpus": true}',
        '{"question": "Q?", "doc_id": "a.pdf", "page": 0, "answers": ["x"]}',
        '{"question": "Q?", "doc_id": "a.pdf", "page": 2, "answers": []}',
        '{"question": "Q?", "doc_id": "a.pdf", "answers": ["x"]}',
        "not json",
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(tmp_path: Path, line: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Fine?", "out_of_corpus": true}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"q\.jsonl:2"):
        load_questions(path)


def test_an_answer_matches_ignoring_case_white_space_and_ligatures() -> None:
    assert holds_answer("The GNU General Public\nLicense applies.", ("general public license",))
    assert holds_answer("We keep \ufb01ve replicas.", ("five replicas",))
    assert not holds_answer("We keep four replicas.", ("five replicas",))
    assert not holds_answer(None, ("x",))


def _citation(doc_id: str, page: int | None, quote: str) -> Citation:
    return Citation(1, doc_id, "t", quote, 0, len(quote), 0.9, page=page)


def test_figures_count_abstention_documents_and_pages() -> None:
    q = PdfQuestion("How many?", "a.pdf", 3, ("three",))
    outcomes = [
        Outcome(q, _citation("a.pdf", 3, "There are three."), 0.9, True),  # all right
        Outcome(q, _citation("a.pdf", 4, "There are three."), 0.9, True),  # other page
        Outcome(q, _citation("b.pdf", 3, "There are three."), 0.9, True),  # other document
        Outcome(q, _citation("a.pdf", 3, "There are three."), 0.1, False),  # abstained
        Outcome(PdfQuestion("Capital of Peru?"), None, 0.0, False),
        Outcome(PdfQuestion("Capital of Chad?"), _citation("a.pdf", 1, "No."), 0.8, True),
    ]
    result = report(outcomes)
    figures = result["answerable"]
    assert figures["quote_holds_answer"]["count"] == 3
    assert figures["right_document"]["count"] == 2
    assert figures["right_page"]["count"] == 1
    assert figures["quote_holds_answer_open"]["count"] == 4
    assert figures["right_page_open"]["count"] == 2
    assert result["out_of_corpus"]["abstained"] == {"count": 1, "of": 2, "share": 0.5}
    assert [m["why"] for m in result["misses"]] == [
        "quote holds the answer, cited page differs",
        "wrong document",
        "abstained (quote was right)",
        "answered an out-of-corpus question",
    ]
    assert "right_page" in pdf_eval.table({**result, "documents": 2})


def test_a_run_over_generated_pdfs_finds_the_page(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pdf_eval, "CACHE", tmp_path / "cache")
    monkeypatch.setattr("qa.tools.eval_corpus.CACHE", tmp_path / "cache")
    # `qa eval ... --store` sets this module global; a test before may have left a URI.
    monkeypatch.setattr("qa.tools.eval_corpus.STORE", "faiss")
    docs = tmp_path / "pdfs"
    docs.mkdir()
    write_paged_pdf(docs / "plant.pdf", [
        ["Annual report of the hydro plant."],
        ["The turbines were serviced in March by the crew."],
        ["The reservoir held 80 million cubic metres in June."],
    ])  # fmt: skip
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(row) for row in [
        {"question": "How much water did the reservoir hold in June?", "doc_id": "plant.pdf",
         "page": 3, "answers": ["80 million cubic metres"]},
        {"question": "When were the turbines serviced?", "doc_id": "plant.pdf", "page": 2,
         "answers": ["March"]},
    ]))  # fmt: skip
    embedder = FakeEmbedder()
    snapshot = pdf_eval.index_folder(docs, embedder)
    outcomes = pdf_eval.ask_all(snapshot, load_questions(questions), embedder, load_scoring())
    result = report(outcomes, snapshot)
    assert result["documents"] == 1
    assert result["answerable"]["right_page_open"]["count"] == 2
    assert result["answerable"]["quote_holds_answer_open"]["count"] == 2
