"""Read a PDF's text the way a person reads it: columns in order, paragraphs whole.

In: a PDF's bytes. Out: a `PdfText` (the plain text, the start offset of each page in it, the
headings with their offsets, and a title). Built on pypdfium2 (PDFium): each glyph's box comes
from its text page, and the layout is rebuilt here from those boxes:

- a page holding form fields or free-text notes has them drawn into its content first (PDFium's
  flatten), so that a filled form's values are read with its labels;
- glyphs become lines (a new line where the baseline moves, the pen jumps back, or a thin
  upright rule stands between two glyphs: a table's cells); the file's
  spaces are kept, a gap between glyphs wider than `WORD_GAP` of their height adds one
  ("chunksize" -> "chunk size"), and a space the file did not hold (PDFium's or a gap's) is
  dropped where it splits one common word that `wordfreq` knows ("pr otocol" -> "protocol"),
  and a space PDFium adds where two glyphs stand no farther apart than the line's last two
  letters of a word is dropped (an OCR text layer's "Chin a" -> "China");
- lines at the top or bottom of a page that repeat on other pages (numbers masked) are running
  headers and footers and are dropped, as are lone page numbers there (a page's topmost or
  bottom-most line needs to repeat as an edge of one other page only: a chapter's running head);
- a two-column page is read band by band (a full-width line, such as a title or a wide figure,
  separates bands): the left column's lines, then the right column's;
- lines become blocks: a paragraph ends where the step to the next line is wider than the
  column's leading, a line is indented, or a short line ends a sentence; a heading (a numbered
  section, a larger font, a bold line over a paragraph, a short capitalized line set apart
  before one) and a list item (a bullet or a number) are blocks of their own, and headings
  are the `sections`; so is each line of a table of contents (a dot leader and a page
  number), never run together. Bold is a font heavier than the body text's: weights only
  compare within a file;
- inside a block lines are joined with a space; a hyphen at a line end is dropped when the
  joined word is an English word (`wordfreq`) or the part after it is none ("Post-greSQL"),
  kept otherwise ("data-intensive");
- a block that does not end a sentence continues across a column or page break, but prose that
  follows a line of code (monospaced from end to end, by the font's name) and starts with a
  capital starts its own ("... the command is > q()" / "At this point ...");
- a spacing accent TeX draws over a letter is put on it ("Leit ˜ ao" -> "Leitão");
- the text is NFKC-normalized (ligatures "ﬁ" -> "fi").

Blocks are separated by a blank line, which is where `qa.chunking` cuts blocks. A page
without any text layer is handed to `ocr` (Tesseract, `qa.pdf_ocr`) when one is given.
"""

from __future__ import annotations

import bisect
import ctypes
import math
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypeVar

WORD_GAP = 0.2  # of the glyph height: a wider gap between glyphs is a space
LETTER_ROOM = 0.03  # of the glyph height: PDFium's space this close to the letter gap is none
RULE_WIDTH = 2.0  # points: an upright path this thin (and a line high) is a table's rule
PARA_GAP = 0.5  # of the line height: a step this much wider than the leading ends a paragraph
MARGIN = 0.12  # of the page height: where running headers and footers live
HEADING_SIZE = 1.15  # times the body text's line height: a larger line is a heading
HEADING_WORDS = 14  # a heading has at most this many words
SET_APART_WORDS = 8  # a line alone in its block this short, before a paragraph, is a heading
FIGURE_WORDS = 4  # a block whose lines mostly have fewer words, without a sentence end, is labels
OPEN_WORDS = 8  # a block this long without a sentence end continues in the next column
COLUMN_SHARE = 0.25  # each column holds at least this share of a two-column page's lines
BOLD_STEP = 150  # a line's font this much heavier than the body text's is bold
FOOTNOTE_SIZE = 0.85  # of the body text's line height: a column's foot set smaller is notes
SIZE_TOLERANCE = 0.15  # a paragraph runs on into a column or page set this close to its size
CELL_WORDS = 6  # a table's cell has at most this many words (on one line)
ALIGN = 2.0  # points: cell edges this close are in line
TABLE_ROWS = 3  # a table has at least this many rows
WRAP_ROOM = 1.5  # of the line height: a cell's padding, beyond the next word, where a line wraps

# "3.6 Backup Tasks", "2. Consensus Protocols", "IV. RESULTS", "A.1 Proofs"
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(\.\d{1,2})*\.?|[IVX]{1,5}\.|[A-Z]\.(\d{1,2}\.?)?)\s+\S")
_BULLET = re.compile(r"^([•◦▪▫‣⁃∙·●○■□►▸➢✓✔❖\-–—*]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")
# Word's and LibreOffice's bullets in the Symbol and Wingdings fonts come out of PDFium as
# private-use characters (U+F0B7 for "•"): read as the bullets they draw.
_SYMBOL_BULLETS = str.maketrans(
    {"\uf0b7": "•", "\uf0a7": "▪", "\uf0d8": "➢", "\uf0fc": "✓", "\uf076": "❖", "\uf0a8": "◦"}
)
_SENTENCE_END = re.compile(r"[.!?:][\"'”’)\]]*$")
# A table of contents' or an index's line: a dot leader, then page numbers ("3.1 Arrays . . .
# 14", ".xls . . . . 23, 32"); a long title leaves a short leader ("... vectors . . 8").
_CONTENTS_LINE = re.compile(
    r"(?:(?:\.\s?){4,}|(?:\s\.){2,}|…{2,})\s*(\d{1,4}(?:\s?[,–-]\s?\d{1,4})*|[ivxlc]{1,6})$", re.I
)
_PAGE_NUMBER = re.compile(r"^(page\s+)?(\d{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*\d{1,4})?$", re.I)
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER_ONLY = re.compile(r"^\d{1,4}$")
# Spacing accents (as TeX's fonts draw them) and the combining marks that put them on a letter.
_COMBINING = dict(zip("\u00b4\u0060\u00a8\u02c6\u02dc\u00b8\u02da\u02c7\u02d8\u00af\u02d9",
                      "\u0301\u0300\u0308\u0302\u0303\u0327\u030a\u030c\u0306\u0304\u0307",
                      strict=True))  # fmt: skip
