"""Reading a docs folder: text and titles per format, bad files skipped with a reason."""

import os
from pathlib import Path

from qa.documents import load, read_all, scan
from qa.layout import page_of
from tests.support.helpers import write_docx, write_pdf, write_pptx


def by_id(documents):
    return {d.doc_id: d for d in documents}


def reasons(skipped):
    return {s.path: s.reason for s in skipped}


def test_txt_and_md_text_is_the_file_content_unchanged_without_bom(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes("\ufeffA title line\n\nBody text.\r\nMore.".encode())
    (tmp_path / "b.md").write_text("Intro.\n\n# The Heading\n\nBody.", encoding="utf-8")
    documents, skipped = read_all(tmp_path)
    docs = by_id(documents)
    assert skipped == []
    assert docs["a.txt"].text == "A title line\n\nBody text.\r\nMore."
    assert docs["a.txt"].title == "A title line"
    assert docs["b.md"].text == "Intro.\n\n# The Heading\n\nBody."
    assert docs["b.md"].title == "The Heading"


def test_title_falls_back_to_the_file_name(tmp_path: Path):
    (tmp_path / "plain_notes-file.txt").write_text("This is a sentence. Another one.")
    (document,), _ = read_all(tmp_path)
    assert document.title == "plain notes file"


def test_html_keeps_only_visible_text_and_uses_its_title(tmp_path: Path):
    (tmp_path / "page.HTML").write_text(
        "<html><head><title>Page Title</title><style>p{color:red}</style>"
        "<script>var secret = 1;</script></head><body><nav>Home | About</nav>"
        "<h1>Heading</h1><p>First <b>bold</b> paragraph.</p><ul><li>one</li><li>two</li></ul>"
        "<noscript>enable js</noscript></body></html>"
    )
    (document,), skipped = read_all(tmp_path)
    assert skipped == []
    assert document.doc_id == "page.HTML"
    assert document.title == "Page Title"
    assert document.text == "Heading\n\nFirst bold paragraph.\n\n\u2022 one\n\n\u2022 two"
    for hidden in ("secret", "color", "Home", "enable js"):
        assert hidden not in document.text


def test_a_deck_reads_slide_by_slide_each_slide_a_page(tmp_path: Path):
    write_pptx(tmp_path / "review.pptx")
    (doc,), skipped = read_all(tmp_path)
    assert skipped == []
    assert doc.title == "Q3 Platform Review"
    slides = [doc.text[start:end].strip() for start, end in
              zip(doc.pages, [*doc.pages[1:], len(doc.text)], strict=True)]  # fmt: skip
    assert slides == [
        "Q3 Platform Review\n\nStorage team, October 2026",
        "Risks\n\n\u2022 Vendor support for the old tape library ends in March 2027\n\n"
        "\u2013 Mitigation: move cold data to object storage by February\n\n"
        "Owner: the storage team\n\nSay that the tape contract was signed in 2019.",
        "Capacity by region\n\nRegion; Used; Free\n\nEU-West; 1.2 PB; 300 TB\n\n"
        "US-East; 2.1 PB; 150 TB\n\nFigures as of 30 September.",
        "",  # the blank slide: a page without text
        "Questions",
    ]
    assert [title for _, title in doc.sections] == [
        "Q3 Platform Review",
        "Risks",
        "Capacity by region",
        "Questions",
    ]
    quote = "US-East; 2.1 PB; 150 TB"
    assert page_of(doc.pages, doc.text.index(quote)) == 3


def test_pdf_and_docx_text_and_titles(tmp_path: Path):
    write_pdf(tmp_path / "report.pdf", ["The reactor output was 42 megawatts."], title="Report")
    write_docx(tmp_path / "memo.docx", "Memo Heading", ["First paragraph here.", "Second one."])
    documents, skipped = read_all(tmp_path)
    docs = by_id(documents)
    assert skipped == []
    assert "The reactor output was 42 megawatts." in docs["report.pdf"].text
    assert docs["report.pdf"].title == "Report"
    assert docs["memo.docx"].title == "Memo Heading"
    assert docs["memo.docx"].text == "Memo Heading\n\nFirst paragraph here.\n\nSecond one."


def test_html_headings_list_items_and_table_rows_are_blocks_and_headings_sections(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><body><h2>Licence <small>terms</small></h2>The intro text"
        "<ul><li>It is free software.</li><li>Anybody can redistribute it.</li></ul>"
        "<h3>Prices</h3><table><tr><th>Plan</th><th>Price</th></tr>"
        "<tr><td>Basic</td><td>5 <script>x()</script>euros</td></tr></table>After the table."
        "</body></html>"
    )
    (document,), _ = read_all(tmp_path)
    assert document.text == (
        "Licence terms\n\nThe intro text\n\n\u2022 It is free software.\n\n"
        "\u2022 Anybody can redistribute it.\n\nPrices\n\nPlan; Price\n\nBasic; 5 euros\n\n"
        "After the table."
    )
    assert document.sections == ((0, "Licence terms"), (document.text.index("Prices"), "Prices"))


def test_a_bulleted_items_first_paragraph_gets_the_bullet_a_numbered_one_none(tmp_path):
    (tmp_path / "list.html").write_text(
        "<html><body><ul><li><p>Two outages: 14 minutes and 47 minutes</p><p>Both in May.</p>"
        "<ul><li>Inner item</li></ul></li></ul><ol><li>First step</li></ol><p>After.</p>"
        "</body></html>"
    )
    (document,), _ = read_all(tmp_path)
    assert document.text == (
        "\u2022 Two outages: 14 minutes and 47 minutes\n\nBoth in May.\n\n\u2022 Inner item"
        "\n\nFirst step\n\nAfter."
    )


def test_docx_headings_list_items_and_tables_in_document_order(tmp_path: Path):
    import docx

    word = docx.Document()
    word.add_heading("Installation", level=1)
    word.add_paragraph("Read this first.")
    word.add_paragraph("Copy the files", style="List Bullet")
    word.add_paragraph("Run the setup", style="List Number")
    table = word.add_table(rows=2, cols=3)
    for row, cells in zip(
        table.rows, [("Name", "Size", "Kind"), ("a.txt", "3 KB", "text")], strict=True
    ):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    word.add_heading("Usage", level=2)
    word.add_paragraph("Start it.")
    word.save(str(tmp_path / "guide.docx"))
    (document,), _ = read_all(tmp_path)
    assert document.text == (
        "Installation\n\nRead this first.\n\n\u2022 Copy the files\n\nRun the setup\n\n"
        "Name; Size; Kind\n\na.txt; 3 KB; text\n\nUsage\n\nStart it."
    )
    assert document.sections == ((0, "Installation"), (document.text.index("Usage"), "Usage"))
    assert document.title == "Installation"


def test_markdown_sections_point_at_their_headings(tmp_path: Path):
    text = "Intro.\n\n# First\n\nBody.\n\nSecond\n======\n\nMore.\n"
    (tmp_path / "notes.md").write_text(text, encoding="utf-8")
    (document,), _ = read_all(tmp_path)
    assert document.text == text
    assert document.sections == ((8, "First"), (text.index("Second"), "Second"))
    assert document.pages == ()


def test_nested_folders_give_relative_doc_ids_and_hidden_files_are_ignored(tmp_path: Path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "x.md").write_text("# X\n\nText.")
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.txt").write_text("secret")
    sources, skipped = scan(tmp_path)
    assert [s.doc_id for s in sources] == ["sub/deeper/x.md"]
    assert skipped == []


def test_bad_files_are_skipped_with_reasons_and_never_raise(tmp_path: Path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("   \n\n  ")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "good.txt").write_text("Fine text here.")
    documents, skipped = read_all(tmp_path)
    assert [d.doc_id for d in documents] == ["good.txt"]
    why = reasons(skipped)
    assert why["empty.txt"] == "empty file"
    assert why["blank.md"] == "no text found in file"
    assert "binary" in why["binary.txt"]
    assert "UTF-8" in why["latin1.txt"]
    assert "PDF" in why["broken.pdf"]
    assert "DOCX" in why["broken.docx"]
    assert "unsupported" in why["image.png"]


def test_oversized_files_are_skipped(tmp_path: Path):
    (tmp_path / "big.txt").write_text("word " * 1000)
    _, skipped = scan(tmp_path, max_bytes=1000)
    assert "too large" in reasons(skipped)["big.txt"]


def test_symlinks_are_followed_only_inside_the_docs_folder(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("Private text outside the docs folder.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "real.txt").write_text("Inside text.")
    os.symlink(outside, docs / "escape.txt")
    os.symlink(docs / "real.txt", docs / "alias.txt")
    sources, skipped = scan(docs)
    assert [s.doc_id for s in sources] == ["alias.txt", "real.txt"]
    assert "outside" in reasons(skipped)["escape.txt"]


def test_non_ascii_and_spaced_file_names(tmp_path: Path):
    (tmp_path / "résumé notes 2024.md").write_text("# Résumé\n\nText.")
    (source,), _ = scan(tmp_path)
    assert source.doc_id == "résumé notes 2024.md"
    assert load(source).title == "Résumé"
