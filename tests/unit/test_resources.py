"""Package data (qa/resources.py): templates, static files and the fitted weights are found
where the install put them; a missing one is a `PackageDataError` that says to reinstall."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import resources
from qa.resources import PackageDataError


def test_the_data_files_are_found() -> None:
    assert (resources.template_dir() / "answer.txt.j2").is_file()
    assert (resources.template_dir() / "index.html").is_file()
    assert (resources.static_dir() / "style.css").is_file()
    assert resources.scoring_file().is_file()


def test_a_missing_web_package_says_to_reinstall(monkeypatch: pytest.MonkeyPatch) -> None:
    resources.web_dir.cache_clear()
    monkeypatch.setattr(resources, "WEB_PACKAGE", "qa.no_such_webfiles")
    try:
        with pytest.raises(PackageDataError, match="reinstall"):
            resources.template_dir()
    finally:
        resources.web_dir.cache_clear()


def test_a_missing_folder_inside_it_says_which(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    monkeypatch.setattr(resources, "web_dir", lambda: tmp_path)
    assert resources.template_dir() == tmp_path / "templates"
    with pytest.raises(PackageDataError, match=r"static.*reinstall"):
        resources.static_dir()
