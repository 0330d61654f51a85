"""The page's Jinja2 environment: autoescaped templates from the package's data.

In: nothing. Out: `make_templates()` -> `Jinja2Templates`, `view_url(doc_id, start, end)`,
the link to a document's view page, and `file_url(doc_id, page)`, the link to its original
file opened at a page where the browser shows it (`opens_at_page`: `INLINE_TYPES`); all three
are template globals, as are `page_label` and `version`, the package's.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from qa.layout import page_label
from qa.resources import template_dir
from qa.version import __version__

# A PDF is shown by the browser's own viewer, in a sandbox (no scripts, an opaque origin);
# every other type is only ever downloaded, so an uploaded HTML file never runs here.
INLINE_TYPES = {".pdf": "application/pdf"}


def make_templates() -> Jinja2Templates:
    """The templates of the page, autoescaped, with `view_url` available to them."""
    environment = Environment(
        loader=FileSystemLoader(template_dir()), autoescape=True, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip
    environment.globals["view_url"] = view_url
    environment.globals["version"] = __version__  # the footer's
    environment.globals["file_url"] = file_url
    environment.globals["opens_at_page"] = opens_at_page
    environment.globals["page_label"] = page_label  # "p. 3", a deck's "slide 3"
    return Jinja2Templates(env=environment)


def view_url(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The link to a document's view page, highlighting [start, end) when given."""
    url = f"/documents/{quote(doc_id, safe='/')}/view"
    if start is None or end is None:
        return url
    return f"{url}?start={start}&end={end}#quote"


def file_url(doc_id: str, page: int | None = None) -> str:
    """The link to a document's original file (`GET /documents/{doc_id}/file`), a PDF opened
    at `page` (its viewer's `#page=N`) when given; other types download as they are."""
    url = f"/documents/{quote(doc_id, safe='/')}/file"
    return f"{url}#page={page}" if page and opens_at_page(doc_id) else url


def opens_at_page(doc_id: str) -> bool:
    """Whether the browser shows `doc_id`'s original file (one of `INLINE_TYPES`), so that a
    link can open it at a page; any other type downloads."""
    return PurePosixPath(doc_id).suffix.lower() in INLINE_TYPES
