"""The app factory and runner (qa/web/app.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qa.config import Settings
from qa.pipeline import Assistant
from qa.web.app import create_app, run


def test_run_binds_loopback_by_default(monkeypatch, docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    run(Settings(docs_dir=docs, index_dir=tmp_path / "i"))
    assert seen["host"] == "127.0.0.1" and seen["proxy_headers"] is False


CONTRACT_ROUTES = {
    ("POST", "/ask"), ("GET", "/ask"), ("GET", "/documents/{doc_id}"),
    ("GET", "/documents/{doc_id}/view"), ("POST", "/index/rebuild"), ("GET", "/health"),
    ("GET", "/"),
}  # fmt: skip


def test_the_app_serves_every_contract_route_and_its_docs(assistant: Assistant) -> None:
    app = create_app(assistant, build_on_start=False)
    schema = app.openapi()
    served = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert served >= CONTRACT_ROUTES
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/static/style.css").status_code == 200


def test_the_guard_is_the_outermost_layer(assistant: Assistant) -> None:
    """Even a path no router knows gets the security headers and a JSON error."""
    with TestClient(create_app(assistant, build_on_start=False)) as client:
        response = client.get("/no/such/path")
    assert response.status_code == 404 and response.json()["detail"]
    assert "content-security-policy" in response.headers
