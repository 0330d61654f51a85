"""OCR of pages without a text layer (qa/pdf_ocr.py): when it is available, and what it reads."""

from __future__ import annotations

import sys

import pytest

from qa import pdf_ocr
from tests.support.helpers import require_system_tool
from tests.unit.test_pdf_text import scanned_pdf


@pytest.fixture(autouse=True)
def _fresh_availability():  # type: ignore[no-untyped-def]
    pdf_ocr.available.cache_clear()
    yield
    pdf_ocr.available.cache_clear()


def test_not_available_without_the_python_package(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pytesseract", None)  # import fails
    assert pdf_ocr.available() is False


def test_not_available_without_the_tesseract_program(monkeypatch) -> None:
    monkeypatch.setattr(pdf_ocr.shutil, "which", lambda name: None)
    assert pdf_ocr.available() is False


def test_a_rendered_page_is_read_back() -> None:
    require_system_tool(pdf_ocr.available(), "OCR needs `pip install .[ocr]` and tesseract-ocr")
    import pypdfium2

    document = pypdfium2.PdfDocument(scanned_pdf())
    text = pdf_ocr.ocr_page(document[0])
    assert "reactor output was forty megawatts" in " ".join(text.split())
