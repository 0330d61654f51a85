"""Zip and entity bombs are refused at upload, before they are parsed or written (4xx)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.helpers import entity_bomb_html, write_entity_bomb_docx, write_zip_bomb_docx


def bomb(kind: str, tmp_path: Path) -> tuple[str, bytes]:
    if kind == "zip":
        write_zip_bomb_docx(tmp_path / "bomb.docx", 320)  # the 348 KB -> 315 MB
        return "bomb.docx", (tmp_path / "bomb.docx").read_bytes()
    if kind == "entities":
        write_entity_bomb_docx(tmp_path / "laughs.docx")
        return "laughs.docx", (tmp_path / "laughs.docx").read_bytes()
    return "laughs.html", entity_bomb_html().encode()


@pytest.mark.parametrize(("kind", "words"), [("zip", "zip bomb"), ("entities", "entities"),
                                             ("html", "entities")])  # fmt: skip
def test_a_bomb_upload_is_refused_at_once_and_not_written(
    local: TestClient, folder: Path, tmp_path: Path, kind: str, words: str
) -> None:
    name, data = bomb(kind, tmp_path)
    before = sorted(p.name for p in folder.iterdir())
    started = time.monotonic()
    response = local.post("/documents", files=[("files", (name, data))])
    took = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert words in response.json()["rejected"][0]["reason"]
    assert sorted(p.name for p in folder.iterdir()) == before
    assert took < 10, f"refusing took {took:.1f} s"
