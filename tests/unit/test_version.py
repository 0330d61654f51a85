"""The package version (one source: pyproject.toml), the changelog that names it, and which
versions' indexes this one reads."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

import qa
import qa.version as version
from tests.support.fakes import ROOT


def test_the_version_is_pyprojects() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert qa.__version__ == version.__version__ == project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", qa.__version__)


def test_the_changelog_starts_with_unreleased_then_this_version() -> None:
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[:2] == ["Unreleased", qa.__version__]
    assert "0.1.0" in headings


def test_outside_a_checkout_the_metadata_then_a_placeholder_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(version, "_checkout_version", lambda: None)
    monkeypatch.setattr(version.metadata, "version", lambda name: "3.4.5")
    assert version.package_version() == "3.4.5"

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", missing)
    assert version.package_version() == version.UNKNOWN


def test_import_qa_stays_cheap() -> None:
    heavy = ("numpy", "qa.assistant", "qa.version")
    code = f"import sys, qa; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "expected"), [("0.2.0", 0), ("1.4.2rc1", 1), ("12.0", 12), ("0+unknown", 0)]
)
def test_major(text: str, expected: int) -> None:
    assert version.major(text) == expected


def test_major_refuses_what_is_not_a_version() -> None:
    with pytest.raises(ValueError, match="not a version"):
        version.major("dev")


def test_an_index_is_read_only_by_the_major_version_that_wrote_it() -> None:
    assert version.incompatible("0.9.1", "0.2.0") is None
    assert version.incompatible(None, "0.2.0") is None  # written before versions were recorded
    why = version.incompatible("0.2.0", "1.0.0")
    assert why is not None and "0.2.0" in why and "1.0.0" in why and "another major" in why
    assert version.incompatible(None, "1.0.0") is not None
    assert version.incompatible("2.0.0", "1.3.0") is not None  # a downgrade too
    assert version.incompatible("garbage", "1.0.0") is not None
