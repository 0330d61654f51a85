"""Find the files of a docs folder and extract their plain text.

In: a docs folder. Out: `SourceFile`s (cheap: path, doc_id, sha256 of the bytes) from `scan`,
and a `Document` (plain text and title) from `load`. Files that cannot be read become
`Skipped` entries with a reason a person can act on; nothing here raises on a bad file.

For `.txt` and `.md` the text is the file's content unchanged (UTF-8, BOM dropped), so offsets
into it are offsets into the file. HTML, PDF, DOCX and PPTX are reduced to their visible text,
with blocks (paragraphs, headings, list items, table rows as "cell; cell; cell") separated by
blank lines. PDFs are laid out by `qa.pdf_text` (columns, running headers, hyphenation; pages
without a text layer OCRed by `qa.pdf_ocr` when the `ocr` extra is installed). A `Document`
also says where each PDF page or PPTX slide starts (`pages`) and where headings start
(`sections`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa import safe_archive
from qa.file_budget import FileBudget

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# The revision of each format's text reader. Raise it when the text read from the same file
# changes: an index re-reads that format's documents on its next refresh (`qa.indexer`). A
# format not named here is at revision 1, as is every format of an index that records none.
# .pdf 2 (0.3.0): stray spaces, accents, chapter heads, bold headings, contents and index lines.
# .pdf 3: table rows ("cell; cell; cell"); a number in a margin is a page number only alone;
# text set at an angle read along its lines; sentences run past footnotes; two columns are
# judged by prose lines.
# .pdf 4: an OCR layer's split last letters join ("Chin a" -> "China"); form fields' values.
# .pdf 5: thin upright rules part a table's cells.
# .html/.htm/.docx 2: bulleted items start with "• ".
READER_REVISIONS: dict[str, int] = {".pdf": 5, ".html": 2, ".htm": 2, ".docx": 2}

MB = 1024 * 1024  # one unit everywhere: QA_MAX_FILE_MB, messages and the library page
_BULLET = "\u2022 "  # before a bulleted item (HTML's <ul>, Word's bullet styles, a slide's body)


def megabytes(size: int, decimals: int = 0) -> str:
    """`size` bytes in MB (1024 x 1024 bytes), without a trailing `.0`: 20, 20.5."""
    text = f"{size / MB:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def too_large(size: int, max_bytes: int) -> str:
    """Why a file of `size` bytes is refused (1 MB = 1024 x 1024 bytes)."""
    found, limit = f"{megabytes(size, 1)} MB", f"{megabytes(max_bytes, 1)} MB"
    if found == limit:  # just over: the rounded figures would read alike
        found, limit = f"{size:,} bytes", f"{limit} ({max_bytes:,} bytes)"
    return f"file too large: {found}, the limit is {limit} a file (QA_MAX_FILE_MB)"


@dataclass(frozen=True)
class SourceFile:
    """A file found in the docs folder, identified by its path relative to that folder."""

    doc_id: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class Document:
    """A document's plain text: every offset elsewhere in the product points into `text`."""

    doc_id: str
    title: str
    text: str
    sha256: str
    # PDF only: the start offset in `text` of each page (pages[0] == 0); the 1-based page of
    # offset o is bisect.bisect_right(pages, o).
    pages: tuple[int, ...] = ()
    # (start offset in `text`, heading) of each heading in text order (PDF, DOCX, HTML,
    # Markdown): a quote's section is the last heading starting at or before it.
    sections: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Extracted:
    """What an extractor returns: the text, a title if the file names one, and (for formats
    that have them) page starts and headings, as in `Document`."""

    text: str
    title: str | None
    pages: tuple[int, ...] = ()
    sections: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    path: str
    reason: str


class ExtractionError(Exception):
    """A file's text could not be extracted; the message says why."""


