"""Layout repairs of `qa.pdf_text` on small PDFs the tests draw with reportlab."""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import documents, pdf_ocr, pdf_text
from tests.support.helpers import require_system_tool

PAGE_W, PAGE_H = 612, 792
LEFT, RIGHT = (72, 300), (320, 548)  # the columns' x ranges
FONT = 10
LEADING = 12

LEFT_TEXT = [
    "3.6 Backup Tasks",
    "One of the common causes that lengthens the total",
    "time is a straggler: a machine that takes an un-",
    "usually long time to complete one of the last few",
    "map or reduce tasks in the computation and",
]
RIGHT_TEXT = [
    "delays the whole operation by many minutes.",
    "The master schedules backup executions of the",
    "remaining in-progress tasks when the operation",
    "is close to completion.",
    "",
    "\u2022 It is free software for everyone.",
    "\u2022 Anybody can redistribute the library under",
    "the terms of the license.",
]


@dataclass(frozen=True)
class Row:
    """One line of a test page: its text (empty: a blank line), font, size and indent."""

    text: str
    font: str = "Helvetica"
    size: float = FONT
    indent: float = 0.0


def _draw_rows(canvas, y: float, rows: list[Row]) -> None:  # type: ignore[no-untyped-def]
    """`rows` down the left column from `y`, each line's leading in proportion to its size."""
    for row in rows:
        if row.text:
            canvas.setFont(row.font, row.size)
            canvas.drawString(LEFT[0] + row.indent, y, row.text)
        y -= LEADING * row.size / FONT


def _rows_pdf(rows: list[Row]) -> bytes:
    """A one-page PDF of `rows` down the left column from the top."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    _draw_rows(canvas, PAGE_H - 100, rows)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw_lines(canvas, x: float, y: float, lines: list[str], font: str = "Helvetica") -> None:  # type: ignore[no-untyped-def]
    for line in lines:
        if line:
            canvas.setFont(font, FONT)
            canvas.drawString(x, y, line)
        y -= LEADING


def two_column_pdf(pages: int = 3) -> bytes:
    """`pages` pages: a running header and footer with the page number, and the same two
    columns on each (a numbered heading, a hyphenated line end, a sentence that runs from the
    left column into the right one, and a bullet list)."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    for number in range(1, pages + 1):
        canvas.setFont("Helvetica", 8)
        canvas.drawString(LEFT[0], PAGE_H - 40, "Journal of Repeated Headers, Volume 7")
        canvas.drawString(PAGE_W / 2, 40, f"{number}")
        canvas.drawString(LEFT[0], 40, "To appear in OSDI 2006")
        _draw_lines(canvas, LEFT[0], PAGE_H - 100, LEFT_TEXT)
        _draw_lines(canvas, RIGHT[0], PAGE_H - 100, RIGHT_TEXT)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_two_columns_read_left_then_right_and_the_sentence_runs_across():
    text = pdf_text.extract(two_column_pdf()).text
    assert (
        "One of the common causes that lengthens the total time is a straggler: a machine that "
        "takes an unusually long time to complete one of the last few map or reduce tasks in "
        "the computation and delays the whole operation by many minutes."
    ) in text


def test_running_header_footer_and_page_numbers_are_dropped():
    text = pdf_text.extract(two_column_pdf()).text
    assert "Journal of Repeated" not in text
    assert "OSDI" not in text
    assert "\n\n2\n\n" not in text and not text.rstrip().endswith("3")


def test_hyphenated_line_end_is_joined_when_the_word_is_a_word():
    text = pdf_text.extract(two_column_pdf(1)).text
    assert "unusually" in text and "un-" not in text
    assert "in-progress" in text  # a compound inside a line keeps its hyphen


@pytest.mark.parametrize(
    ("before", "after", "joined"),
    [
        ("takes an un-", "usually long time", True),  # the joined word is a word
        ("benchmark using Post-", "greSQL and SPECweb99", True),  # "greSQL" is no word alone
        ("for data-", "intensive applications", False),  # a compound of two words
        ("a peer-to-", "peer overlay", False),
        ("the Push-", "Lazy-Push tree", False),  # a capital after the break: a compound name
        ("section 3-", "4 shows", False),  # not letters
    ],
)
def test_a_line_end_hyphen_is_dropped_only_inside_one_word(before, after, joined):
    assert pdf_text._joins_word(before, after) is joined


