"""Settings from the environment: numbers, defaults and clear errors."""

from __future__ import annotations

import pytest

from qa.config import Settings


def test_numbers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "5")
    monkeypatch.setenv("QA_THRESHOLD", "0.3")
    settings = Settings.from_env()
    assert settings.max_file_mb == 5.0 and settings.threshold == 0.3


def test_unset_or_empty_numbers_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "")
    monkeypatch.delenv("QA_THRESHOLD", raising=False)
    settings = Settings.from_env()
    assert settings.max_file_mb == 20.0 and settings.threshold is None


@pytest.mark.parametrize("name", ["QA_MAX_FILE_MB", "QA_THRESHOLD"])
def test_a_number_that_is_not_one_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "twenty")
    with pytest.raises(ValueError, match=f"{name} must be a number, got 'twenty'"):
        Settings.from_env()
