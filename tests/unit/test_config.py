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


MILVUS = "milvus://alice:secret@db-host:19530/qa?grace=1"


@pytest.mark.parametrize(
    ("store", "docs", "env_docs", "watch", "builder"),
    [
        ("faiss", None, None, False, True),  # the local index keeps today's convenience
        (MILVUS, None, None, False, False),  # a shared store is only read...
        (MILVUS, "library", None, False, True),  # ...unless the folder is named
        (MILVUS, None, "library", False, True),  # (or QA_DOCS_DIR names it)
        (MILVUS, None, None, True, True),  # ...or the server watches it
    ],
)
def test_role_of_an_answering_process(
    monkeypatch: pytest.MonkeyPatch,
    store: str,
    docs: str | None,
    env_docs: str | None,
    watch: bool,
    builder: bool,
) -> None:
    monkeypatch.delenv("QA_DOCS_DIR", raising=False)
    if env_docs:
        monkeypatch.setenv("QA_DOCS_DIR", env_docs)
    settings = Settings.from_env(store=store, docs_dir=docs)
    role = settings.role(watch)
    assert role.builder is builder
    assert role.mode == ("builder" if builder else "reader-only")
    assert "secret" not in role.store and "secret" not in role.docs and "grace" not in role.store


def test_store_label_hides_credentials() -> None:
    assert Settings(store=MILVUS).store_label == "milvus://db-host:19530/qa"
    assert Settings(store="milvus://h/x").store_label == "milvus://h:19530/x"


def test_qa_reader_is_read_and_defaults_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_READER", raising=False)
    assert Settings.from_env().reader is None
    monkeypatch.setenv("QA_READER", "off")
    assert Settings.from_env().reader == "off"