_SPACING_ACCENTS = frozenset(_COMBINING)
_BOLD_NAME = re.compile(r"bold|black|heavy|demi|medi|semib", re.I)  # "Helvetica-Bold", "-Medi"
# Monospaced fonts by name: "Courier", "CMTT10" and "SFTT" (TeX), "Inconsolata", "DejaVuSansMono".
_MONO_NAME = re.compile(r"mono|courier|cmtt|sftt|typewriter|inconsolata|consola|menlo|fixed", re.I)
_FILE_NAME = re.compile(r"\.(dvi|pdf|ps|tex|docx?|rtf|odt|txt|html?|indd|qxd)$", re.I)
_HYPHENS = "-\u00ad\u2010\u2011\ufffe"
_LEVEL = 0.1  # radians: a glyph turned further than this is read in its own frame
_SOFT_SPACE = "\u2063"  # while a line is built: a space PDFium or a glyph gap added, not the file
_MARKS = " *\u2217\u2020\u2021\u00a7\u00b6"  # footnote marks after a title: * ∗ † ‡ § ¶


@dataclass(frozen=True)
class PdfText:
    """A PDF's text and where its pages and headings start in it."""

    text: str
    pages: tuple[int, ...]
    sections: tuple[tuple[int, str], ...]
    title: str | None
    text_pages: int  # pages read from their text layer
    ocr_pages: int  # pages read by OCR
    scanned_pages: int  # pages of images without a text layer that were not OCRed


@dataclass
class _Line:
    """One line of glyphs on a page, in PDF points (y grows upwards)."""

    text: str
    x0: float
    x1: float
    bottom: float
    top: float
    height: float  # the first letter's (font) height: a symbol or superscript does not count
    weight: int = 400  # the font weight of its first and last glyphs (the lighter)
    mono_first: bool = False  # its first glyph is in a monospaced font
    mono_last: bool = False  # and its last
    row: bool = False  # a table's row, its cells joined by "; "
    turned: bool = False  # set at 90, 180 or 270 degrees; its box is in the text's own frame

    @property
    def mono(self) -> bool:
        """A line of code: set in a monospaced font from end to end."""
        return self.mono_first and self.mono_last


@dataclass
class _Block:
    """A paragraph, heading or list item of one page (`lines` in reading order)."""

    kind: str  # "para", "heading", "item", "figure" (a label: never continued), "contents", "row"
    # or "bold" (a bold line alone: a heading when a paragraph follows, else a para)
    lines: list[str] = field(default_factory=list)
    run_start: bool = False  # first block of a column or page: may continue the one before
    code_end: bool = False  # its last line is code (monospaced)
    foot: bool = False  # set smaller than the body text at the foot of its column: a footnote
    size: float = 0.0  # its first line's type size (height); 0.0: not known (OCR text)


Ocr = Callable[[object], str]  # a pypdfium2 page -> its text (paragraphs split by blank lines)


def extract(data: bytes, ocr: Ocr | None = None) -> PdfText:
    """The text of the PDF `data`; pages without a text layer go to `ocr` when given."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        pages: list[list[_Line] | str | None] = []
        sizes: list[tuple[float, float]] = []
        scans = 0
        for index in range(len(document)):
            page = document[index]
            try:
                if _flatten_fields(page):  # the fields' values are now the page's own text
                    page.close()
                    page = document[index]
                sizes.append((page.get_width(), page.get_height()))
                lines = _page_lines(page)
                if lines:
                    pages.append(lines)
                elif not _has_images(page):
                    pages.append(None)
                elif ocr is not None:
                    pages.append(ocr(page))
                else:
                    pages.append(None)
                    scans += 1
            finally:
                page.close()
        title = _metadata_title(document)
    finally:
        document.close()
    return _assemble(pages, sizes, title, scans)


def _flatten_fields(page) -> bool:  # type: ignore[no-untyped-def]
    """Draw the page's form fields and free-text notes into its content (PDFium's flatten), so
    that a filled form's values are read with its labels; True when the page changed and must
    be loaded again. Only pages that hold such annotations are touched."""
    import pypdfium2.raw as raw

    handle = page.raw
    kinds = set()
    for i in range(raw.FPDFPage_GetAnnotCount(handle)):
        annotation = raw.FPDFPage_GetAnnot(handle, i)
        if annotation:
            kinds.add(raw.FPDFAnnot_GetSubtype(annotation))
            raw.FPDFPage_CloseAnnot(annotation)
    if not kinds & {raw.FPDF_ANNOT_WIDGET, raw.FPDF_ANNOT_FREETEXT}:
        return False
    return bool(raw.FPDFPage_Flatten(handle, raw.FLAT_PRINT) == raw.FLATTEN_SUCCESS)


def _assemble(
    pages: list[list[_Line] | str | None],
    sizes: list[tuple[float, float]],
    title: str | None,
    scans: int,
) -> PdfText:
    """Lay out every page's lines (or OCR text) and join the pages into one text."""
    layered = [p for p in pages if isinstance(p, list)]
    furniture = _running_lines(
        layered, [s for p, s in zip(pages, sizes, strict=True) if isinstance(p, list)]
    )
    body = _body_height(layered)
    bold = _body_weight(layered) + BOLD_STEP
    writer = _Writer()
    for page, (width, height) in zip(pages, sizes, strict=True):
        writer.start_page()
        if isinstance(page, list):
            kept = _without_furniture(page, height, furniture)
            flat = _table_rows([line for line in kept if not line.turned])
            turned = _table_rows([line for line in kept if line.turned])
            runs = _reading_order(flat, width) + ([turned] if turned else [])
            writer.add(_blocks(runs, body, bold))
        elif isinstance(page, str):
            writer.add(_text_blocks(page))
    if title is None:
        title = _largest_line(layered[0], body) if layered else None
    return PdfText(
        text=writer.text(),
        pages=tuple(writer.page_starts),
        sections=tuple(writer.sections),
        title=title,
        text_pages=len(layered),
        ocr_pages=sum(isinstance(p, str) for p in pages),
        scanned_pages=scans,
    )


# --- glyphs to lines -------------------------------------------------------------------------


def _page_lines(page) -> list[_Line]:  # type: ignore[no-untyped-def]
    """The page's lines in the file's order, words spaced by the glyph gaps."""
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return []
        chars = textpage.get_text_range(0, count)
        if len(chars) != count:  # rare: PDFium left out or added characters; read one by one
            chars = "".join(chr(raw.FPDFText_GetUnicode(textpage, i) or 32) for i in range(count))
        if not chars.strip():
            return []
        return _lines_of(textpage, chars, _upright_rules(page))
    finally:
        textpage.close()