def gapped_pdf(gap: float) -> bytes:
    """One line: "the pr" and "otocol works." drawn apart by `gap` points (no space in the
    file), then "the pr otocol" with a space the file holds."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Helvetica", FONT)
    canvas.drawString(LEFT[0], 700, "the pr")
    after = LEFT[0] + stringWidth("the pr", "Helvetica", FONT) + gap
    canvas.drawString(after, 700, "otocol works.")
    canvas.drawString(LEFT[0], 680, "Then the pr otocol failed.")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@pytest.mark.parametrize("gap", [0.5, 2.5, 4.0])
def test_a_space_the_file_does_not_hold_is_dropped_inside_a_word(gap):
    # PDFium adds a space from a 2.5 pt gap on, the glyph-gap rule from about 2.3 pt: both
    # are dropped where they split a word; the file's own space is kept.
    text = pdf_text.extract(gapped_pdf(gap)).text
    assert "the protocol works." in text
    assert "Then the pr otocol failed." in text


def ocr_layer_pdf(spacing: float) -> bytes:
    """One line as some OCR engines lay out their text layer: the letters `spacing` points
    apart, each word's last letter in a text object of its own at that same spacing, the words
    6 pt apart (no spaces in the file)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    x = LEFT[0]
    for word in ["The", "People's", "Republic", "of", "China", "ships", "from", "Shanghai."]:
        for piece in (word[:-1], word[-1]):
            text = canvas.beginText(x, 700)
            text.setFont("Helvetica", FONT)
            text.setCharSpace(spacing)
            text.textOut(piece)
            canvas.drawText(text)
            x += stringWidth(piece, "Helvetica", FONT) + spacing * len(piece)
        x += 6.0
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@pytest.mark.parametrize("spacing", [1.5, 2.0])
def test_a_space_pdfium_adds_between_glyphs_as_close_as_the_letters_is_dropped(spacing):
    # From about 1.5 pt PDFium adds a space before each last letter ("Chin a", "o f"), though
    # the glyphs stand as close as the word's other letters; the 6 pt word gaps stay spaces.
    text = pdf_text.extract(ocr_layer_pdf(spacing)).text
    assert "The People's Republic of China ships from Shanghai." in text


@pytest.mark.parametrize(
    ("before", "after", "splits"),
    [
        ("pr", "otocol", True),
        ("possi", "bility", True),
        ("data", "base", False),  # two words: the space may be meant
        ("the", "re", False),
        ("xq", "zzv", False),  # joined, no word either
    ],
)
def test_a_space_splits_a_word_only_when_a_part_is_no_word(before, after, splits):
    assert pdf_text._splits_word(before, after) is splits


