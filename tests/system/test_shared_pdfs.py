"""The ten shared papers (`../shared/eval/pdfs/`) end to end, with the real model, through the
Python API: every one indexed, every quote a verbatim slice cited by a page of its PDF, the
out-of-corpus questions answered with `none`, and the committed questions' first quotes right
at least as often as `qa eval pdfs` measured, less a margin for another CPU's int8 arithmetic."""

from __future__ import annotations

import unicodedata

import pytest

from qa import Assistant
from qa.tools.pdf_eval import holds_answer, load_questions
from tests.support.fakes import ROOT
from tests.support.helpers import require_system_tool

pytestmark = pytest.mark.model

PDFS = ROOT.parent / "shared" / "eval" / "pdfs"
QUESTIONS = ROOT / "tests" / "data" / "pdf_questions.jsonl"
# `qa eval pdfs` on 2026-12-07: 32 of 45 first quotes hold the answer, 39 cite the right paper.
FIRST_QUOTE_FLOOR = 30
RIGHT_DOCUMENT_FLOOR = 37


@pytest.fixture(scope="module")
def papers(tmp_path_factory):
    require_system_tool(PDFS.is_dir(), f"the shared papers are not at {PDFS}")
    assistant = Assistant.open(PDFS, index=tmp_path_factory.mktemp("pdf-index"))
    yield assistant
    assistant.close()


def test_every_paper_is_indexed_with_its_pages(papers):
    report = papers.last_report
    assert report is not None and report.skipped == []
    texts = {d.doc_id: d.text for d in papers.documents()}
    names = {p.name for p in PDFS.glob("*.pdf")}
    assert set(texts) >= names
    for name in names:
        assert "\ufb01" not in texts[name] and "\ufb02" not in texts[name]  # ligatures: letters
        assert unicodedata.normalize("NFKC", texts[name]) == texts[name]
        assert len(papers._engine.layout(name).pages) >= 1  # page starts: not in the public API


def test_quotes_are_verbatim_and_cited_by_a_page_of_their_paper(papers):
    questions = [q for q in load_questions(QUESTIONS) if not q.out_of_corpus]
    texts = {d.doc_id: d.text for d in papers.documents()}
    right, right_document = 0, 0
    answers = papers.ask_many([q.question for q in questions])
    for question, answer in zip(questions, answers, strict=True):
        for citation in answer.citations:
            assert texts[citation.doc_id][citation.start : citation.end] == citation.quote
            assert citation.quote in citation.context
            pages = papers._engine.layout(citation.doc_id).pages
            assert citation.page is not None and 1 <= citation.page <= len(pages)
            assert pages[citation.page - 1] <= citation.start
        first = answer.citations[0] if answer.citations else None
        right_document += bool(first and first.doc_id == question.doc_id)
        right += bool(first and holds_answer(first.quote, question.answers))
    assert right >= FIRST_QUOTE_FLOOR, f"{right} of {len(questions)} first quotes hold the answer"
    assert right_document >= RIGHT_DOCUMENT_FLOOR


def test_questions_the_papers_do_not_answer_get_none(papers):
    questions = [q.question for q in load_questions(QUESTIONS) if q.out_of_corpus]
    assert len(questions) == 8
    for answer in papers.ask_many(questions):
        assert answer.outcome == "none" and not answer.answered and answer.citations == []
