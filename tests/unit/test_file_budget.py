"""The per-file budget of a build (qa/file_budget.py): defaults, the environment, bad values."""

from __future__ import annotations

import pytest

from qa.file_budget import FileBudget


def test_the_defaults_and_their_units() -> None:
    budget = FileBudget()
    assert (budget.seconds, budget.memory_mb, budget.unzipped_mb, budget.zip_ratio) == (
        60.0, 1024.0, 100.0, 100.0,
    )  # fmt: skip
    assert budget.memory_bytes == 1024 * 1024 * 1024
    assert budget.unzipped_bytes == 100 * 1024 * 1024


def test_the_environment_sets_each_limit_and_empty_means_the_default() -> None:
    env = {"QA_FILE_SECONDS": "5", "QA_FILE_MEMORY_MB": " 256 ", "QA_MAX_UNZIPPED_MB": ""}
    budget = FileBudget.from_env(env)
    assert (budget.seconds, budget.memory_mb, budget.unzipped_mb) == (5.0, 256.0, 100.0)


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("QA_FILE_SECONDS", "soon", "QA_FILE_SECONDS must be a number, got 'soon'"),
        ("QA_FILE_MEMORY_MB", "0", "QA_FILE_MEMORY_MB must be > 0, got 0.0"),
        ("QA_MAX_ZIP_RATIO", "-3", "QA_MAX_ZIP_RATIO must be > 0, got -3.0"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        FileBudget.from_env({variable: raw})
    assert str(caught.value) == message


def test_the_skip_reasons_name_the_limit_and_its_setting() -> None:
    budget = FileBudget(seconds=2.5, memory_mb=300)
    assert budget.over_time() == "extraction took longer than 2.5 s (QA_FILE_SECONDS)"
    assert budget.over_memory() == "extraction needed more than 300 MB (QA_FILE_MEMORY_MB)"
