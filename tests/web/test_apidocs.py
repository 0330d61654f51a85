"""The API documentation (qa/web/apidocs.py): OpenAPI models with examples, Swagger UI served
offline."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.web import (
    QUESTION,
)


def test_openapi_has_models_with_examples_and_docs_work_offline(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/ask", "/documents/{doc_id}", "/index/rebuild", "/health"} <= set(schema["paths"])
    ask = schema["components"]["schemas"]["AskRequest"]
    assert ask["examples"][0]["question"] == QUESTION
    docs = client.get("/docs")
    assert docs.status_code == 200 and "<script>" not in docs.text  # no inline script
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/init.js",
    ):
        assert client.get(asset).status_code == 200
