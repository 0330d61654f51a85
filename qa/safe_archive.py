"""Refuse zip bombs and XML entity bombs before a parser sees the file.

In: a file's suffix and bytes, and the limits (`qa.file_budget.FileBudget`). Out: nothing when
the file is safe to hand to its parser; `UnsafeFile` (with a reason a person can act on)
when it is not.

A DOCX is a zip of XML parts. Its compressed size is what the upload limit counts, but the
parser inflates every part: 350 KB can hold 300 MB of XML. The zip's directory (`infolist`)
says each part's inflated size before anything is inflated, and `zipfile` never inflates a
part past the size its directory declares, so the check is cheap and cannot be lied to.
XML with a document type declaration can define entities that expand exponentially ("billion
laughs"); Office XML never has one, so any `<!DOCTYPE` or `<!ENTITY` in a part, or an entity
declaration in an HTML file, refuses the file (lxml, which parses them, is not asked to try).
"""

from __future__ import annotations

import io
import re
import zipfile

ZIP_SUFFIXES = frozenset((".docx", ".pptx"))
# Inflated totals under this are never refused for their ratio: small files cannot hurt.
RATIO_FLOOR_BYTES = 2 * 1024 * 1024
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
# How much of each XML part is read to look for a declaration: one must come before the root
# element, so a part's head is enough.
XML_HEAD_BYTES = 64 * 1024


class UnsafeFile(ValueError):
    """A file whose parsing would inflate or expand it past the limits; the message says why."""


def check(suffix: str, data: bytes, max_unzipped_bytes: int, max_ratio: float) -> None:
    """Raise `UnsafeFile` when a file with `suffix` holding `data` is a zip bomb (inflates to
    more than `max_unzipped_bytes`, or more than `max_ratio` times its size once past
    `RATIO_FLOOR_BYTES`) or declares XML entities; return when it is safe to parse."""
    suffix = suffix.lower()
    if suffix in ZIP_SUFFIXES:
        _check_zip(suffix, data, max_unzipped_bytes, max_ratio)
    elif suffix in (".html", ".htm") and _ENTITY.search(data):
        raise UnsafeFile("declares XML entities (an entity bomb?); refused before parsing")


def _check_zip(suffix: str, data: bytes, max_unzipped_bytes: int, max_ratio: float) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UnsafeFile(f"cannot parse {suffix[1:].upper()} file: {exc}") from exc
    with archive:
        members = archive.infolist()
        total = sum(member.file_size for member in members)
        if total > max_unzipped_bytes:
            raise UnsafeFile(
                f"unpacks to {total / 2**20:.0f} MB, over the {max_unzipped_bytes / 2**20:.0f} MB "
                "limit (a zip bomb?); raise it with QA_MAX_UNZIPPED_MB"
            )
        ratio = total / max(1, len(data))
        if total > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise UnsafeFile(
                f"unpacks to {ratio:.0f} times its size, over the {max_ratio:.0f}x limit "
                "(a zip bomb?); raise it with QA_MAX_ZIP_RATIO"
            )
        for member in members:
            if member.filename.lower().endswith((".xml", ".rels")):
                _check_xml_head(archive, member)


def _check_xml_head(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    try:
        with archive.open(member) as part:
            head = part.read(XML_HEAD_BYTES)
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError) as exc:
        raise UnsafeFile(f"cannot read part {member.filename!r}: {exc}") from exc
    if _DECLARATION.search(head):
        raise UnsafeFile(
            f"part {member.filename!r} declares a DTD or entities (an entity bomb?); "
            "refused before parsing"
        )