def accents_pdf() -> bytes:
    """ "João Leitão wrote to Gödel." drawn as TeX draws accents: a spacing accent glyph over
    its letter, drawn before the letter (ã in João) or after it (ã in Leitão, ö)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as pdfcanvas

    def width(text: str) -> float:
        return stringWidth(text, "Times-Roman", FONT)

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Times-Roman", FONT)
    x, y = float(LEFT[0]), 700.0
    for before, letter, accent, accent_first in [
        ("Jo", "a", "\u02dc", True), ("o Leit", "a", "\u02dc", False),
        ("o wrote to G", "o", "\u00a8", False),
    ]:  # fmt: skip
        canvas.drawString(x, y, before)
        x += width(before)
        over = x + (width(letter) - width(accent)) / 2
        for text, at in [(accent, over), (letter, x)][:: 1 if accent_first else -1]:
            canvas.drawString(at, y, text)
        x += width(letter)
    canvas.drawString(x, y, "del.")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_tex_accents_are_put_on_their_letters():
    assert pdf_text.extract(accents_pdf()).text == "João Leitão wrote to Gödel."
    assert pdf_text._accented("\u0131", "\u0301") == "í"  # TeX's \'{\i}: a dotless i


def test_numbered_heading_is_its_own_block_and_a_section():
    result = pdf_text.extract(two_column_pdf(2))
    assert result.text.startswith("3.6 Backup Tasks\n\nOne of the common causes")
    assert [name for _, name in result.sections] == ["3.6 Backup Tasks"] * 2
    for start, name in result.sections:
        assert result.text[start : start + len(name)] == name


def test_bullet_items_are_blocks_and_wrapped_items_are_joined():
    text = pdf_text.extract(two_column_pdf(1)).text
    assert "\n\n\u2022 It is free software for everyone.\n\n" in text
    assert "\u2022 Anybody can redistribute the library under the terms of the license." in text


def test_pages_are_page_start_offsets():
    result = pdf_text.extract(two_column_pdf(3))
    assert len(result.pages) == 3 and result.pages[0] == 0
    second = result.text.index("3.6 Backup Tasks", 1)
    assert bisect.bisect_right(result.pages, second) == 2
    assert bisect.bisect_right(result.pages, second - 1) == 1


def _font_with_ligatures() -> str:
    path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not path.exists():
        pytest.skip("DejaVu Sans (Debian fonts-dejavu-core) is needed to draw a ligature")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVu", str(path)))
    return "DejaVu"


def test_ligatures_are_normalized():
    from reportlab.pdfgen import canvas as pdfcanvas

    font = _font_with_ligatures()
    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont(font, 12)
    canvas.drawString(72, 700, "The \ufb01le system is speci\ufb01ed \ufb01ve times.")
    canvas.save()
    assert pdf_text.extract(out.getvalue()).text == "The file system is specified five times."


def test_missing_space_is_restored_from_the_glyph_gap():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 700, "chunk")  # no space character: the pen moves on by 3 points
    canvas.drawString(72 + canvas.stringWidth("chunk", "Helvetica", 12) + 3, 700, "size matters.")
    canvas.save()
    assert pdf_text.extract(out.getvalue()).text == "chunk size matters."


def filled_form_pdf() -> bytes:
    """A form: three labels drawn on the page, each with a filled text field beside it."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 720, "Application for a parking permit")
    fields = [("Name:", "Margaret Hamilton"), ("Vehicle:", "KX61 VHD"), ("Zone:", "Riverside")]
    for i, (label, value) in enumerate(fields):
        y = 690 - 30 * i
        canvas.drawString(72, y, label)
        canvas.acroForm.textfield(
            name=f"field{i}", value=value, x=160, y=y - 6, width=250, height=18, borderWidth=0
        )
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_a_filled_forms_values_are_read_after_their_labels():
    text = pdf_text.extract(filled_form_pdf()).text
    pieces = ("Name:", "Margaret Hamilton", "Vehicle:", "KX61 VHD", "Zone:", "Riverside")
    order = [text.find(piece) for piece in pieces]
    assert -1 not in order and order == sorted(order), text


def scanned_pdf() -> bytes:
    """A one-page PDF holding only an image of a text page (drawn, rendered, wrapped)."""
    import pypdfium2 as pdfium
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Helvetica", 16)
    canvas.drawString(72, 700, "The reactor output was forty megawatts.")
    canvas.save()
    page = pdfium.PdfDocument(out.getvalue())[0]
    image = page.render(scale=200 / 72, grayscale=True).to_pil()
    scan = io.BytesIO()
    image.save(scan, format="PDF", resolution=200)
    return scan.getvalue()


def test_a_scan_without_ocr_is_skipped_with_the_reason(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(pdf_ocr, "available", lambda: False)
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    docs, skipped = documents.read_all(tmp_path)
    assert docs == []
    assert [(s.path, s.reason) for s in skipped] == [
        ("scan.pdf", "scanned PDF: no text layer (install the ocr extra)")
    ]


@pytest.mark.parametrize(("user", "readable"), [("secret", False), ("", True)])
def test_a_pdf_that_needs_a_password_is_skipped_with_the_reason(tmp_path: Path, user, readable):
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    lock = StandardEncryption(user, ownerPassword="owner", canPrint=0)
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H), encrypt=lock)
    _draw_lines(canvas, LEFT[0], 700, ["The report is kept under lock and key."])
    canvas.save()
    (tmp_path / "locked.pdf").write_bytes(out.getvalue())
    docs, skipped = documents.read_all(tmp_path)
    if readable:  # only an owner password: it opens, as in any reader
        assert [d.text for d in docs] == ["The report is kept under lock and key."]
    else:
        assert docs == []
        assert [(s.path, s.reason) for s in skipped] == [("locked.pdf", documents.ENCRYPTED_PDF)]


