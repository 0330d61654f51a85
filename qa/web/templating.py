"""The page's Jinja2 environment: autoescaped templates from the package's data.

In: nothing. Out: `make_templates()` -> `Jinja2Templates`, and `view_url(doc_id, start, end)`,
the link to a document's view page (also a template global, as is `version`, the package's).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from qa.resources import template_dir
from qa.version import __version__


def make_templates() -> Jinja2Templates:
    """The templates of the page, autoescaped, with `view_url` available to them."""
    environment = Environment(
        loader=FileSystemLoader(template_dir()), autoescape=True, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip
    environment.globals["view_url"] = view_url
    environment.globals["version"] = __version__  # the footer's
    return Jinja2Templates(env=environment)


def view_url(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The link to a document's view page, highlighting [start, end) when given."""
    url = f"/documents/{quote(doc_id, safe='/')}/view"
    if start is None or end is None:
        return url
    return f"{url}?start={start}&end={end}#quote"
