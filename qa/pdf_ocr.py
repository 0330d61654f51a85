"""OCR for PDF pages without a text layer (the optional `ocr` extra: pytesseract + Tesseract).

In: a pypdfium2 page. Out: its text as Tesseract reads it, paragraphs separated by blank lines.
`available()` says whether both the Python package and the `tesseract` program are here.
"""

from __future__ import annotations

import shutil
from functools import lru_cache

DPI = 300  # Tesseract reads body text best at 300 dpi
LANGUAGE = "eng"


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether pytesseract imports and the tesseract binary is on PATH."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def ocr_page(page) -> str:  # type: ignore[no-untyped-def]
    """The text of a rendered page (grey, `DPI` dots per inch)."""
    import pytesseract

    image = page.render(scale=DPI / 72, grayscale=True).to_pil()
    return str(pytesseract.image_to_string(image, lang=LANGUAGE))
