"""Find the files of a docs folder and extract their plain text.

In: a docs folder. Out: `SourceFile`s (cheap: path, doc_id, sha256 of the bytes) from `scan`,
and a `Document` (plain text and title) from `load`. Files that cannot be read become
`Skipped` entries with a reason a person can act on; nothing here raises on a bad file.

For `.txt` and `.md` the text is the file's content unchanged (UTF-8, BOM dropped), so offsets
into it are offsets into the file. HTML, PDF and DOCX are reduced to their visible text, with
blocks (paragraphs, headings, list items, pages) separated by blank lines.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


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
    # Start offset in `text` of each page, in order (PDF only; pages[0] == 0): the 1-based
    # page of an offset o is `bisect.bisect_right(pages, o)` (see `qa.layout`).
    pages: tuple[int, ...] = ()
    # (start offset of a heading in `text`, its text), in text order: a quote's section is the
    # last heading starting at or before it.
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
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            return "symlink points outside the docs folder; not followed"
    if not path.is_file():
        return "not a regular file"
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    if size > max_bytes:
        return (
            f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit; "
            "raise it with QA_MAX_FILE_MB)"
        )
    return None


def load(source: SourceFile) -> Document:
    """Extract `source`'s text and title. Raises ExtractionError with a readable reason."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read file: {exc.strerror or exc}") from exc
    suffix = source.path.suffix.lower()
    try:
        extracted = _extract(suffix, data)
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


@dataclass(frozen=True)
class _Extracted:
    """What an extractor found: the text, a title if any, page starts and headings."""

    text: str
    title: str | None
    pages: tuple[int, ...] = ()
    sections: tuple[tuple[int, str], ...] = ()


def _extract(suffix: str, data: bytes) -> _Extracted:
    """Run the extractor of `suffix` on a file's bytes."""
    return _EXTRACTORS[suffix](data)


def check_content(name: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Why a file called `name` holding `data` could not be indexed (the reason `scan` or
    `load` would give), or None when it can: for uploads, checked before anything is written."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {suffix or '(none)'!r}; supported: " + ", ".join(
            SUPPORTED_SUFFIXES
        )
    if not data:
        return "empty file"
    if len(data) > max_bytes:
        return (
            f"file too large ({len(data) / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit; "
            "raise it with QA_MAX_FILE_MB)"
        )
    try:
        text = _extract(suffix, data).text
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


def _extract_txt(data: bytes) -> _Extracted:
    text = _decode_utf8(data)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    # A short first line without a sentence end reads as a title; a paragraph does not.
    looks_like_title = 0 < len(first) <= 150 and not first.endswith((".", ",", ";", ":"))
    return _Extracted(text, first if looks_like_title else None)


_MD_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_SETEXT = re.compile(r"^(?! {0,3}[-=*#>])(\S.*)\n {0,3}=+[ \t]*$", re.MULTILINE)


def _extract_md(data: bytes) -> _Extracted:
    text = _decode_utf8(data)
    headings = sorted(
        [*_MD_ATX.finditer(text), *_MD_SETEXT.finditer(text)], key=lambda m: m.start()
    )
    title = headings[0].group(1).strip() if headings else None
    sections = tuple((m.start(), m.group(1).strip()) for m in headings)
    return _Extracted(text, title, sections=sections)


# --- HTML ----------------------------------------------------------------------------------

_HTML_DROP = frozenset(
    ("script", "style", "noscript", "template", "nav", "head", "svg", "iframe", "form")
)
_HTML_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
))  # fmt: skip


def _extract_html(data: bytes) -> _Extracted:
    from bs4 import BeautifulSoup

    if b"\x00" in data[:8192]:
        raise ExtractionError("binary file (contains NUL bytes), not HTML")
    soup = BeautifulSoup(data, "lxml")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    if not title:
        heading = soup.find(["h1", "h2"])
        title = heading.get_text(" ", strip=True) if heading else None
    text = _normalize_blocks("".join(_visible_text(soup)))
    headings = [" ".join(h.get_text().split()) for h in soup.find_all(_HTML_HEADINGS)]
    return _Extracted(text, title or None, sections=_find_in_order(text, headings))


_HTML_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def _find_in_order(text: str, headings: list[str]) -> tuple[tuple[int, str], ...]:
    """(offset, heading) of each of `headings` found in `text` at a line start, searching
    from the end of the previous one; headings not found (hidden, dropped) are left out."""
    found, at = [], 0
    for heading in headings:
        if not heading:
            continue
        match = re.compile(r"(?m)^" + re.escape(heading)).search(text, at)
        if match:
            found.append((match.start(), heading))
            at = match.end()
    return tuple(found)


def _visible_text(root) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Yield the visible strings under `root`, with blank lines around block elements.

    An explicit stack instead of recursion: deeply nested HTML neither overflows Python's
    recursion limit nor goes quadratic (bs4's insert_before on every block does)."""
    from bs4 import NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    hidden_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    stack = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            yield "\n\n"
        elif isinstance(node, NavigableString):
            if not isinstance(node, hidden_strings):
                yield str(node)
        elif node.name == "br":
            yield "\n"
        elif node.name not in _HTML_DROP:
            if node.name in _HTML_BLOCKS:
                yield "\n\n"
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))


def _normalize_blocks(raw: str) -> str:
    """Collapse white space inside lines and join paragraphs with one blank line."""
    paragraphs = []
    for block in re.split(r"\n[ \t\r\f\v\u00a0]*\n", raw):
        lines = [" ".join(line.split()) for line in block.splitlines()]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


# --- PDF and DOCX --------------------------------------------------------------------------


def _extract_pdf(data: bytes) -> _Extracted:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception as exc:  # noqa: BLE001
            raise ExtractionError("PDF is encrypted") from exc
    texts = [_normalize_blocks(page.extract_text() or "") for page in reader.pages]
    text, starts = _join_pages(texts)
    title = None
    try:
        metadata = reader.metadata
        title = metadata.get("/Title") if metadata else None
    except Exception:  # noqa: BLE001 - broken metadata is not a reason to skip the text
        title = None
    return _Extracted(text, str(title) if title else None, pages=starts)


def _join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The pages' texts joined by blank lines (empty ones left out), and where each page
    starts in the result (an empty page starts where the next text does)."""
    parts: list[str] = []
    starts: list[int | None] = []
    size = 0
    for page in pages:
        starts.append(size + (2 if parts else 0) if page else None)
        if page:
            size += (2 if parts else 0) + len(page)
            parts.append(page)
    following = size  # an empty page starts where the next page's text does (or at the end)
    filled: list[int] = []
    for start in reversed(starts):
        following = start if start is not None else following
        filled.append(following)
    return "\n\n".join(parts), tuple(reversed(filled))


def _extract_docx(data: bytes) -> _Extracted:
    import docx

    document = docx.Document(io.BytesIO(data))
    paragraphs: list[str] = []
    sections: list[tuple[int, str]] = []
    size = 0  # length of "\n\n".join(paragraphs)
    title = None
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        heading = style.startswith("Heading") or style == "Title"
        if title is None and heading:
            title = text
        size += 2 if paragraphs else 0
        if heading:
            sections.append((size, text))
        paragraphs.append(text)
        size += len(text)
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            line = " | ".join(c for c in cells if c)
            if line:
                paragraphs.append(line)
    return _Extracted(
        "\n\n".join(paragraphs),
        title or document.core_properties.title or None,
        sections=tuple(sections),
    )


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
}
