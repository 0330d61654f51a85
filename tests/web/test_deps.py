"""The routes' dependencies (qa/web/deps.py): the service comes from the app, a route that
needs the index gets a 503 until it is ready, and tests can swap the service."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.pipeline import Assistant
from qa.web.app import create_app
from qa.web.deps import get_service


def test_the_service_is_the_apps_own(assistant: Assistant) -> None:
    assistant.refresh()
    app = create_app(assistant, build_on_start=False)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
    assert app.state.service.assistant is assistant


def test_a_route_that_needs_the_index_answers_503_until_ready(assistant: Assistant) -> None:
    assistant.refresh()
    app = create_app(assistant, build_on_start=False)
    with TestClient(app) as client:
        app.state.service.ready.clear()
        response = client.post("/ask", json={"question": "When did Luxon take office?"})
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert client.get("/health").status_code == 503  # health reports, never waits


def test_the_service_can_be_overridden(assistant: Assistant) -> None:
    class Stub:
        def health(self) -> dict:
            return {"status": "ok", "documents": 7, "chunks": 9, "model": "stub"}

    app: FastAPI = create_app(assistant, build_on_start=False)
    app.dependency_overrides[get_service] = lambda: Stub()
    with TestClient(app) as client:
        assert client.get("/health").json()["documents"] == 7