def test_a_scanned_page_is_read_by_ocr_and_text_pages_are_kept(tmp_path: Path):
    require_system_tool(pdf_ocr.available(), "OCR needs `pip install .[ocr]` and tesseract-ocr")
    import pypdfium2 as pdfium

    mixed = pdfium.PdfDocument(two_column_pdf(1))
    mixed.import_pages(pdfium.PdfDocument(scanned_pdf()))
    out = io.BytesIO()
    mixed.save(out)
    (tmp_path / "mixed.pdf").write_bytes(out.getvalue())
    (document,), _ = documents.read_all(tmp_path)
    assert "3.6 Backup Tasks" in document.text
    assert "The reactor output was forty megawatts." in document.text
    assert len(document.pages) == 2
    assert document.text.index("reactor") >= document.pages[1]


def test_an_upload_check_of_a_scan_does_not_run_ocr(monkeypatch):
    """The check of an upload only asks whether OCR could read the scan; the build reads it."""

    def refuse(page):  # type: ignore[no-untyped-def]
        raise AssertionError("OCR ran during the check")

    monkeypatch.setattr(pdf_ocr, "ocr_page", refuse)
    monkeypatch.setattr(pdf_ocr, "available", lambda: True)
    assert documents.parse_check(".pdf", scanned_pdf()) is None
    monkeypatch.setattr(pdf_ocr, "available", lambda: False)
    assert documents.parse_check(".pdf", scanned_pdf()) == (
        "scanned PDF: no text layer (install the ocr extra)"
    )
    assert documents.parse_check(".pdf", two_column_pdf(1)) is None


def test_larger_font_and_set_apart_lines_are_headings():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(72, 720, "A Study of Lock Services")
    body = [
        "Related Work",
        "",
        "Earlier systems kept their locks in memory and lost them",
        "whenever the server restarted, which made recovery slow.",
    ]
    _draw_lines(canvas, 72, 680, body)
    canvas.save()
    result = pdf_text.extract(out.getvalue())
    assert result.text.startswith("A Study of Lock Services\n\nRelated Work\n\nEarlier systems")
    assert [name for _, name in result.sections] == ["A Study of Lock Services", "Related Work"]
    assert result.title == "A Study of Lock Services"


def test_a_caption_at_the_top_of_the_next_column_waits_for_the_sentence_to_end():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    left = [
        "The master keeps all file system metadata, which",
        "includes the namespace and the",
    ] * 4
    left[-1] = "current locations of each chunk and the"
    right = [
        "Figure 1: Architecture",
        "",
        "mapping from files to chunks, and it answers the",
        "clients that ask for them.",
    ]
    right += ["Each line here is filler text for the column."] * 6
    _draw_lines(canvas, LEFT[0], PAGE_H - 100, left)
    _draw_lines(canvas, RIGHT[0], PAGE_H - 100, right)
    canvas.save()
    text = pdf_text.extract(out.getvalue()).text
    assert (
        "each chunk and the mapping from files to chunks, and it answers the clients that ask "
        "for them.\n\nFigure 1: Architecture\n\nEach line"
    ) in text


def test_figure_labels_are_lines_of_their_own_not_a_paragraph():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    labels = ["GFS master", "File namespace", "chunk data", "Linux file system"]
    _draw_lines(canvas, 72, 700, [*labels, "", "Figure 1: GFS Architecture"])
    canvas.save()
    text = pdf_text.extract(out.getvalue()).text
    assert text == "\n\n".join([*labels, "Figure 1: GFS Architecture"])


def book_pdf(chapters: int = 4, pages_each: int = 3) -> bytes:  # at most 4 chapters
    """A book: a contents page with dot leaders, then chapters of `pages_each` pages, each page
    under its chapter's running head (so a head repeats on a few of the many pages) with a
    page number, and a body paragraph at the top margin's edge."""
    from reportlab.pdfgen import canvas as pdfcanvas

    names = ["Introduction", "Simple manipulations", "Reading data", "Graphical procedures"]
    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    contents = [f"{n} Chapter title number {n} " + ". " * 30 + f"{2 + (n - 1) * pages_each}"
                for n in range(1, chapters + 1)]  # fmt: skip
    _draw_lines(canvas, LEFT[0], PAGE_H - 100, ["Table of Contents", "", *contents])
    canvas.showPage()
    page = 2
    for chapter in range(1, chapters + 1):
        for part in range(pages_each):
            canvas.setFont("Helvetica", 8)
            canvas.drawString(LEFT[0], PAGE_H - 50, f"Chapter {chapter}: {names[chapter - 1]}")
            canvas.drawString(PAGE_W - 100, PAGE_H - 50, f"{page}")
            _draw_lines(canvas, LEFT[0], PAGE_H - 100, [
                f"The body of chapter {chapter} goes on with part {part} of its text,",
                "and this sentence ends on its second line.",
            ])  # fmt: skip
            canvas.showPage()
            page += 1
    canvas.save()
    return out.getvalue()


