"""Uploads as they arrive (qa/web/intake.py): every file checked before any is written, safe
names, duplicates refused unless replacing, and what became of each file said."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from qa.web.intake import Outcome, refusal, store_uploads, upload_body


def service_over(folder: Path) -> SimpleNamespace:
    settings = SimpleNamespace(docs_dir=folder, max_bytes=1000)
    return SimpleNamespace(assistant=SimpleNamespace(settings=settings))


def test_good_files_are_written_and_bad_ones_refused_with_their_status(tmp_path: Path) -> None:
    files = [
        ("a.txt", b"Some text."),
        ("../../b.txt", b"More text."),
        ("a.txt", b"Sent again."),
        ("tool.exe", b"MZ"),
        ("empty.txt", b""),
        ("big.txt", b"x" * 1001),
    ]
    outcomes = store_uploads(service_over(tmp_path), files, replace=False)  # type: ignore[arg-type]
    assert [(o.doc_id, o.saved, o.status) for o in outcomes] == [
        ("a.txt", True, 200), ("b.txt", True, 200), (None, False, 409),
        ("tool.exe", False, 415), ("empty.txt", False, 422), ("big.txt", False, 413),
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"Some text."


def test_a_name_taken_is_replaced_only_when_asked(tmp_path: Path) -> None:
    service = service_over(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"Old text.")
    kept = store_uploads(service, [("a.txt", b"New text.")], replace=False)  # type: ignore[arg-type]
    assert kept[0].status == 409 and "replace" in kept[0].reason
    assert (tmp_path / "a.txt").read_bytes() == b"Old text."
    replaced = store_uploads(service, [("a.txt", b"New text.")], replace=True)  # type: ignore[arg-type]
    assert replaced[0].saved and replaced[0].replaced
    assert (tmp_path / "a.txt").read_bytes() == b"New text."


def test_the_body_and_the_refusal_name_every_file() -> None:
    outcomes = [
        Outcome("a.txt", "a.txt", saved=True),
        Outcome("tool.exe", "tool.exe", status=415, reason="unsupported file type '.exe'"),
    ]
    assert upload_body(outcomes) == {
        "saved": [{"filename": "a.txt", "doc_id": "a.txt", "replaced": False}],
        "rejected": [
            {"filename": "tool.exe", "status": 415, "reason": "unsupported file type '.exe'"}
        ],
        "rebuild": "queued",
    }
    assert upload_body(outcomes[1:])["rebuild"] is None
    assert refusal(outcomes) == "nothing was saved; tool.exe: unsupported file type '.exe'"
