"""When documents entered the index (qa/ledger.py)."""

from __future__ import annotations

from pathlib import Path

from qa.ledger import LEDGER_FILE, Indexed, read, record


def test_record_keeps_unchanged_times_and_stamps_new_and_changed(tmp_path: Path) -> None:
    record(tmp_path, {"a.txt": "h1", "b.txt": "h2"}, now=100.0)
    ledger = record(tmp_path, {"a.txt": "h1", "b.txt": "h3", "c.txt": "h4"}, now=200.0)
    assert ledger == {
        "a.txt": Indexed("h1", 100.0), "b.txt": Indexed("h3", 200.0), "c.txt": Indexed("h4", 200.0)
    }  # fmt: skip
    assert read(tmp_path) == ledger


def test_removed_documents_leave_the_ledger(tmp_path: Path) -> None:
    record(tmp_path, {"a.txt": "h1", "b.txt": "h2"}, now=1.0)
    assert set(record(tmp_path, {"a.txt": "h1"}, now=2.0)) == {"a.txt"}


def test_an_unreadable_ledger_reads_as_empty(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_text("{not json")
    assert read(tmp_path) == {}
    assert read(tmp_path / "missing") == {}