def test_a_chapter_running_head_on_a_few_pages_is_dropped():
    text = pdf_text.extract(book_pdf()).text
    assert "Chapter 2: Simple" not in text and "Reading data" not in text
    assert text.count("and this sentence ends on its second line.") == 12
    assert "The body of chapter 2 goes on with part 1 of its text, and this sentence" in text


def test_contents_lines_are_blocks_of_their_own_and_never_quoted():
    from qa.sentence_kinds import quotable

    text = pdf_text.extract(book_pdf()).text
    lines = [block for block in text.split("\n\n") if "Chapter title number" in block]
    assert len(lines) == 4 and all(line.endswith(tuple("0123456789")) for line in lines)
    assert all("\n" not in line and line.count("Chapter title number") == 1 for line in lines)
    assert not any(quotable(line) for line in lines)


def test_a_page_holding_only_its_running_header_and_number_is_read_as_empty():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    for number in range(1, 5):
        canvas.setFont("Helvetica", 8)
        canvas.drawString(LEFT[0], PAGE_H - 40, "Journal of Repeated Headers, Volume 7")
        canvas.drawString(PAGE_W / 2, 40, f"{number}")
        if number != 2:  # page 2: furniture only
            _draw_lines(canvas, LEFT[0], PAGE_H - 100, LEFT_TEXT)
        canvas.showPage()
    canvas.save()
    read = pdf_text.extract(out.getvalue())
    assert read.text.count("One of the common causes") == 3 and "Journal" not in read.text
    assert len(read.pages) == 4


def bold_headings_pdf() -> bytes:
    """A reference page: bold section names in the body's size ("Description", "Value"), each
    over a short paragraph, and a bold label among figure labels."""
    return _rows_pdf([
        Row("Description", "Helvetica-Bold"),
        Row("rev provides a reversed version of its argument."),
        Row("Value", "Helvetica-Bold"),
        Row("A vector of the same length and type as its argument,"),
        Row("with its elements in the opposite order."),
        Row(""),
        Row("GFS master", "Helvetica-Bold"),
        Row("chunk data"),
        Row("Linux file system"),
    ])  # fmt: skip


def test_a_bold_line_over_a_paragraph_is_a_heading_and_a_bold_label_is_not():
    read = pdf_text.extract(bold_headings_pdf())
    blocks = read.text.split("\n\n")
    assert blocks[:4] == [
        "Description",
        "rev provides a reversed version of its argument.",
        "Value",
        "A vector of the same length and type as its argument, with its elements in the "
        "opposite order.",
    ]
    assert [name for _, name in read.sections] == ["Description", "Value"]


def wrapped_entries_pdf() -> bytes:
    """A contents entry and a large heading each set on two lines, then index lines listing
    several pages, one under an index letter."""
    return _rows_pdf([
        Row("7.18 Why does the output from anova() depend on the"),
        Row("order of factors in the model? " + ". " * 20 + "33"),
        Row("7.19 How do I produce PNG graphics in batch mode? " + ". " * 12 + "34"),
        Row(""),
        Row("2.7 Index vectors; selecting and modifying subsets of a data", size=14),
        Row("set", size=14),
        Row("Subsets of the elements of a vector may be selected by appending an"),
        Row("index vector in square brackets to the name of the vector."),
        Row(""),
        Row("B"),
        Row("bzfile " + ". " * 20 + "26"),
        Row("cat " + ". " * 22 + "4, 27"),
        Row("close " + ". " * 21 + "22, 26"),
    ])  # fmt: skip


