"""What the library lists (qa/web/catalog.py): nothing before the index is ready, the
documents filtered and sorted, sizes and times as people read them."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from qa.web.catalog import (
    SORTS,
    LibraryEntry,
    megabytes,
    natural,
    read_library,
    select,
    size_text,
    when,
)

ENTRIES = [
    LibraryEntry("b/report.pdf", "Annual report", "pdf", 4200, 3, 200.0),
    LibraryEntry("notes.txt", "zebra notes", "txt", 812, 1, None),
    LibraryEntry("a.md", "Zebra facts", "md", 1_300_000, 9, 100.0),
]


def test_an_index_not_ready_lists_nothing_but_its_model() -> None:
    service = SimpleNamespace(
        assistant=SimpleNamespace(embedder=SimpleNamespace(name="fake-model")),
        last_report=None,
        ready=threading.Event(),
    )
    library = read_library(service)  # type: ignore[arg-type]
    assert library.documents == [] and library.skipped == [] and library.model == "fake-model"


def test_select_filters_on_doc_id_title_and_type_in_any_case() -> None:
    assert [e.doc_id for e in select(ENTRIES, " ZEBRA ")] == ["a.md", "notes.txt"]
    assert [e.doc_id for e in select(ENTRIES, "pdf")] == ["b/report.pdf"]
    assert select(ENTRIES, "nothing like it") == []


def test_select_sorts_by_name_date_or_size() -> None:
    assert SORTS == ("name", "date", "size")
    assert [e.doc_id for e in select(ENTRIES)] == ["b/report.pdf", "a.md", "notes.txt"]
    assert [e.doc_id for e in select(ENTRIES, sort="date")] == ["notes.txt", "a.md", "b/report.pdf"]
    newest = select(ENTRIES, sort="date", descending=True)
    assert [e.doc_id for e in newest] == ["b/report.pdf", "a.md", "notes.txt"]
    assert [e.size for e in select(ENTRIES, sort="size")] == [812, 4200, 1_300_000]
    assert select(ENTRIES, sort="unknown") == select(ENTRIES)


def test_names_sort_naturally() -> None:
    names = ["file 10.txt", "file 2.txt", "File 1.txt", "file 0.txt", "file.txt", "10", "9b"]
    entries = [LibraryEntry(n, n, "txt", 1, 1, None) for n in names]
    assert [e.title for e in select(entries)] == [
        "9b", "10", "file 0.txt", "File 1.txt", "file 2.txt", "file 10.txt", "file.txt",
    ]  # fmt: skip
    assert natural("v2.10") > natural("v2.9") and natural("a") < natural("a1")


def test_sizes_and_times_for_people() -> None:
    # One unit everywhere, as QA_MAX_FILE_MB and the page's limits: 1 MB = 1024 x 1024 bytes.
    sizes = (812, 4300, 1_300_000, 20 * 1024 * 1024)
    assert [size_text(n) for n in sizes] == ["812 B", "4.2 KB", "1.2 MB", "20 MB"]
    assert megabytes(20 * 1024 * 1024) == "20" and megabytes(22 * 1024 * 1024 + 1, 1) == "22"
    assert megabytes(int(20.5 * 1024 * 1024), 1) == "20.5"
    assert when(None) == "—" and when(0) == "—"
    assert len(when(1_700_000_000)) == len("2023-11-14 22:13")