def scan(
    docs_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[SourceFile], list[Skipped]]:
    """List the supported files under `docs_dir` (recursively, sorted by doc_id).

    Hidden files and folders are ignored. Symlinks are followed only when they resolve to a
    place inside `docs_dir`. Oversized, unreadable and unsupported files are returned as skipped.
    """
    root = docs_dir.resolve()
    found: list[SourceFile] = []
    skipped: list[Skipped] = []
    for path in _walk(root):
        doc_id = path.relative_to(root).as_posix()
        problem = _check_file(root, path, max_bytes)
        if problem:
            skipped.append(Skipped(doc_id, problem))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            skipped.append(Skipped(doc_id, f"cannot read file: {exc.strerror or exc}"))
            continue
        found.append(SourceFile(doc_id, path, hashlib.sha256(data).hexdigest(), len(data)))
    found.sort(key=lambda f: f.doc_id)
    skipped.sort(key=lambda s: s.path)
    return found, skipped


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _check_file(root: Path, path: Path, max_bytes: int) -> str | None:
    """Return why `path` cannot be indexed, or None when it can."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {path.suffix or '(none)'!r}; supported: " + ", ".join(
            SUPPORTED_SUFFIXES
        )
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if not target.is_relative_to(root):
                return "symlink points outside the docs folder; not followed"
        if not path.is_file():
            return "not a regular file"
        size = path.stat().st_size
    except RuntimeError:  # Python 3.11's Path.resolve on a loop
        return "cannot follow symlink: it loops"
    except OSError as exc:  # a loop, a dangling link, a vanished file
        return f"cannot follow or read file: {exc.strerror or exc}"
    if size == 0:
        return "empty file"
    if size > max_bytes:
        return too_large(size, max_bytes)
    return None


def load(source: SourceFile, budget: FileBudget | None = None) -> Document:
    """Extract `source`'s text and title. Raises ExtractionError with a readable reason: also
    when the file changed since `scan` read it (its text would not match its sha256), and
    when it is a zip or entity bomb by `budget`'s limits (default: `FileBudget.from_env()`)."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read file: {exc.strerror or exc}") from exc
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise ExtractionError("file changed while the index was built; the next build reads it")
    suffix = source.path.suffix.lower()
    extract = _EXTRACTORS[suffix]
    try:
        check_safe(suffix, data, budget)
        extracted = extract(data)
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party parsers raise anything on bad input
        raise ExtractionError(f"cannot parse {suffix[1:].upper()} file: {exc}") from exc
    if not extracted.text.strip():
        raise ExtractionError("no text found in file")
    return Document(
        doc_id=source.doc_id,
        title=(extracted.title or _title_from_name(source.path)).strip()[:300],
        text=extracted.text,
        sha256=source.sha256,
        pages=extracted.pages,
        sections=extracted.sections,
    )


def check_safe(suffix: str, data: bytes, budget: FileBudget | None = None) -> None:
    """Raise ExtractionError when `data` (a file with `suffix`) is a zip bomb or declares XML
    entities, by `budget`'s limits (default: `FileBudget.from_env()`); see `qa.safe_archive`."""
    budget = budget or FileBudget.from_env()
    try:
        safe_archive.check(suffix, data, budget.unzipped_bytes, budget.zip_ratio)
    except safe_archive.UnsafeFile as exc:
        raise ExtractionError(str(exc)) from exc