def test_an_entry_or_a_heading_set_on_two_lines_stays_one_and_index_lines_stay_apart():
    read = pdf_text.extract(wrapped_entries_pdf())
    blocks = read.text.split("\n\n")
    assert blocks[0].startswith(
        "7.18 Why does the output from anova() depend on the order of factors in the model? ."
    )
    assert blocks[1].startswith("7.19 How do I") and blocks[1].endswith("34")
    assert "2.7 Index vectors; selecting and modifying subsets of a data set" in blocks
    assert [name for _, name in read.sections] == [
        "2.7 Index vectors; selecting and modifying subsets of a data set"
    ]
    assert blocks[3].startswith("Subsets of the elements")
    assert [b.split()[0] for b in blocks[4:]] == ["B", "bzfile", "cat", "close"]


def code_display_pdf() -> bytes:
    """Prose with an indented line of code (Courier) inside a sentence, then prose back at the
    margin; a line of code at a page's foot, the prose going on at the next page's head."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    _draw_rows(canvas, PAGE_H - 100, [
        Row("3. Work in the folder you made for the data files."),
        Row("4. To get help on a function the command is"),
        Row("> help(solve)", "Courier", indent=40),
        Row("An alternative is the question mark before the name."),
    ])  # fmt: skip
    canvas.setFont("Helvetica", FONT)
    canvas.drawString(LEFT[0], 100, "5. To quit the R program the command is")
    canvas.setFont("Courier", FONT)
    canvas.drawString(LEFT[0] + 40, 88, "> q()")
    canvas.showPage()
    canvas.setFont("Helvetica", FONT)
    canvas.drawString(LEFT[0], PAGE_H - 100, "At this point you will be asked whether to save.")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_prose_after_a_line_of_code_starts_its_own_sentence_even_across_a_page():
    blocks = pdf_text.extract(code_display_pdf()).text.split("\n\n")
    assert "4. To get help on a function the command is > help(solve)" in blocks
    assert "An alternative is the question mark before the name." in blocks
    assert "5. To quit the R program the command is > q()" in blocks
    assert "At this point you will be asked whether to save." in blocks


def _draw_table(canvas, x: float, y: float, rows: list[tuple[str, ...]], size: float = 7) -> None:  # type: ignore[no-untyped-def]
    """`rows` from `y` down, a row every 9 points: the first cell at `x`, the others ending 130
    and 200 points further (right-aligned, as numbers are)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for row in rows:
        canvas.setFont("Helvetica", size)
        canvas.drawString(x, y, row[0])
        for right, cell in zip((x + 130, x + 200), row[1:], strict=False):
            canvas.drawString(right - stringWidth(cell, "Helvetica", size), y, cell)
        y -= 9


TABLE = [
    ("Cluster", "A", "B"),
    ("Chunkservers", "342", "227"),
    ("Available disk space", "72 TB", "180 TB"),
    ("Number of Files", "735 k", "737 k"),
]


def table_pdf() -> bytes:
    """Two pages of two columns of prose; at the top of the first page's right column, in the
    page's top margin, a table under a caption; a short heading in the left column beside the
    table's first rows; page numbers (so a bare number in a margin repeats as running text)."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    prose = ["The clusters store many files for the teams and"] * 3
    prose += ["for production work."]
    _draw_lines(canvas, LEFT[0], PAGE_H - 50, ["6.2 Storage", "", *prose * 6])
    _draw_table(canvas, RIGHT[0] + 20, PAGE_H - 50, TABLE)
    _draw_lines(canvas, RIGHT[0], PAGE_H - 100, ["Table 2: Two clusters", "", *prose * 6])
    for number in ("7", "8"):
        canvas.setFont("Helvetica", 8)
        canvas.drawString(PAGE_W / 2, 40, number)  # the page number: alone on its row
        canvas.showPage()
        _draw_lines(canvas, LEFT[0], PAGE_H - 100, prose * 6)
    canvas.save()
    return out.getvalue()


def test_a_table_is_read_row_by_row_and_its_numbers_are_kept_in_the_margin():
    text = pdf_text.extract(table_pdf()).text
    rows = "\n\n".join("; ".join(row) for row in TABLE)
    assert rows + "\n\nTable 2: Two clusters" in text
    assert "\n\n6.2 Storage\n\n" in f"\n\n{text}"  # the heading beside the table: no cell
    assert "\n\n7\n\n" not in text and not text.rstrip().endswith("8")


def ruled_table_pdf(rules: bool) -> bytes:
    """A paragraph, then a table whose cells stand one word gap apart (as a browser prints an
    HTML table), with upright rules between the cells when `rules`, then a paragraph inside a
    box (its frame is no rule: it is as wide as the text)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    _draw_lines(canvas, LEFT[0], 700, ["The museum moved twice in its history."])
    rows = [("Year", "Event", "Place"), ("1901", "Founded", "Paris"), ("1950", "Moved", "Lyon")]
    rows += [("1999", "Closed", "Nice")]
    gap = stringWidth(" ", "Helvetica", FONT)
    widths = [max(stringWidth(row[i], "Helvetica", FONT) for row in rows) for i in range(3)]
    y = 670
    canvas.setFont("Helvetica", FONT)
    canvas.setLineWidth(0.75)
    for row in rows:
        x = LEFT[0]
        for i, cell in enumerate(row):
            canvas.drawString(x, y, cell)
            x += widths[i] + gap
            if rules and i < 2:
                canvas.line(x - gap / 2, y - 3, x - gap / 2, y + FONT)
        y -= 16
    canvas.rect(LEFT[0] - 4, 560, 300, 30)
    _draw_lines(canvas, LEFT[0], 575, ["A box holds this sentence about the museum."])
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_a_tables_rules_part_its_cells():
    ruled = pdf_text.extract(ruled_table_pdf(rules=True)).text
    for row in ("Year; Event; Place", "1901; Founded; Paris", "1999; Closed; Nice"):
        assert row in ruled
    assert "A box holds this sentence about the museum." in ruled
    plain = pdf_text.extract(ruled_table_pdf(rules=False)).text
    assert "1901 Founded Paris" in plain  # one word gap apart, without rules: one line


