"""The HTTP API's reference page (qa/web/api_reference.py): docs/http-api.md holds exactly what
the app's OpenAPI schema renders to, so a route or a field cannot change without the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.web.api_reference import BEGIN, END, PAGE, main, render, splice

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


TOP_K = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 20}, {"type": "null"}]}
SCHEMA = {
    "paths": {
        "/ask": {
            "post": {
                "summary": "Ask",
                "description": "Answer a question.\n\nMore detail.",
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("AskRequest")}}},
                "responses": {
                    "200": {"description": "The answer",
                            "content": {JSON: {"schema": ref("Answer")}}},
                    "422": {"description": "Bad | input"},
                },
            },
            "get": {
                "summary": "Ask by link",
                "parameters": [
                    {"name": "q", "in": "query", "required": True,
                     "schema": {"type": "string", "maxLength": 1000}},
                    {"name": "top_k", "in": "query", "schema": TOP_K},
                ],
                "responses": {"200": {"description": "OK"}},
            },
        }
    },
    "components": {
        "schemas": {
            "AskRequest": {
                "properties": {"question": {"type": "string", "description": "What to ask"}},
                "required": ["question"],
            },
            "Answer": {"properties": {"citations": {"type": "array", "items": ref("Citation")}}},
        }
    },
}  # fmt: skip


def test_render_lists_each_route_its_parameters_body_responses_and_the_models() -> None:
    text = render(SCHEMA)
    assert text.index("### `GET /ask`") < text.index("### `POST /ask`") < text.index("## Models")
    assert "| `q` | query | string (..1000) | yes |  |" in text
    assert "| `top_k` | query | integer (1..20) or null | no |  |" in text
    assert "**Ask.** Answer a question." in text and "More detail" not in text
    assert "Body (required): `application/json` AskRequest." in text
    assert "Responses: `200` The answer (Answer); `422` Bad \\| input." in text
    assert "| `question` | string | yes | What to ask |" in text
    assert "| `citations` | array of Citation | no |  |" in text


def test_splice_replaces_only_the_generated_part() -> None:
    page = f"# Title\n\nhand-written\n\n{BEGIN}\nold\n{END}\nafter\n"
    assert splice(page, "new\n") == f"# Title\n\nhand-written\n\n{BEGIN}\n\nnew\n\n{END}\nafter\n"
    with pytest.raises(ValueError):
        splice("# no markers\n", "new\n")


def test_the_committed_page_is_what_the_app_schema_renders(client: TestClient) -> None:
    page = PAGE.read_text(encoding="utf-8")
    fresh = splice(page, render(client.get("/openapi.json").json()))
    assert page == fresh, "docs/http-api.md is stale: run `python -m qa.web.api_reference`"


def test_check_mode_fails_on_a_stale_page_and_the_rewrite_mends_it(
    tmp_path: Path, client: TestClient, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        "qa.web.api_reference.app_schema", lambda: client.get("/openapi.json").json()
    )
    page = tmp_path / "http-api.md"
    page.write_text(f"# API\n\n{BEGIN}\n\n## Routes\n\nstale\n\n{END}\n")
    assert main([str(page), "--check"]) == 1
    assert main([str(page)]) == 0
    assert "### `POST /ask`" in page.read_text() and main([str(page), "--check"]) == 0