def _upright_rules(page) -> list[tuple[float, float, float]]:  # type: ignore[no-untyped-def]
    """The page's thin upright strokes, as (x, bottom, top) sorted by x: the rules a table draws
    between its cells (Chromium's and Word's borders, TeX's `|` columns). Only paths drawn on
    the page itself are looked at, not those inside a figure's form object."""
    import pypdfium2.raw as raw

    handle = page.raw
    box = [ctypes.c_float() for _ in range(4)]
    rules = []
    for i in range(raw.FPDFPage_CountObjects(handle)):
        thing = raw.FPDFPage_GetObject(handle, i)
        if raw.FPDFPageObj_GetType(thing) != raw.FPDF_PAGEOBJ_PATH:
            continue
        if not raw.FPDFPageObj_GetBounds(thing, *box):
            continue
        left, bottom, right, top = (b.value for b in box)
        if right - left <= RULE_WIDTH and top - bottom >= 3 * RULE_WIDTH:
            rules.append(((left + right) / 2, bottom, top))
    return sorted(rules)


def _crosses_rule(rules: list[tuple[float, float, float]], a: float, b: float, y: float) -> bool:
    """Whether one of `rules` stands between x = `a` and `b` at height `y`."""
    for x, bottom, top in rules[bisect.bisect_left(rules, (a,)) :]:
        if x > b:
            return False
        if bottom <= y <= top:
            return True
    return False


def _lines_of(textpage, chars: str, rules: list[tuple[float, float, float]]) -> list[_Line]:  # type: ignore[no-untyped-def]
    """Group the page's glyphs into lines and words by their boxes (PDFium's loose boxes: the
    font's height, the glyph's advance).

    A new line starts where the glyph's middle leaves the line's height, the pen jumps back
    or far ahead, or one of `rules` (`_upright_rules`) stands between it and the line. A
    ligature's second letter shares the first one's box; it stays in the word. PDFium's spaces
    (the file's, and those it adds where glyphs stand apart) are kept; a gap it missed
    ("chunksize") adds one. One loop, few helper calls (a rule is looked for only at a gap, on
    a page that has rules): it runs for every glyph."""
    import pypdfium2.raw as raw

    rect = raw.FS_RECTF()
    pointer = ctypes.byref(rect)
    get_box = raw.FPDFText_GetLooseCharBox
    get_angle = raw.FPDFText_GetCharAngle
    handle = textpage.raw
    lines: list[_Line] = []
    turned: list[tuple[int, float]] = []  # glyphs set at an angle, and the angle (asked only
    # where a line would start)
    parts: list[str] = []
    x0 = x1 = bottom = top = size = last_left = last_right = last_height = 0.0
    first = last = 0  # the indices of the line's first and last glyph
    spaced = filed = accent = False
    letter_gap = -math.inf  # the last gap between two glyphs of a word on this line
    pending: tuple[str, float] | None = None  # an accent waiting for its letter, and its middle
    for index, char in enumerate(chars):
        if char in _SPACING_ACCENTS:
            # TeX's accents sit over their letter, out of order, with PDFium's spaces around
            # them ("Leit ˜ ao"): put on the letter whose box holds the accent's middle (the
            # one before, else the next), and the glyph gaps decide the spacing there.
            spaced, accent = False, True
            if get_box(handle, index, pointer):
                over = (rect.left + rect.right) / 2
                if parts and last_left <= over <= last_right and parts[-1].isalpha():
                    parts[-1] = _accented(parts[-1], _COMBINING[char])
                else:
                    pending = (_COMBINING[char], over)
            continue
        if char.isspace() or not get_box(handle, index, pointer):
            if char == " " and not accent:
                spaced = True
                filed = filed or not raw.FPDFText_IsGenerated(handle, index)
            continue
        left, right, low, high = rect.left, rect.right, rect.bottom, rect.top
        glyph_height = high - low
        if glyph_height <= 0:
            continue
        height = glyph_height if not parts or glyph_height < last_height else last_height
        middle = (low + high) / 2
        if pending is not None:
            if char.isalpha() and left <= pending[1] <= right:
                char = _accented(char, pending[0])
            pending = None
        if (
            parts
            and bottom - 0.2 * height < middle < top + 0.2 * height
            and (left > x1 - 0.5 * height or left >= last_left - 0.1 * height)
            and left - x1 < 3 * height
            and not (rules and left > x1 and _crosses_rule(rules, x1, left, middle))
        ):
            gap = left - x1
            if (
                spaced
                and not filed
                and gap <= letter_gap + LETTER_ROOM * height
                and not (char == "." == parts[-1])  # a dot leader's dots stay apart
            ):
                spaced = False  # PDFium's space between glyphs as close as the line's letters
            if spaced or gap > WORD_GAP * height:
                parts.append(" " if filed else _SOFT_SPACE)
            else:
                letter_gap = gap
            parts.append(char)
            if right > x1:
                x1 = right
            if low < bottom:
                bottom = low
            if high > top:
                top = high
            if not size and char.isalpha():
                size = glyph_height
        else:
            angle = get_angle(handle, index)
            if abs(angle) > _LEVEL and char.isprintable():
                turned.append((index, angle))  # read in its own frame, see `_turned_lines`
                continue
            if parts:
                lines.append(_Line("".join(parts), x0, x1, bottom, top, size or top - bottom,
                                   *_font(handle, first, last)))  # fmt: skip
            parts = [char]
            first = index
            letter_gap = -math.inf
            x0, x1, bottom, top = left, right, low, high
            size = glyph_height if char.isalpha() else 0.0
        last_left, last_right, last_height = left, right, glyph_height
        last = index
        spaced = filed = accent = False
    if parts:
        lines.append(_Line("".join(parts), x0, x1, bottom, top, size or top - bottom,
                           *_font(handle, first, last)))  # fmt: skip
    if turned:
        lines += _turned_lines(textpage, chars, turned)
    return [replace(line, text=_clean_line(line.text)) for line in lines if line.text.strip()]


def _clean_line(text: str) -> str:
    """A line's text with the spaces the file did not hold mended (`_mend_spaces`) and the
    Symbol and Wingdings fonts' bullets read as the bullets they draw."""
    return _mend_spaces(text).translate(_SYMBOL_BULLETS)


