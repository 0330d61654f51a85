"""What the library shows: the documents of the index in use, filtered, sorted and formatted.

In: the service (its current index snapshot, the last rebuild's report, the indexing times)
and the list's options (text to look for, sort, direction). Out: `read_library(service)` (a
`Library`: one `LibraryEntry` per indexed document with its title, type, size, chunks and
when it was indexed; the files skipped at the last rebuild; the index's figures),
`select(entries, text, sort, descending)` (the page or the API's slice of it, `SORTS` the
orders it knows; names in natural order: 2 before 10) and, for the page, `when(seconds)`,
`size_text(size)` and `megabytes(size)`. One unit everywhere: 1 KB = 1024 bytes, 1 MB =
1024 KB, as in `QA_MAX_FILE_MB` and the upload limits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.documents import MB, megabytes
from qa.web.service import Service


@dataclass(frozen=True)
class LibraryEntry:
    """One indexed document as the library lists it."""

    doc_id: str
    title: str
    type: str  # the extension without its dot: txt, md, pdf...
    size: int  # bytes of the file in the docs folder (of its text if the file is gone)
    chunks: int
    indexed_at: float | None  # when this version entered the index (Unix seconds)


@dataclass
class Library:
    """The documents of the index in use, the files skipped at the last rebuild, and the
    index's figures."""

    documents: list[LibraryEntry] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    generation: str | None = None
    model: str = ""
    chunks: int = 0


def read_library(service: Service) -> Library:
    """The library of `service`'s current index (empty while it is not ready)."""
    library = Library(model=service.assistant.embedder.name)
    report = service.last_report
    library.skipped = list(report.skipped) if report else []
    if not service.ready.is_set():
        return library
    snapshot = service.assistant.snapshot()
    folder = service.assistant.settings.docs_dir
    times = service.assistant.indexed_at()
    for doc_id in snapshot.doc_ids():
        info = snapshot.document(doc_id)
        if info is None:
            continue
        indexed = times.get(doc_id)
        library.documents.append(
            LibraryEntry(
                doc_id=doc_id,
                title=info.title,
                type=Path(doc_id).suffix.lstrip(".").lower(),
                size=_file_size(folder / doc_id, info.text),
                chunks=info.chunks,
                indexed_at=indexed.at if indexed and indexed.sha256 == info.sha256 else None,
            )
        )
    library.generation, library.model = snapshot.version, snapshot.model
    library.chunks = snapshot.chunk_count
    return library


def _file_size(path: Path, text: str) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return len(text.encode("utf-8"))


SORTS = ("name", "date", "size")


def select(
    entries: list[LibraryEntry], text: str = "", sort: str = "name", descending: bool = False
) -> list[LibraryEntry]:
    """`entries` whose doc_id, title or type contains `text` (any case), sorted by `sort`:
    name (title, then doc_id), date (indexed), or size."""
    needle = text.strip().casefold()
    chosen = [
        e for e in entries if needle in f"{e.doc_id}\n{e.title}\n{e.type}".casefold()
    ]  # fmt: skip
    keys = {
        "name": lambda e: (natural(e.title), natural(e.doc_id)),
        "date": lambda e: (e.indexed_at or 0.0, natural(e.doc_id)),
        "size": lambda e: (e.size, natural(e.doc_id)),
    }
    return sorted(chosen, key=keys.get(sort, keys["name"]), reverse=descending)


def natural(text: str) -> list[str | int]:
    """A sort key that orders runs of digits by their value: `file 2` before `file 10`.
    Splitting on one capturing group alternates text and digits, so the keys of any two
    strings compare text with text and numbers with numbers."""
    parts: list[str | int] = []
    for i, part in enumerate(re.split(r"([0-9]+)", text.casefold())):
        parts.append(int(part) if i % 2 else part)
    return parts


def when(seconds: float | None) -> str:
    """A Unix time as local `YYYY-MM-DD HH:MM`, or an em dash when unknown."""
    if not seconds:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


KB = 1024


def size_text(size: int) -> str:
    """A byte count for people: 812 B, 4.2 KB, 1.3 MB (1 KB = 1024 bytes)."""
    if size < KB:
        return f"{size} B"
    if size < MB:
        return f"{size / KB:.1f} KB"
    return f"{megabytes(size, 1)} MB"