def precheck(
    name: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, budget: FileBudget | None = None
) -> str | None:
    """Why a file called `name` holding `data` could not be indexed, as far as this process
    can tell without a parser: its type, size, a zip or entity bomb (by `budget`, default
    `FileBudget.from_env()`), and for plain text its decoding. None: no reason found (HTML,
    PDF and DOCX still need parsing: `qa.file_worker.check_content` does it in a worker)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {suffix or '(none)'!r}; supported: " + ", ".join(
            SUPPORTED_SUFFIXES
        )
    if not data:
        return "empty file"
    if len(data) > max_bytes:
        return too_large(len(data), max_bytes)
    budget = budget or FileBudget.from_env()
    try:
        check_safe(suffix, data, budget)
    except ExtractionError as exc:
        return str(exc)
    if suffix in PLAIN_SUFFIXES:
        return parse_check(suffix, data)
    return None


PLAIN_SUFFIXES = (".txt", ".md", ".markdown")  # decoded, not parsed: checked in process


def parse_check(suffix: str, data: bytes) -> str | None:
    """Why `data` (a file with `suffix`) has no text to index once parsed, or None. A scanned
    PDF page counts as text when OCR can read it, without reading it here (seconds a page):
    the build OCRs it, once."""
    extract = _check_pdf if suffix == ".pdf" else _EXTRACTORS[suffix]
    try:
        text = extract(data).text
    except ExtractionError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - third-party parsers raise anything on bad input
        return f"cannot parse {suffix[1:].upper()} file: {exc}"
    return None if text.strip() else "no text found in file"


def read_all(
    docs_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Document], list[Skipped]]:
    """Scan and load every document of `docs_dir`; convenience for tests and evaluation."""
    sources, skipped = scan(docs_dir, max_bytes)
    documents = []
    for source in sources:
        try:
            documents.append(load(source))
        except ExtractionError as exc:
            skipped.append(Skipped(source.doc_id, str(exc)))
    return documents, skipped


# --- plain text and markdown ---------------------------------------------------------------


def _decode_utf8(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ExtractionError("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExtractionError(
            f"not valid UTF-8 (bad byte at offset {exc.start}); save the file as UTF-8"
        ) from exc
    return text.removeprefix("\ufeff")


def _extract_txt(data: bytes) -> Extracted:
    text = _decode_utf8(data)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    # A short first line without a sentence end reads as a title; a paragraph does not.
    looks_like_title = 0 < len(first) <= 150 and not first.endswith((".", ",", ";", ":"))
    return Extracted(text, first if looks_like_title else None)


_MD_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_SETEXT = re.compile(r"^(?! {0,3}[-=*#>])(\S.*)\n {0,3}=+[ \t]*$", re.MULTILINE)


def _extract_md(data: bytes) -> Extracted:
    text = _decode_utf8(data)
    headings = [m for m in (_MD_ATX.search(text), _MD_SETEXT.search(text)) if m]
    first = min(headings, key=lambda m: m.start()) if headings else None
    found = sorted(
        (m.start(), m.group(1).strip())
        for pattern in (_MD_ATX, _MD_SETEXT)
        for m in pattern.finditer(text)
    )
    return Extracted(text, first.group(1).strip() if first else None, sections=tuple(found))


def _from_blocks(blocks: list[tuple[str, bool]]) -> tuple[str, tuple[tuple[int, str], ...]]:
    """Blocks (text, is a heading) joined by blank lines, and the headings' offsets."""
    parts: list[str] = []
    sections: list[tuple[int, str]] = []
    length = 0
    for text, heading in blocks:
        if parts:
            parts.append("\n\n")
            length += 2
        if heading:
            sections.append((length, text))
        parts.append(text)
        length += len(text)
    return "".join(parts), tuple(sections)


# --- HTML ----------------------------------------------------------------------------------

_HTML_DROP = frozenset(
    ("script", "style", "noscript", "template", "nav", "head", "svg", "iframe", "form")
)
_HTML_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
))  # fmt: skip
_HTML_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


def _extract_html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    if b"\x00" in data[:8192]:
        raise ExtractionError("binary file (contains NUL bytes), not HTML")
    soup = BeautifulSoup(data, "lxml")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    if not title:
        heading = soup.find(["h1", "h2"])
        title = heading.get_text(" ", strip=True) if heading else None
    text, sections = _from_blocks(_html_blocks(soup))
    return Extracted(text, title or None, sections=sections)


def _html_blocks(root) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """The visible text under `root` as blocks (text, is a heading): block elements start and
    end blocks; a heading is one block; a table row is one block, its cells joined by "; "; an
    item of a bulleted list (`<ul>`) starts with "• ", as the page shows it.

    An explicit stack instead of recursion: deeply nested HTML neither overflows Python's
    recursion limit nor goes quadratic."""
    from bs4 import NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    hidden_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    blocks: list[tuple[str, bool]] = []
    pending: list[str] = []
    bullet = False  # an item of a <ul> opened: its first paragraph gets "• "

    def flush() -> None:
        nonlocal bullet
        paragraphs = _paragraphs("".join(pending))
        if paragraphs and bullet:
            paragraphs[0], bullet = _BULLET + paragraphs[0], False
        blocks.extend((paragraph, False) for paragraph in paragraphs)
        pending.clear()

    stack = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            flush()
        elif isinstance(node, NavigableString):
            if not isinstance(node, hidden_strings):
                pending.append(str(node))
        elif node.name == "br":
            pending.append("\n")
        elif node.name in _HTML_DROP:
            continue
        elif node.name in _HTML_HEADINGS or node.name == "tr":
            flush()
            line = _html_line(node)
            if line:
                blocks.append((line, node.name != "tr"))
        else:
            if node.name in _HTML_BLOCKS:
                flush()
                bullet = bullet or (node.name == "li" and node.parent.name == "ul")
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return blocks


