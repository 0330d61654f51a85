"""Where the package's data files are: templates, static files and the fitted scoring weights.

In: nothing. Out: `template_dir()`, `static_dir()` and `scoring_file()`, paths that exist, or
`PackageDataError` naming the missing file and how to repair the install.

The templates and the stylesheet live in the repository's top-level `web/` folder (the design
card's layout); `pyproject.toml` installs that folder as the package `qa.webfiles`, so an
installed wheel carries them inside `qa` and never a top-level `web` package. The fitted
scoring weights are `qa/scoring.json`. A missing data file is an error at start, never a
silent fallback to other behaviour.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

WEB_PACKAGE = "qa.webfiles"  # the top-level web/ folder, as installed
SCORING_NAME = "scoring.json"
REPAIR = "the installation is incomplete; reinstall qa-assistant (pip install --force-reinstall)"


class PackageDataError(RuntimeError):
    """A data file the package ships is missing or unreadable."""


@cache
def web_dir() -> Path:
    """The installed `web/` folder (templates/ and static/)."""
    spec = importlib.util.find_spec(WEB_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise PackageDataError(
            f"package data {WEB_PACKAGE} (templates, static) not found; {REPAIR}"
        )
    return Path(locations[0])


def template_dir() -> Path:
    """The Jinja2 templates folder (`answer.txt.j2`, the HTML pages)."""
    return _existing(web_dir() / "templates")


def static_dir() -> Path:
    """The static files folder served at `/static` (the stylesheet)."""
    return _existing(web_dir() / "static")


def scoring_file() -> Path:
    """The fitted scoring model that `qa eval fit` writes and every answer uses."""
    return _existing(Path(__file__).resolve().parent / SCORING_NAME)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise PackageDataError(f"missing package data {path}; {REPAIR}")
    return path