def test_two_rows_of_labels_side_by_side_are_no_table():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    _draw_table(canvas, 72, 700, [("GFS client", "chunk 2ef0"), ("GFS master", "chunk 2ef1")])
    canvas.save()
    assert "; " not in pdf_text.extract(out.getvalue()).text


def stamped_pdf() -> bytes:
    """A two-column page with an arXiv-style stamp set up the left margin (turned 90 degrees)
    and a landscape table's rows set down the right margin (turned 270 degrees)."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    for x in (LEFT[0], RIGHT[0]):
        _draw_lines(canvas, x, PAGE_H - 100, (LEFT_TEXT[1:] + RIGHT_TEXT[:4]) * 4)
    canvas.saveState()
    canvas.translate(40, 250)
    canvas.rotate(90)
    canvas.setFont("Helvetica", 16)
    canvas.drawString(0, 0, "arXiv:1706.03762v7 [cs.CL] 2 Aug 2023")
    canvas.restoreState()
    canvas.saveState()
    canvas.translate(PAGE_W - 30, 500)
    canvas.rotate(-90)
    _draw_table(canvas, 0, 0, TABLE)
    canvas.restoreState()
    canvas.save()
    return out.getvalue()


def test_turned_text_is_read_along_its_lines_and_keeps_out_of_the_columns():
    text = pdf_text.extract(stamped_pdf()).text
    blocks = text.split("\n\n")
    assert "arXiv:1706.03762v7 [cs.CL] 2 Aug 2023" in blocks
    assert "\n\n".join("; ".join(row) for row in TABLE) in text  # the landscape table's rows
    sentence = (
        "One of the common causes that lengthens the total time is a straggler: a machine that "
        "takes an unusually long time to complete one of the last few map or reduce tasks in "
        "the computation and delays the whole operation by many minutes."
    )
    assert text.count(sentence) == 8  # no stamp letter inside the columns' sentences
    assert all(len(block) > 1 for block in blocks)


def footnote_pdf() -> bytes:
    """Two columns: the left one ends inside a sentence above two footnotes in a smaller font;
    the right one goes on with the sentence and ends inside another above a figure's small
    label, which the next page goes on with."""
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    left = ["The master keeps all file system metadata, which"] * 20
    left[-1] = "includes the current locations of the"
    _draw_lines(canvas, LEFT[0], PAGE_H - 100, left)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(LEFT[0], 100, "1 The master also logs every change to an operation log.")
    canvas.drawString(LEFT[0], 92, "2 Chunk locations are not stored persistently.")
    right = ["replicas of each chunk, which it learns from the", "chunkservers at start-up."]
    right += ["Each line here is filler text for the column."] * 12
    _draw_lines(canvas, RIGHT[0], PAGE_H - 100, right + ["The master keeps them fresh by"])
    canvas.setFont("Helvetica", 7)
    canvas.drawString(RIGHT[0], 120, "Legend: chunk handle and byte range")
    canvas.showPage()
    _draw_lines(canvas, LEFT[0], PAGE_H - 100, ["regular HeartBeat messages to the servers."])
    canvas.save()
    return out.getvalue()


def test_a_sentence_runs_past_footnotes_and_not_into_smaller_figure_text():
    text = pdf_text.extract(footnote_pdf()).text
    assert (
        "includes the current locations of the replicas of each chunk, which it learns from the "
        "chunkservers at start-up."
    ) in text
    assert "The master keeps them fresh by regular HeartBeat messages to the servers." in text
    notes = "1 The master also logs every change to an operation log.\n\n2 Chunk locations"
    assert notes in text
    assert text.endswith("servers.\n\nLegend: chunk handle and byte range")  # waited its turn


def test_a_one_column_page_with_short_lines_on_both_sides_is_not_read_as_two_columns():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    prose = ["A paragraph across the page keeps its lines in order, one after the other, and"]
    prose += ["its short lines, set apart by"]
    for i in range(12):  # a chart's labels on both sides: short lines, out of line (no table)
        canvas.setFont("Helvetica", FONT)
        canvas.drawString(72 + 7 * i, 700 - 12 * i, f"label {i}")
        canvas.drawString(400 + 9 * i, 700 - 12 * i, f"{i} units")
    _draw_lines(canvas, 72, 540, [*prose, "no stop"])
    canvas.save()
    text = pdf_text.extract(out.getvalue()).text
    assert "one after the other, and its short lines, set apart by no stop" in text


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("\uf0b7 A power failure took the cluster offline.", "• A power failure took"),
        ("\uf0a7 Second level", "▪ Second level"),
        ("\uf0fc Done", "✓ Done"),
    ],
)
def test_word_and_libreoffice_symbol_bullets_read_as_bullets(raw, read):
    # Word's and LibreOffice's exports draw bullets in the Symbol or Wingdings font, which
    # PDFium reports as private-use characters (seen in a LibreOffice 7.4 export of a DOCX).
    line = pdf_text._clean_line(raw)
    assert line.startswith(read)
    assert pdf_text._line_kind(pdf_text._Line(line, 72, 300, 700, 710, 10), 10) == "item"


def _draw_cells(canvas, y: float, rows: list[list[str]], width: float = 130) -> None:  # type: ignore[no-untyped-def]
    """A table as a word processor sets it: columns `width` apart, each cell's text wrapped
    greedily inside them (5 points of padding a side), its lines at the text's leading, the
    next row under the row's longest cell (no padding between rows)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for row in rows:
        height = 1
        for column, cell in enumerate(row):
            lines: list[str] = []
            for word in cell.split():
                line = f"{lines[-1]} {word}" if lines else word
                if lines and stringWidth(line, "Helvetica", FONT) <= width - 10:
                    lines[-1] = line
                else:
                    lines.append(word)
            _draw_lines(canvas, 77 + column * width, y, lines)
            height = max(height, len(lines))
        y -= LEADING * height


