"""Small builders for test documents (PDF and DOCX) so tests need no binary fixtures, and
`require_system_tool` for tests that need a program pip cannot install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def require_system_tool(present: bool, message: str) -> None:
    """Skip the test when a system program it needs is missing, saying how to install it;
    under CI (`CI` set, where `.ci/run` installs it) fail instead, so it is never silently
    skipped there."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def write_pdf(path: Path, lines: list[str], title: str | None = None) -> None:
    """Write a one-page PDF whose text layer holds `lines` (Helvetica, ASCII only)."""
    write_paged_pdf(path, [lines], title)


def write_docx(path: Path, heading: str, paragraphs: list[str]) -> None:
    """Write a DOCX with one heading and some body paragraphs."""
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def write_pptx(path: Path) -> None:
    """Write a deck: a title slide; bullets (one a level in, one set without a bullet) with
    speaker notes; a table and a text box grouped with a shape; an empty slide; a last one."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = "Q3 Platform Review"
    title.placeholders[1].text = "Storage team, October 2026"
    risks = deck.slides.add_slide(deck.slide_layouts[1])
    risks.shapes.title.text = "Risks"
    body = risks.placeholders[1].text_frame
    body.text = "Vendor support for the old tape library ends in March 2027"
    inner = body.add_paragraph()
    inner.text, inner.level = "Mitigation: move cold data to object storage by February", 1
    plain = body.add_paragraph()
    plain.text = "Owner: the storage team"
    plain._p.get_or_add_pPr().insert(0, plain._p.makeelement(
        "{http://schemas.openxmlformats.org/drawingml/2006/main}buNone", {}))  # fmt: skip
    risks.notes_slide.notes_text_frame.text = "Say that the tape contract was signed in 2019."
    capacity = deck.slides.add_slide(deck.slide_layouts[5])
    capacity.shapes.title.text = "Capacity by region"
    group = capacity.shapes.add_group_shape()
    note = group.shapes.add_textbox(Inches(1), Inches(5.5), Inches(6), Inches(1))
    note.text_frame.text = "Figures as of 30 September."
    rows = [
        ("Region", "Used", "Free"),
        ("EU-West", "1.2 PB", "300 TB"),
        ("US-East", "2.1 PB", "150 TB"),
    ]
    table = capacity.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: no text
    last = deck.slides.add_slide(deck.slide_layouts[1])
    last.shapes.title.text = "Questions"
    deck.save(str(path))


LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


def _rewrite_docx_part(path: Path, part: str, data: bytes) -> None:
    """Replace `part` of the DOCX at `path` with `data` (deflated)."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in parts.items():
            out.writestr(name, content)


def write_zip_bomb_docx(path: Path, megabytes: int) -> None:
    """A valid DOCX whose document part inflates to `megabytes` MB of empty paragraphs."""
    write_docx(path, "Bomb", ["It looks small."])
    body = b"<w:p/>" * (megabytes * 1024 * 1024 // 6)
    namespace = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    xml = b"<w:document " + namespace + b"><w:body>" + body + b"</w:body></w:document>"
    _rewrite_docx_part(path, "word/document.xml", xml)


def write_entity_bomb_docx(path: Path) -> None:
    """A DOCX whose document part is a "billion laughs" entity bomb."""
    write_docx(path, "Laughs", ["It looks small."])
    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    xml = LAUGHS + f"<w:document {namespace}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
    _rewrite_docx_part(path, "word/document.xml", (xml + "</w:body></w:document>").encode())


def entity_bomb_html() -> str:
    """An HTML file with a "billion laughs" internal subset."""
    return LAUGHS.replace("lolz", "html") + "<html><body><p>&lol9;</p></body></html>"


def write_paged_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> None:
    """Write a PDF of `len(pages)` pages, page i's text layer holding the lines `pages[i]`
    (Helvetica, ASCII only; an empty list makes a page without text), titled `title` in its
    document information when given."""
    count = len(pages)
    page_refs = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (page_refs.encode(), count),
    ]
    for i, lines in enumerate(pages):
        body = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            body.append(f"({escaped}) Tj T*")
        stream = "\n".join([*body, "ET"]).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body_bytes in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body_bytes + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info,
        xref,
    )
    path.write_bytes(bytes(out))
