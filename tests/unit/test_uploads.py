"""Safe changes to the docs folder (qa/uploads.py): names, atomic writes, the trash."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from qa.documents import scan
from qa.uploads import (
    AlreadyExists,
    NameRefused,
    move_to_trash,
    safe_name,
    write_file,
)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("C:evil.txt", "evil.txt"),
        ("/abs/path/notes.TXT", "notes.txt"),
        (".hidden.txt", "hidden.txt"),
        ("<script>alert(1)</script>.html", "script.html"),
        ("<b>bold</b>?.txt", "b.txt"),
        ("a<b>c.txt", "a_b_c.txt"),
        ("a\x00b.txt", "a_b.txt"),
        ("new\nline.txt", "new_line.txt"),
        ("résumé.pdf", "résumé.pdf"),
        ("spaces   here .md", "spaces here.md"),
    ],
)
def test_safe_name_keeps_one_plain_name_inside_the_folder(sent: str, kept: str) -> None:
    assert safe_name(sent) == kept
    assert "/" not in kept and "\\" not in kept and not kept.startswith(".")


@pytest.mark.parametrize("sent", ["", "..", "...", "/", "con.txt", "NUL"])
def test_names_with_nothing_usable_are_refused(sent: str) -> None:
    with pytest.raises(NameRefused):
        safe_name(sent)


@pytest.mark.parametrize("sent", ["\U0001f600.txt", "....txt", "_-_.md", " .pdf"])
def test_a_name_needs_a_letter_or_digit_before_its_extension(sent: str) -> None:
    with pytest.raises(NameRefused) as caught:
        safe_name(sent)
    message = str(caught.value)
    assert "no letter or digit before its extension" in message and "rename it" in message
    assert "(none)" not in message


def test_the_extension_is_kept_apart_from_the_name_it_follows() -> None:
    assert safe_name("\u540d\u524d \U0001f600.TXT") == "\u540d\u524d.txt"
    assert safe_name("weird name!!.md") == "weird name.md"
    assert safe_name("v1.2 notes.txt") == "v1.2 notes.txt"


def test_long_names_are_cut_but_keep_their_extension() -> None:
    name = safe_name("x" * 500 + ".docx")
    assert len(name) <= 120 and name.endswith(".docx")


def test_write_file_writes_the_bytes_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = write_file(tmp_path, "a.txt", b"hello")
    assert path == tmp_path.resolve() / "a.txt" and path.read_bytes() == b"hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_an_existing_name_is_replaced_only_when_asked(tmp_path: Path) -> None:
    write_file(tmp_path, "a.txt", b"one")
    with pytest.raises(AlreadyExists):
        write_file(tmp_path, "a.txt", b"two")
    assert (tmp_path / "a.txt").read_bytes() == b"one"
    write_file(tmp_path, "a.txt", b"two", replace=True)
    assert (tmp_path / "a.txt").read_bytes() == b"two"
    kept = list((tmp_path / ".trash").rglob("a.txt"))
    assert [p.read_bytes() for p in kept] == [b"one"]  # the old version can be brought back


def test_write_file_refuses_names_that_are_not_plain(tmp_path: Path) -> None:
    for name in ("../a.txt", "sub/a.txt", ".a.txt"):
        with pytest.raises(ValueError):
            write_file(tmp_path, name, b"x")
    assert not list(tmp_path.parent.glob("a.txt"))


def test_a_symlink_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "link.txt").symlink_to(outside)
    for replace in (False, True):
        with pytest.raises(AlreadyExists):
            write_file(docs, "link.txt", b"x", replace=replace)
    assert outside.read_text() == "keep"


def test_concurrent_writes_of_one_name_let_exactly_one_win(tmp_path: Path) -> None:
    results: list[str] = []

    def upload(n: int) -> None:
        try:
            write_file(tmp_path, "same.txt", f"writer {n}".encode())
            results.append("saved")
        except AlreadyExists:
            results.append("exists")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["exists"] * 7 + ["saved"]
    assert (tmp_path / "same.txt").read_bytes().startswith(b"writer ")
    assert [p.name for p in tmp_path.iterdir()] == ["same.txt"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_file(tmp_path, "a.txt", b"data")
    assert list(tmp_path.iterdir()) == []


def test_move_to_trash_keeps_the_file_under_dot_trash(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("alpha")
    moved = move_to_trash(tmp_path, "notes/a.txt")
    assert not (tmp_path / "notes" / "a.txt").exists()
    assert moved.read_text() == "alpha"
    assert moved.relative_to(tmp_path.resolve()).parts[0] == ".trash"
    assert moved.as_posix().endswith("/notes/a.txt")


@pytest.mark.parametrize("doc_id", ["../x.txt", "/etc/passwd", "a/../../x.txt", ".trash/a.txt"])
def test_move_to_trash_refuses_paths_that_leave_the_folder(tmp_path: Path, doc_id: str) -> None:
    with pytest.raises(ValueError):
        move_to_trash(tmp_path / "docs", doc_id)


def test_move_to_trash_of_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        move_to_trash(tmp_path, "nothing.txt")


def test_the_scan_ignores_the_trash_and_temporary_uploads(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("Kept here.")
    (tmp_path / "gone.txt").write_text("Gone soon.")
    move_to_trash(tmp_path, "gone.txt")
    (tmp_path / ".upload-abc.tmp").write_text("half written")
    sources, skipped = scan(tmp_path)
    assert [s.doc_id for s in sources] == ["kept.txt"] and skipped == []