def test_a_cell_wrapped_onto_lines_under_it_stays_in_its_row():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    rows = [
        ["Date", "Cause", "Fix"],
        ["12 March", "A power failure at the Cirrus site took the whole cluster offline",
         "Second power feed installed"],
        ["3 July", "A faulty network switch slowed reads on Borealis", "Switch replaced"],
    ]  # fmt: skip
    _draw_cells(canvas, 700, rows)
    _draw_lines(canvas, 72, 580, ["No incident lost customer data."])
    canvas.save()
    text = pdf_text.extract(out.getvalue()).text
    assert text.split("\n\n") == ["; ".join(row) for row in rows] + [
        "No incident lost customer data."
    ]


def test_a_row_with_an_empty_first_cell_is_a_row_of_its_own():
    from reportlab.pdfgen import canvas as pdfcanvas

    out = io.BytesIO()
    canvas = pdfcanvas.Canvas(out, pagesize=(PAGE_W, PAGE_H))
    rows = [["Region", "City", "Sales"], ["North", "Oslo", "12"], ["", "Bergen", "8"],
            ["South", "Rome", "20"]]  # fmt: skip
    _draw_cells(canvas, 700, rows)
    canvas.save()
    assert pdf_text.extract(out.getvalue()).text.split("\n\n") == [
        "; ".join(cell for cell in row if cell) for row in rows
    ]
