"""Pages and sections of an offset (qa/layout.py), and how extraction records them
(qa/documents.py): page starts of a PDF, headings of Markdown, HTML and DOCX."""

from __future__ import annotations

import bisect
from pathlib import Path

from qa.documents import read_all
from qa.layout import (
    NO_LAYOUT,
    DocumentLayout,
    layout_from_json,
    page_label,
    page_of,
    section_of,
)
from tests.support.helpers import write_docx, write_paged_pdf


def test_page_of_is_bisect_right_and_an_empty_page_gives_way_to_the_next() -> None:
    pages = (0, 10, 10, 25)  # page 2 is empty: it starts where page 3 does
    assert [page_of(pages, o) for o in (0, 9, 10, 24, 25, 99)] == [1, 1, 3, 3, 4, 4]
    assert all(page_of(pages, o) == bisect.bisect_right(pages, o) for o in range(40))
    assert page_of((), 5) is None


def test_section_of_is_the_last_heading_at_or_before_the_offset() -> None:
    sections = ((5, "Intro"), (40, "Methods"))
    assert section_of(sections, 4) is None
    assert section_of(sections, 5) == "Intro"
    assert section_of(sections, 39) == "Intro"
    assert section_of(sections, 40) == "Methods"
    assert section_of((), 10) is None


def test_stored_layout_reads_back_and_malformed_reads_as_empty() -> None:
    assert layout_from_json([0, 7], [[3, "A"]]) == DocumentLayout((0, 7), ((3, "A"),))
    assert layout_from_json(None, None) == NO_LAYOUT
    assert layout_from_json(["x"], "nope") == NO_LAYOUT


def test_pdf_pages_point_at_each_page_text(tmp_path: Path) -> None:
    write_paged_pdf(tmp_path / "r.pdf", [["Alpha page one."], [], ["Gamma page three."]])
    (document,), _ = read_all(tmp_path)
    assert len(document.pages) == 3 and document.pages[0] == 0
    at = document.text.index("Gamma")
    assert page_of(document.pages, at) == 3
    assert page_of(document.pages, document.text.index("Alpha")) == 1


def test_markdown_html_and_docx_record_their_headings(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nIntro text.\n\n## Setup\n\nInstall it.\n")
    (tmp_path / "b.html").write_text(
        "<html><body><h1>Guide</h1><p>Read this.</p><h2>Usage  notes</h2><p>Run it.</p>"
        "</body></html>"
    )
    write_docx(tmp_path / "c.docx", "Memo Heading", ["First paragraph.", "Second one."])
    documents, _ = read_all(tmp_path)
    by_id = {d.doc_id: d for d in documents}
    for doc_id, quote, heading in [
        ("a.md", "Install it.", "Setup"),
        ("b.html", "Run it.", "Usage notes"),
        ("c.docx", "Second one.", "Memo Heading"),
    ]:
        document = by_id[doc_id]
        for start, text in document.sections:  # at the heading's line (Markdown: its "#")
            assert text in document.text[start : start + len(text) + 8]
        assert section_of(document.sections, document.text.index(quote)) == heading


def test_a_page_is_named_a_slide_in_a_deck() -> None:
    assert page_label("reports/q3.pdf", 3) == "p. 3"
    assert page_label("talks/Review.PPTX", 3) == "slide 3"