def _turned_lines(textpage, chars: str, glyphs: list[tuple[int, float]]) -> list[_Line]:  # type: ignore[no-untyped-def]
    """Lines of the glyphs set at an angle (`glyphs`: each one's index and PDFium's angle; an
    arXiv stamp up the margin, a landscape table on a portrait page, a chart's axis title),
    each glyph's box turned into the frame where its
    text runs left to right; `turned` lines, in file order. A glyph continues the line before
    it when it sits on that line's baseline and not far ahead; a space the file holds between
    two glyphs, or a gap, is a space."""
    import pypdfium2.raw as raw

    rect = raw.FS_RECTF()
    lines: list[_Line] = []
    current: _Line | None = None
    previous = -1
    for index, angle in glyphs:
        if not raw.FPDFText_GetLooseCharBox(textpage.raw, index, ctypes.byref(rect)):
            continue
        quarter = round(angle / (math.pi / 2)) % 4
        left, right, low, high = _turn(quarter, rect.left, rect.right, rect.bottom, rect.top)
        height = high - low
        if height <= 0:
            continue
        char = chars[index]
        if (
            current is not None
            and current.bottom - 0.2 * height < (low + high) / 2 < current.top + 0.2 * height
            and current.x1 - 0.5 * height < left < current.x1 + 3 * height
        ):
            spaced = " " in chars[previous + 1 : index] or left - current.x1 > WORD_GAP * height
            current.text += (" " if spaced else "") + char
            current.x1 = max(current.x1, right)
        else:
            current = _Line(char, left, right, low, high, height, turned=True)
            lines.append(current)
        previous = index
    return lines


def _turn(quarter: int, left: float, right: float, low: float, high: float) -> tuple[float, ...]:
    """A glyph box (left, right, bottom, top) of text set `quarter` quarter turns clockwise
    (PDFium's angle), turned back so that the text runs left to right."""
    if quarter == 1:  # reads downwards: x' = -y, y' = x
        return -high, -low, left, right
    if quarter == 2:  # upside down
        return -right, -left, -high, -low
    if quarter == 3:  # reads upwards: x' = y, y' = -x
        return low, high, -right, -left
    return left, right, low, high


def _font(handle, first: int, last: int) -> tuple[int, bool, bool]:  # type: ignore[no-untyped-def]
    """The lighter font weight of the glyphs `first` and `last` of a text page, and whether
    each is in a monospaced font (by its name: PDFium reports no fixed-pitch flag for TeX's
    "CMTT10"). Weights are only comparable within a file: TeX's roman is 345-370 and its bold
    545-585, Times 420 and 695, but an embedded font without a weight may read 756 throughout.
    A font that has none (the standard 14: "Helvetica-Bold") is 700 when its name says bold,
    else 400."""
    (weight, mono), (other, also) = _glyph_font(handle, first), _glyph_font(handle, last)
    return min(weight, other), mono, also


def _glyph_font(handle, index: int) -> tuple[int, bool]:  # type: ignore[no-untyped-def]
    import pypdfium2.raw as raw

    buffer = ctypes.create_string_buffer(128)
    raw.FPDFText_GetFontInfo(handle, index, buffer, 128, None)
    name = buffer.value.decode("latin-1")
    weight = raw.FPDFText_GetFontWeight(handle, index)
    if weight <= 0:
        weight = 700 if _BOLD_NAME.search(name) else 400
    return int(weight), bool(_MONO_NAME.search(name))


def _accented(letter: str, mark: str) -> str:
    """`letter` with the combining `mark`, composed; TeX puts accents on a dotless i or j
    ("\\'{\\i}"), which are the dotted letters once accented."""
    return unicodedata.normalize("NFC", _UNDOTTED.get(letter, letter) + mark)


_UNDOTTED = {"\u0131": "i", "\u0237": "j"}


def _mend_spaces(text: str) -> str:
    """`text` with each space the file did not hold (PDFium's or a glyph gap's, marked
    `_SOFT_SPACE`) dropped where it splits one word ("pr otocol" -> "protocol", see
    `_splits_word`) and made a plain space elsewhere."""
    if _SOFT_SPACE not in text:
        return text
    pieces = text.split(_SOFT_SPACE)
    out = pieces[0]
    for piece in pieces[1:]:
        head = _WORD_END_LETTERS.search(out)
        tail = _WORD_START.match(piece)
        joined = head and tail and _splits_word(head.group(1), tail.group(1))
        out += piece if joined else " " + piece
    return out


def _splits_word(before: str, after: str) -> bool:
    """Whether a space between the letters `before` and the lower-case `after` splits one
    common word: joined they are one (Zipf frequency 3 or more: once in a million words) and
    one part is rare on its own (under 2). TeX's PDFs hold no spaces at all, so this decides
    between every two words there: "a n" and "the re" stay apart, "possi bility" joins."""
    if _zipf((before + after).lower()) < 3.0:
        return False
    return min(_zipf(before.lower()), _zipf(after.lower())) < 2.0


def _has_images(page) -> bool:  # type: ignore[no-untyped-def]
    import pypdfium2.raw as raw

    return any(obj.type == raw.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects(max_depth=2))


def _metadata_title(document) -> str | None:  # type: ignore[no-untyped-def]
    try:
        title = document.get_metadata_value("Title")
    except Exception:  # noqa: BLE001 - broken metadata is not a reason to skip the text
        return None
    title = " ".join(unicodedata.normalize("NFKC", title or "").split())
    if _FILE_NAME.search(title) or title.lower().startswith(("microsoft word", "untitled")):
        return None  # a file name the producing program put there ("paper.dvi")
    return title or None


# --- running headers and footers -------------------------------------------------------------


def _furniture_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _in_margin(line: _Line, height: float) -> bool:
    """Whether `line` is in the page's top or bottom margin; a turned line counts as one (a
    stamp up the side, a landscape page's number): it is dropped when it repeats or is a
    number alone."""
    return line.turned or line.bottom > height * (1 - MARGIN) or line.top < height * MARGIN