def _html_line(node) -> str:  # type: ignore[no-untyped-def]
    """A heading's text on one line, or a table row's cells as "cell; cell; cell"."""
    if node.name != "tr":
        return _one_line(_html_visible(node))
    cells = [
        _one_line(_html_visible(cell)) for cell in node.find_all(["td", "th"], recursive=False)
    ]
    return "; ".join(cell for cell in cells if cell)


def _html_visible(node) -> str:  # type: ignore[no-untyped-def]
    """The text of an element, without the strings of dropped elements (scripts, styles);
    an explicit stack, so deep nesting costs linear time."""
    from bs4 import NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    hidden_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    pieces: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, NavigableString):
            if not isinstance(current, hidden_strings):
                pieces.append(str(current))
        elif current.name not in _HTML_DROP:
            stack.extend(reversed(current.contents))
    return " ".join(pieces)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(raw: str) -> list[str]:
    """Paragraphs of `raw` (split at blank lines), white space collapsed inside lines."""
    paragraphs = []
    for block in re.split(r"\n[ \t\r\f\v\u00a0]*\n", raw):
        lines = [" ".join(line.split()) for line in block.splitlines()]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return paragraphs


# --- PDF and DOCX --------------------------------------------------------------------------

SCANNED_PDF = "scanned PDF: no text layer (install the ocr extra)"
ENCRYPTED_PDF = "PDF is encrypted: it opens only with a password (add a copy saved without one)"


def _extract_pdf(data: bytes, ocr_later: bool = False) -> Extracted:
    """The PDF's text; pages without a text layer OCRed when the `ocr` extra is installed
    (with `ocr_later`: a placeholder line stands for each, for checks)."""
    from pypdfium2 import PdfiumError

    from qa import pdf_ocr, pdf_text

    ocr = (_ocr_placeholder if ocr_later else pdf_ocr.ocr_page) if pdf_ocr.available() else None
    try:
        result = pdf_text.extract(data, ocr)
    except PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError(ENCRYPTED_PDF) from exc
        raise
    if not result.text.strip() and result.scanned_pages:
        raise ExtractionError(SCANNED_PDF)
    return Extracted(result.text, result.title, result.pages, result.sections)


def _check_pdf(data: bytes) -> Extracted:
    """`_extract_pdf` without running OCR: what `parse_check` needs to know."""
    return _extract_pdf(data, ocr_later=True)


def _ocr_placeholder(page) -> str:  # type: ignore[no-untyped-def]
    return "(a scanned page, read by OCR when indexed)"


