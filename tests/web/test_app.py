"""The app factory and runner (qa/web/app.py)."""

from __future__ import annotations

from pathlib import Path

from qa.config import Settings
from qa.web.app import run


def test_run_binds_loopback_by_default(monkeypatch, docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    run(Settings(docs_dir=docs, index_dir=tmp_path / "i"))
    assert seen["host"] == "127.0.0.1" and seen["proxy_headers"] is False