def _running_lines(pages: list[list[_Line]], sizes: list[tuple[float, float]]) -> set[str]:
    """Keys of margin lines that repeat on at least a third of the pages (and on two), and of
    a page's topmost or bottom-most margin line that is that page's edge on another page too
    (a book's running head names its chapter: "Chapter 1: Introduction" on that chapter's
    pages only)."""
    seen: Counter[str] = Counter()
    edges: Counter[str] = Counter()
    for lines, (_, height) in zip(pages, sizes, strict=True):
        margin = [line for line in lines if _in_margin(line, height)]
        seen.update({_furniture_key(line.text) for line in margin})
        flat = [line for line in lines if not line.turned]
        if margin and flat:
            outermost = (max(flat, key=lambda line: line.top),
                         min(flat, key=lambda line: line.bottom))  # fmt: skip
            edges.update(
                {_furniture_key(line.text) for line in outermost if _in_margin(line, height)}
            )
    needed = max(2, len(pages) // 3)
    return {key for key, count in seen.items() if count >= needed} | {
        key for key, count in edges.items() if count >= 2
    }


def _without_furniture(lines: list[_Line], height: float, running: set[str]) -> list[_Line]:
    """The page's `lines` without its running heads and footers (`running` keys, in the
    margins) and its page number: a number in a margin alone on its row. A number with cells
    beside it is a table's, even where its key is a page number's ("#")."""
    margin = [line for line in lines if _in_margin(line, height)]
    numbers = {id(line) for line in margin if _PAGE_NUMBER.match(line.text.strip())}
    running_here = {id(line) for line in margin if id(line) not in numbers
                    and _furniture_key(line.text) in running}  # fmt: skip
    content = [line for line in lines if id(line) not in running_here]
    return [
        line
        for line in content
        if id(line) not in numbers
        or any(other is not line and _same_row(line, other) for other in content)
    ]


def _same_row(a: _Line, b: _Line) -> bool:
    """Whether two lines stand side by side: they overlap by half the lower one's height."""
    overlap = min(a.top, b.top) - max(a.bottom, b.bottom)
    return overlap > 0.5 * min(a.top - a.bottom, b.top - b.bottom)


# --- tables ----------------------------------------------------------------------------------


def _table_rows(lines: list[_Line]) -> list[_Line]:
    """The page's `lines` with each table row made one line, "cell; cell; cell" (`row` set).

    A row is two or more short lines (cells, at most `CELL_WORDS` words) side by side; a table
    is three or more such rows one under the other, a cell edge of each in line with one of the
    row before. A cell's text may wrap onto the lines under it (see `_wraps_row`). A row does
    not reach over where a column of prose starts: side by side, two columns' short lines (a
    heading beside a paragraph's last line) are no row."""
    starts = _column_starts([line for line in lines if len(line.text.split()) > CELL_WORDS])
    cells = [line for line in lines if len(line.text.split()) <= CELL_WORDS]
    rows = [part for row in _rows_of(cells) for part in _split_at_columns(row, starts)]
    merged: dict[int, _Line] = {}
    for table in _tables(rows):
        for row in table:
            line = _row_line(row.cells)
            merged.update({id(member): line for member in row.members})
    out: list[_Line] = []
    written: set[int] = set()
    for line in lines:
        row_line = merged.get(id(line), line)
        if id(row_line) not in written:
            written.add(id(row_line))
            out.append(row_line)
    return out


@dataclass
class _TableRow:
    """A table's row: one line per cell (its whole text, wrapped lines joined), where each
    cell's last line ends, and every line of the page it took."""

    cells: list[_Line]
    ends: list[float]  # the right edge of each cell's last line
    members: list[_Line]
    last: list[_Line]  # the lines of its lowest visual row

    @classmethod
    def of(cls, cells: list[_Line]) -> _TableRow:
        return cls(list(cells), [cell.x1 for cell in cells], list(cells), list(cells))

    def cell_of(self, line: _Line) -> int | None:
        """The index of the cell whose column `line` starts in, None if none."""
        return next((i for i, cell in enumerate(self.cells) if _inside(line, cell)), None)

    def wrap(self, lines: list[_Line]) -> None:
        """Add the lines of a visual row that goes on this row's cells, each to its cell."""
        for line in lines:
            index = self.cell_of(line)
            assert index is not None  # `_wraps_row` checked
            cell = self.cells[index]
            self.cells[index] = replace(cell, text=_join_lines([cell.text, line.text]),
                                        bottom=min(cell.bottom, line.bottom))  # fmt: skip
            self.ends[index] = line.x1
        self.members += lines
        self.last = list(lines)


def _column_starts(prose: list[_Line]) -> list[float]:
    """Where the columns of `prose` lines start: an x shared (to `ALIGN`) by a quarter of the
    lines or more (a paragraph's indent is not)."""
    starts = Counter(round(line.x0 / ALIGN) for line in prose)
    return [key * ALIGN for key, count in starts.items() if count >= max(2, len(prose) / 4)]


def _split_at_columns(row: list[_Line], starts: list[float]) -> list[list[_Line]]:
    """The parts of `row` (cells left to right) that each stay inside a column of prose: a
    part ends before a cell at a column's start or beyond one."""
    parts = [[row[0]]]
    for before, cell in zip(row, row[1:], strict=False):
        if any(before.x1 < start <= cell.x0 + ALIGN for start in starts):
            parts.append([cell])
        else:
            parts[-1].append(cell)
    return parts


def _rows_of(cells: list[_Line]) -> list[list[_Line]]:
    """`cells` grouped into rows (lines side by side), top to bottom, each left to right."""
    rows: list[list[_Line]] = []
    for cell in sorted(cells, key=lambda line: -line.top):
        if rows and _same_row(rows[-1][0], cell):
            rows[-1].append(cell)
        else:
            rows.append([cell])
    return [sorted(row, key=lambda line: line.x0) for row in rows]


def _tables(rows: list[list[_Line]]) -> list[list[_TableRow]]:
    """Runs of `TABLE_ROWS` or more rows of two cells or more (`rows`: the page's visual rows,
    top to bottom), each close under the one before (within three of its lines' height) and
    with a cell edge in line with one of its cells; a visual row that wraps the row above
    (`_wraps_row`) goes on it. Two rows are too often a figure's labels side by side."""
    tables: list[list[_TableRow]] = []
    current: list[_TableRow] = []
    for row in rows:
        near = bool(current) and _continues(current[-1].last, row)
        if near and _wraps_row(current, row):
            current[-1].wrap(row)
            continue
        if len(row) < 2:
            continue  # a line alone: no row (as before a table, or between its rows)
        if near:
            current.append(_TableRow.of(row))
            continue
        if len(current) >= TABLE_ROWS:
            tables.append(current)
        current = [_TableRow.of(row)]
    if len(current) >= TABLE_ROWS:
        tables.append(current)
    return [table for table in tables if _has_words(table) and not _is_contents(table)]


def _wraps_row(table: list[_TableRow], row: list[_Line]) -> bool:
    """Whether the visual `row` holds the wrapped lines of the table's last row: no line in
    the table's first column (from its first cells' left edge to their right: an indented
    label under another is a row of its own), and each line goes on a cell of the last row
    that it starts inside, that ends in a word (numbers do not wrap), and whose last line left
    no room for the line's first word before the next column (or the table's right edge)."""
    firsts = [entry.cells[0] for entry in table]
    left, right = min(c.x0 for c in firsts) - ALIGN, max(c.x1 for c in firsts)
    edge = max(x1 for entry in table for x1 in entry.ends)
    last = table[-1]
    for line in row:
        index = last.cell_of(line)
        if left <= line.x0 <= right or index is None:
            return False
        cell = last.cells[index]
        if not cell.text.rstrip()[-1:].isalpha():
            return False
        room = (last.cells[index + 1].x0 if index + 1 < len(last.cells) else edge) - last.ends[
            index
        ]
        word = line.text.split()[0]
        width = (line.x1 - line.x0) * len(word) / max(1, len(line.text))
        if room > width + WRAP_ROOM * line.height:
            return False
    return True


def _inside(line: _Line, cell: _Line) -> bool:
    """Whether `line` starts inside the column of `cell` (its left edge to its right)."""
    return cell.x0 - ALIGN <= line.x0 <= cell.x1


def _has_words(table: list[_TableRow]) -> bool:
    """Whether most of a table's cells are more than one character: a chart's axis is read
    letter by letter ("s", "e", "c"), and its ticks beside them are no table."""
    cells = [cell.text.strip() for row in table for cell in row.cells]
    return sum(len(cell) > 1 for cell in cells) >= 0.75 * len(cells)


def _is_contents(table: list[_TableRow]) -> bool:
    """Whether a "table" is a table of contents without dot leaders: each row ends in a page
    number, and they never go down ("Introduction 21", "Seeking-assistance 22")."""
    last = [row.cells[-1].text.strip() for row in table]
    if not all(_PAGE_NUMBER_ONLY.match(cell) for cell in last):
        return False
    numbers = [int(cell) for cell in last]
    return all(a <= b for a, b in zip(numbers, numbers[1:], strict=False))


def _continues(above: list[_Line], row: list[_Line]) -> bool:
    height = max(cell.height for cell in above)
    if min(cell.bottom for cell in above) - max(cell.top for cell in row) > 3 * height:
        return False
    edges = [(c.x0, c.x1, (c.x0 + c.x1) / 2) for c in above]
    return any(
        abs(a - b) <= ALIGN
        for cell in row
        for mine in [(cell.x0, cell.x1, (cell.x0 + cell.x1) / 2)]
        for theirs in edges
        for a, b in zip(mine, theirs, strict=True)
    )


def _row_line(row: list[_Line]) -> _Line:
    """One table row as one line: its cells' text joined by "; ", its box around them all."""
    first = row[0]
    return replace(
        first,
        text="; ".join(cell.text.strip() for cell in row),
        x1=max(cell.x1 for cell in row),
        bottom=min(cell.bottom for cell in row),
        top=max(cell.top for cell in row),
        mono_last=row[-1].mono_last,
        row=True,
    )


# --- reading order ---------------------------------------------------------------------------


def _reading_order(lines: list[_Line], width: float) -> list[list[_Line]]:
    """The page's lines as runs read top to bottom: one run per column of each band. Whether
    the page has two columns is asked of its prose lines (more than `CELL_WORDS` words): a
    table's or a chart's short lines sit on both sides of a one-column page."""
    middle = width / 2
    prose = [line for line in lines if len(line.text.split()) > CELL_WORDS]
    left = [line for line in prose if line.x1 < middle + 0.02 * width]
    right = [line for line in prose if line.x0 > middle - 0.02 * width]
    two_columns = min(len(left), len(right)) >= COLUMN_SHARE * len(prose) and len(prose) >= 8
    if not two_columns:
        return [lines] if lines else []
    runs: list[list[_Line]] = []
    band: list[_Line] = []
    spanning_run = False
    for line in sorted(lines, key=lambda ln: -ln.top):
        if line.x0 < middle - 0.02 * width and line.x1 > middle + 0.02 * width:
            if not spanning_run:
                runs.extend(_columns(band, middle))
                band = []
                runs.append([])
                spanning_run = True
            runs[-1].append(line)
        else:
            band.append(line)
            spanning_run = False
    runs.extend(_columns(band, middle))
    return [run for run in runs if run]


def _columns(band: list[_Line], middle: float) -> list[list[_Line]]:
    """A band's left column, then its right one (each top to bottom)."""
    left = [line for line in band if (line.x0 + line.x1) / 2 < middle]
    right = [line for line in band if (line.x0 + line.x1) / 2 >= middle]
    return [left, right]


# --- lines to blocks -------------------------------------------------------------------------


def _body_height(pages: list[list[_Line]]) -> float:
    """The line height (rounded to half points) of most of the text: the body text's."""
    return _most_text(pages, lambda line: round(line.height * 2) / 2, 12.0)


def _body_weight(pages: list[list[_Line]]) -> int:
    """The font weight of most of the text: the body text's."""
    return _most_text(pages, lambda line: line.weight, 400)


T = TypeVar("T")


def _most_text(pages: list[list[_Line]], value: Callable[[_Line], T], default: T) -> T:
    """The `value` of the lines that hold most of the characters, `default` when none."""
    counts: Counter[T] = Counter()
    for lines in pages:
        for line in lines:
            counts[value(line)] += len(line.text)
    return counts.most_common(1)[0][0] if counts else default


def _blocks(runs: list[list[_Line]], body: float, bold: float = math.inf) -> list[_Block]:
    """Paragraphs, headings and list items of a page's runs, in order (`body`: the body text's
    line height; `bold`: the font weight from which a line is bold)."""
    blocks: list[_Block] = []
    for run in runs:
        if not run:
            continue
        left = statistics.median_low(line.x0 for line in run)
        pitch = _line_pitch(run)
        previous: _Line | None = None
        start, small = len(blocks), []  # this run's blocks, and which of its lines are small
        for index, line in enumerate(run):
            kind = _line_kind(line, body, bold)
            if previous is None:
                blocks.append(_Block(kind, run_start=True, size=line.height))
            elif _wraps(kind, blocks[-1], line, previous, body):
                if kind == "contents":
                    blocks[-1].kind = kind
            else:
                # the right edge near the line: an indented abstract has its own
                right = max(other.x1 for other in run[max(0, index - 3) : index + 2])
                if _new_block(kind, blocks[-1].kind, line, previous, left, right, pitch):
                    blocks.append(_Block(kind, size=line.height))
            blocks[-1].lines.append(line.text)
            blocks[-1].code_end = line.mono
            small.append(line.height < FOOTNOTE_SIZE * body)
            previous = line
        _mark_footnotes(blocks[start:], small)
    for block, following in zip(blocks, [*blocks[1:], None], strict=False):
        if block.kind == "bold":
            block.kind = "heading" if _opens_paragraph(following) else "para"
        elif following is not None and _set_apart_heading(block, following):
            block.kind = "heading"
    return [piece for block in blocks for piece in _split_figure_text(block)]


def _mark_footnotes(blocks: list[_Block], small: list[bool]) -> None:
    """Mark the paragraphs and items at the foot of a run (`blocks`, whose lines in order are
    `small` or not) that are set smaller than the body text: its footnotes."""
    end = len(small)
    for block in reversed(blocks):
        lines = small[end - len(block.lines) : end]
        if block.kind not in ("para", "item") or not all(lines):
            return
        block.foot = True
        end -= len(block.lines)


def _split_figure_text(block: _Block) -> list[_Block]:
    """A block of short lines without a sentence end is a figure's labels ("GFS master",
    "chunk data", ...): each line its own "figure" block, so no label run reads as prose."""
    if block.kind != "para" or len(block.lines) < 2:
        return [block]
    words = sorted(len(line.split()) for line in block.lines)
    if words[len(words) // 2] >= FIGURE_WORDS or _SENTENCE_END.search(block.lines[-1].rstrip()):
        return [block]
    return [
        _Block("figure", [line], block.run_start and i == 0, size=block.size)
        for i, line in enumerate(block.lines)
    ]


def _wraps(kind: str, block: _Block, line: _Line, previous: _Line, body: float) -> bool:
    """Whether `line` (of `kind`) goes on the heading or contents entry `block` that its
    line `previous` (just above) began: a heading's second line in the same large size ("7.18
    Why does the output from anova() depend on the" / "order of factors in the model?"), or
    the line with the dot leader after an entry's first line."""
    step = previous.top - line.top
    if not 0 < step <= 1.6 * max(line.height, previous.height) or len(block.lines) != 1:
        return False
    if kind == "contents":  # not onto an index's letter ("B" / "bzfile . . . 26")
        first = block.lines[0]
        return (
            block.kind in ("para", "heading")
            and len(first.split()) >= 3
            and not _SENTENCE_END.search(first)
        )
    return (
        block.kind == "heading"
        and kind == "para"
        and line.height > HEADING_SIZE * body
        and abs(line.height - previous.height) <= 0.5
    )


def _opens_paragraph(following: _Block | None) -> bool:
    """Whether a bold line before `following` heads it: a paragraph or list item of the same
    column that ends a sentence (a bold label in a figure is followed by more labels)."""
    return (
        following is not None
        and not following.run_start
        and following.kind in ("para", "item")
        and bool(_SENTENCE_END.search(following.lines[-1].rstrip()))
    )


def _set_apart_heading(block: _Block, following: _Block) -> bool:
    """A short capitalized line without final punctuation, alone in its block and followed by
    a paragraph of the same column ("Related Work", "ABSTRACT"): a heading in the body font."""
    if block.kind != "para" or len(block.lines) != 1 or following.run_start:
        return False
    text = block.lines[0].strip()
    words = text.split()
    return (
        0 < len(words) <= SET_APART_WORDS
        and text[:1].isupper()
        and not text.endswith((".", ",", ";", ":", "!", "?", "-"))
        and not _CAPTION.match(text)
        and following.kind == "para"
        and len(" ".join(following.lines).split()) >= 2 * OPEN_WORDS
    )


def _line_pitch(run: list[_Line]) -> float:
    """The usual distance from one line's top to the next one's in a run (its leading): the
    most common step (to half a point), the smallest of equally common ones."""
    steps: Counter[float] = Counter(
        round((a.top - b.top) * 2) / 2
        for a, b in zip(run, run[1:], strict=False)
        if 0.5 * a.height < a.top - b.top < 4 * a.height
    )
    if not steps:
        return 1.2 * max(line.height for line in run)
    return min(steps, key=lambda step: (-steps[step], step))


def _new_block(
    kind: str, current: str, line: _Line, previous: _Line, left: float, right: float, pitch: float
) -> bool:
    """Whether `line` (of `kind`) starts a block after `previous`, in a block of `current`."""
    if kind in ("item", "contents", "bold", "row") or current in ("contents", "bold", "row"):
        return True
    if kind == "heading":  # a heading set on two lines of one size stays one heading
        return (
            current != "heading"
            or abs(line.height - previous.height) > 0.5
            or (previous.bottom - line.top > PARA_GAP * line.height)
        )
    if previous.mono and not line.mono_first and line.text[:1].isupper() and line.x0 < previous.x0:
        return True  # prose back left of an indented code line: "> q()" / "At this point"
    return current == "heading" or _starts_paragraph(line, previous, left, right, pitch)


def _line_kind(line: _Line, body: float, bold: float = math.inf) -> str:
    if line.row:
        return "row"
    text = line.text.strip()
    if _CONTENTS_LINE.search(text):
        return "contents"
    words = len(text.split())
    bullet = _BULLET.match(text)
    if bullet and not bullet.group(1)[:1].isdigit():
        return "item"
    if words <= HEADING_WORDS and not text.endswith((".", ",", ";", ":", "-")):
        if line.height > HEADING_SIZE * body and _capitalized(text):
            return "heading"
        if _NUMBERED_HEADING.match(text) and _names_section(text):
            return "heading"
        if line.weight >= bold and _capitalized(text) and not bullet and text[-1] not in _HYPHENS:
            return "bold"
    return "item" if bullet else "para"


def _capitalized(text: str) -> bool:
    """Whether the first letter of `text` is a capital (a formula's "n are ..." is not)."""
    letter = next((c for c in text if c.isalpha()), "")
    return letter.isupper()


def _names_section(text: str) -> bool:
    """After its number, a heading is short or in Title Case ("2.6.1 In-Memory Data
    Structures"); a numbered list item is a sentence ("1. The client asks the master ...")."""
    words = text.split()[1:]
    if not words or not words[0][:1].isupper() or words[0].endswith(","):
        return False  # "3. BRACHA, G. An asynchronous ..." is a reference
    if sum(c.isalpha() for c in words[0]) < 3:
        return False  # "18.2 MB", "0 R": figure labels
    capitalized = sum(1 for word in words if word[:1].isupper() or not word[:1].isalpha())
    return len(words) <= 4 or capitalized >= 0.6 * len(words)


def _starts_paragraph(
    line: _Line, previous: _Line, left: float, right: float, pitch: float
) -> bool:
    """Whether `line` starts a new paragraph after `previous` (same column): the step down is
    wider than the run's usual `pitch` by `PARA_GAP` of a line, or goes up."""
    height = max(previous.height, 1.0)
    step = previous.top - line.top
    if step > pitch + PARA_GAP * height or step < 0.5 * height:
        return True
    ended = bool(_SENTENCE_END.search(previous.text.rstrip().rstrip(":")))
    if ended and line.x0 > left + 0.8 * height:
        return True  # first-line indent
    return ended and previous.x1 < right - 2.5 * height  # a short last line


def _text_blocks(text: str) -> list[_Block]:
    """Blocks of plain text (OCR output): paragraphs at blank lines, lines kept in order."""
    blocks: list[_Block] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [" ".join(line.split()) for line in paragraph.splitlines()]
        lines = [line for line in lines if line]
        if lines:
            kind = "item" if _BULLET.match(lines[0]) else "para"
            blocks.append(_Block(kind, lines, run_start=not blocks))
    return blocks


def _largest_line(lines: list[_Line], body: float) -> str | None:
    """The first page's tallest text when it is larger than the body text (its title, also
    when set on two lines)."""
    tallest = max((line.height for line in lines), default=0.0)
    if tallest <= HEADING_SIZE * body:
        return None
    first = next(i for i, line in enumerate(lines) if line.height > tallest - 0.5)
    title = [lines[first].text]
    for line in lines[first + 1 :]:
        if abs(line.height - tallest) > 0.5 or lines[first].bottom - line.top > 2 * tallest:
            break
        title.append(line.text)
    return _join_lines(title).rstrip(_MARKS)[:300] or None


# --- blocks to text --------------------------------------------------------------------------


class _Writer:
    """Appends blocks to the text, joining a paragraph across column and page breaks when it
    has not ended a sentence, and records page starts and headings."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.page_starts: list[int] = []
        self.sections: list[tuple[int, str]] = []
        self.open = False  # the last paragraph written has not ended its sentence
        self.open_size = 0.0  # the type size of the last paragraph written
        self.code_end = False  # and its last line was code
        self.pending_page = False
        self.waiting: list[_Block] = []  # figure text waiting for an open paragraph's end

    def start_page(self) -> None:
        """Begin a page: it starts at its first block (a page without any, where it is)."""
        self.finish()
        self.pending_page = True

    def finish(self) -> None:
        if self.pending_page:
            self.page_starts.append(self.length)
            self.pending_page = False

    def add(self, blocks: Iterable[_Block]) -> None:
        """Write a page's blocks. While a paragraph is open, figure text and captions at the
        top of the next column, and footnotes at the foot of its own, wait until the
        paragraph's continuation is written; those at the end of a page (a turned chart's
        labels) wait for the next page's."""
        waiting = self.waiting
        for block in blocks:
            if self.open and (block.foot or ((block.run_start or waiting) and _is_float(block))):
                waiting.append(block)
                continue
            if waiting:
                block.run_start = True
            self._write(block)
            self._write_floats(waiting)
        if not self.open:
            self._write_floats(waiting)

    def _same_size(self, block: _Block) -> bool:
        """Whether `block` is set in the open paragraph's type size (to `SIZE_TOLERANCE`; a
        size not known matches): a sentence does not run on into a figure's smaller labels."""
        if not block.size or not self.open_size:
            return True
        return abs(block.size - self.open_size) <= SIZE_TOLERANCE * self.open_size

    def _write_floats(self, waiting: list[_Block]) -> None:
        """Write the figure text that waited; it ends any open paragraph."""
        if waiting:
            self.open = False
            for figure in waiting:
                self._write(figure)
            self.open = False
            waiting.clear()

    def text(self) -> str:
        self._write_floats(self.waiting)
        self.finish()
        return "".join(self.parts)

    def _write(self, block: _Block) -> None:
        body = _join_lines(block.lines)
        if not body:
            return
        # Prose after a line of code goes on the sentence only when it starts in lower case.
        if (self.open and block.kind == "para" and block.run_start and self._same_size(block)
                and not (self.code_end and body[:1].isupper())):  # fmt: skip
            separator = "" if self._hyphen_joins(body) else " "
            if separator == "":
                self._drop_hyphen()
        else:
            separator = "\n\n" if self.length else ""
            self.open_size = block.size
        self._emit(separator)
        if self.pending_page:
            self.page_starts.append(self.length)
            self.pending_page = False
        if block.kind == "heading":
            self.sections.append((self.length, body.rstrip(_MARKS)))
        self._emit(body)
        self.open = (
            block.kind in ("para", "item")
            and len(body.split()) >= OPEN_WORDS
            and not _SENTENCE_END.search(body)
        )
        self.code_end = block.code_end

    def _hyphen_joins(self, following: str) -> bool:
        last = self.parts[-1] if self.parts else ""
        return _joins_word(last, following)

    def _drop_hyphen(self) -> None:
        last = self.parts[-1]
        self.parts[-1] = last[:-1]
        self.length -= 1

    def _emit(self, piece: str) -> None:
        if piece:
            self.parts.append(piece)
            self.length += len(piece)


_CAPTION = re.compile(r"^(Figure|Fig\.|Table|Algorithm|Listing|Chart)\s*\d+", re.I)


def _is_float(block: _Block) -> bool:
    """A figure's caption or its labels, a table's row: text that may sit between a
    paragraph's two halves."""
    if block.kind in ("figure", "row"):
        return True
    if block.kind == "heading" and _NUMBERED_HEADING.match(block.lines[0]):
        return False
    if _CAPTION.match(block.lines[0]):
        return True
    short = all(len(line.split()) < OPEN_WORDS for line in block.lines)
    return short and not block.lines[-1].rstrip().endswith((".", "!", "?"))


def _join_lines(lines: list[str]) -> str:
    """One block's lines as one line: hyphenated words joined, NFKC-normalized."""
    text = ""
    for raw_line in lines:
        line = unicodedata.normalize("NFKC", raw_line.replace("\ufffe", "-")).strip()
        line = " ".join(line.split())
        if not line:
            continue
        if not text:
            text = line
        elif _joins_word(text, line):
            text = text[:-1] + line
        elif text[-1] in _HYPHENS and text[-2:-1].isalpha() and line[:1].isalpha():
            text = text[:-1] + "-" + line  # "data-" + "intensive": a compound keeps its hyphen
        else:
            text = text + " " + line
    return text


_WORD_END = re.compile(r"([A-Za-z]+)-$")
_WORD_END_LETTERS = re.compile(r"([A-Za-z]+)$")
_WORD_START = re.compile(r"^([a-z][A-Za-z]*)")


def _joins_word(before: str, after: str) -> bool:
    """Whether `before` ends in a hyphenated word part that `after` completes: the joined word
    is English ("man-" + "agement"), or the part after the break is no word on its own and
    starts in lower case, so the hyphen split one name ("Post-" + "greSQL"). A compound of two
    words that is not one word keeps its hyphen ("data-" + "intensive")."""
    head = _WORD_END.search(before)
    tail = _WORD_START.match(after)
    if not head or not tail:
        return False
    return _is_word((head.group(1) + tail.group(1)).lower()) or not _is_word(tail.group(1).lower())


def _is_word(word: str) -> bool:
    return _zipf(word) > 1.0


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    """How common the English `word` is (`wordfreq`'s Zipf scale: 0 unknown, 3 once in a
    million words), remembered: the same words come back on every line."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))
