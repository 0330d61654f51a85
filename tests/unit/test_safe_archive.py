"""Zip and entity bombs are refused before any parser sees them, at upload and at build."""

from pathlib import Path

import pytest

from qa.file_budget import FileBudget
from qa.file_worker import check_content
from qa.safe_archive import UnsafeFile, check
from tests.support.helpers import (
    entity_bomb_html,
    write_docx,
    write_entity_bomb_docx,
    write_zip_bomb_docx,
)


def test_an_ordinary_docx_passes(tmp_path: Path):
    write_docx(tmp_path / "memo.docx", "Memo", ["A paragraph."] * 200)
    data = (tmp_path / "memo.docx").read_bytes()
    check(".docx", data, FileBudget().unzipped_bytes, FileBudget().zip_ratio)
    assert check_content("memo.docx", data) is None


def test_a_zip_bomb_is_refused_by_its_total_and_by_its_ratio(tmp_path: Path):
    write_zip_bomb_docx(tmp_path / "bomb.docx", 40)
    data = (tmp_path / "bomb.docx").read_bytes()
    assert len(data) < 1024 * 1024
    with pytest.raises(UnsafeFile, match=r"unpacks to \d+ times its size"):
        check(".docx", data, 1024**3, 100)
    with pytest.raises(UnsafeFile, match=r"unpacks to 4\d MB, over the 20 MB limit"):
        check(".docx", data, 20 * 1024**2, 10_000)
    assert "zip bomb" in str(check_content("bomb.docx", data))
    check(".docx", data, 50 * 1024**2, 1e6)  # within limits set that high: not refused


def test_a_deck_is_checked_for_a_zip_bomb_too(tmp_path: Path):
    write_zip_bomb_docx(tmp_path / "bomb.docx", 40)  # a zip is a zip, whatever its name
    data = (tmp_path / "bomb.docx").read_bytes()
    with pytest.raises(UnsafeFile, match=r"unpacks to \d+ times its size"):
        check(".pptx", data, 1024**3, 100)
    assert "zip bomb" in str(check_content("bomb.pptx", data))
    with pytest.raises(UnsafeFile, match="cannot parse PPTX file: File is not a zip file"):
        check(".pptx", data[:5000], 1024**3, 100)  # cut short: named for what it claims to be


def test_entity_declarations_are_refused_in_docx_parts_and_html(tmp_path: Path):
    write_entity_bomb_docx(tmp_path / "laughs.docx")
    reason = check_content("laughs.docx", (tmp_path / "laughs.docx").read_bytes())
    assert "word/document.xml" in str(reason) and "entities" in str(reason)
    assert "entities" in str(check_content("laughs.html", entity_bomb_html().encode()))
    assert check_content("plain.html", b"<p>Fish &amp; chips &lt;3</p>") is None