def _extract_docx(data: bytes) -> Extracted:
    """Paragraphs, list items (a bulleted style's with "• ") and table rows ("cell; cell;
    cell") in document order, each its own block; headings (Heading n and Title styles) also
    go to the sections."""
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    blocks: list[tuple[str, bool]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend((row, False) for row in _office_rows(item))
            continue
        text = _one_line(item.text)
        if text:
            style = (item.style.name if item.style is not None else "") or ""
            bullet = _BULLET if "Bullet" in style else ""  # "List Bullet", "List Bullet 2"
            blocks.append((bullet + text, style.startswith("Heading") or style == "Title"))
    text, sections = _from_blocks(blocks)
    title = sections[0][1] if sections else None
    return Extracted(text, title or document.core_properties.title or None, sections=sections)


def _office_rows(table) -> list[str]:  # type: ignore[no-untyped-def]
    """A Word or PowerPoint table's rows as "cell; cell; cell" (a merged cell once)."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = _one_line(cell.text)
            if text:
                cells.append(text)
        if cells:
            rows.append("; ".join(cells))
    return rows


# --- PPTX ----------------------------------------------------------------------------------


def _extract_pptx(data: bytes) -> Extracted:
    """Each slide in order, each its own page: its title (a heading, and a section), the text
    of its shapes top to bottom, then left to right (a body paragraph as a list item, "• "
    before it, as the slide shows it; a table row by row, "cell; cell; cell"), then its
    speaker notes. The document's title is the file's, else the first slide's."""
    import pptx

    deck = pptx.Presentation(io.BytesIO(data))
    blocks: list[tuple[str, bool]] = []
    firsts: list[int] = []  # the index of each slide's first block
    for slide in deck.slides:
        firsts.append(len(blocks))
        for shape in sorted(_slide_shapes(slide.shapes), key=_position):
            blocks.extend(_shape_blocks(shape))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.paragraphs
            blocks.extend((text, False) for text in (_one_line(_runs(p)) for p in notes) if text)
    text, sections = _from_blocks(blocks)
    starts = _block_starts(blocks, len(text))
    title = deck.core_properties.title or (sections[0][1] if sections else None)
    return Extracted(text, title, tuple(starts[i] for i in firsts), sections)


def _slide_shapes(shapes) -> Iterator:  # type: ignore[no-untyped-def]
    """The shapes of a slide, those inside groups too."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _slide_shapes(shape.shapes)
        else:
            yield shape


def _position(shape) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return (shape.top or 0, shape.left or 0)


def _shape_blocks(shape) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """One shape's blocks: a title is a heading; a table gives its rows."""
    if getattr(shape, "has_table", False) and shape.has_table:
        return [(row, False) for row in _office_rows(shape.table)]
    if not shape.has_text_frame:
        return []
    from pptx.enum.shapes import PP_PLACEHOLDER

    kind = shape.placeholder_format.type if shape.is_placeholder else None
    if kind in (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE):
        text = _one_line(" ".join(_runs(p) for p in shape.text_frame.paragraphs))
        return [(text, True)] if text else []
    listed = kind in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)  # shown with bullets
    blocks = []
    for paragraph in shape.text_frame.paragraphs:
        text = _one_line(_runs(paragraph))
        if text:
            blocks.append((_bullet_of(paragraph, listed) + text, False))
    return blocks


def _runs(paragraph) -> str:  # type: ignore[no-untyped-def]
    """A paragraph's text (runs, line breaks as spaces)."""
    return paragraph.text.replace("\v", " ")


def _bullet_of(paragraph, listed: bool) -> str:  # type: ignore[no-untyped-def]
    """The bullet a slide shows before `paragraph`: the one it names, none where it says so,
    else a body placeholder's ("• ", "– " one level in)."""
    properties = paragraph._p.pPr
    if properties is not None:
        for child in properties:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "buNone":
                return ""
            if tag == "buChar" and child.get("char"):
                return child.get("char") + " "
    if not listed:
        return ""
    return _BULLET if paragraph.level == 0 else "\u2013 "


def _block_starts(blocks: list[tuple[str, bool]], end: int) -> list[int]:
    """Where each of `blocks` starts in `_from_blocks`' text, and `end` after the last (the
    start of a slide without text)."""
    starts, length = [], 0
    for text, _ in blocks:
        starts.append(length)
        length += len(text) + 2
    return [*starts, end]


def reader_revision(suffix: str) -> int:
    """The revision of the text reader of files ending in `suffix` (see `READER_REVISIONS`)."""
    return READER_REVISIONS.get(suffix.lower(), 1)


def reader_revisions() -> dict[str, int]:
    """Every supported suffix's reader revision: what an index records when it is written."""
    return {suffix: reader_revision(suffix) for suffix in SUPPORTED_SUFFIXES}


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.name


_EXTRACTORS = {
    ".txt": _extract_txt,
    ".md": _extract_md,
    ".markdown": _extract_md,
    ".html": _extract_html,
    ".htm": _extract_html,
    ".pdf": _extract_pdf,
    ".docx": _extract_docx,
    ".pptx": _extract_pptx,
}
