"""The package's version, and whether an index written by another version can be read.

In: nothing (the version is `pyproject.toml`'s, the one source of truth). Out: `__version__`
(e.g. "0.2.0"), `major(version)` and `incompatible(built_by)`: why an index written by
version `built_by` must be rebuilt (another major version), or None when this one reads it.

An installed package reads its version from its metadata. A source checkout reads its
`pyproject.toml` first, since an editable install's metadata keeps the version it was
installed with until it is installed again.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "qa-assistant"
UNKNOWN = "0+unknown"
# Indexes written before versions were recorded in them (release 0.1.0 and its checkouts).
UNRECORDED = "0.1.0"


def _checkout_version() -> str | None:
    """The version in the `pyproject.toml` beside the package, in a source checkout."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError):
        return None
    return str(project["version"]) if project.get("name") == DISTRIBUTION else None


def package_version() -> str:
    """This package's version: the checkout's, else the installed metadata's, else UNKNOWN."""
    found = _checkout_version()
    if found:
        return found
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN


__version__ = package_version()


def major(version: str) -> int:
    """The semver major number of `version` ("0.2.0" -> 0, "1.4.2rc1" -> 1); ValueError when
    it does not start with one."""
    head = version.split(".", 1)[0].split("+", 1)[0]
    if not head.isdigit():
        raise ValueError(f"not a version: {version!r}")
    return int(head)


def incompatible(built_by: str | None, current: str | None = None) -> str | None:
    """Why an index written by version `built_by` (None: before versions were recorded) cannot
    be read by version `current` (default: this one), or None when it can: the index is only
    read by the major version that wrote it."""
    current = current or __version__
    written = built_by or UNRECORDED
    try:
        same = major(written) == major(current)
    except ValueError:
        same = False
    if same:
        return None
    return (
        f"index was written by qa-assistant {written}, and this is {current} "
        "(another major version)"
    )
