"""Errors (qa/web/errors.py): 405 lists every method of the path; browsers get HTML error pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.web import (
    EVIL,
    QUESTION,
)


def test_a_wrong_method_is_a_405_that_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/ask", json={"question": QUESTION})
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert client.delete("/index/rebuild").headers["allow"] == "POST"


def test_errors_for_browsers_are_html_pages(client: TestClient) -> None:
    response = client.get(f"/documents/{EVIL}/view?start=5&end=2", headers={"accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "0 &lt;= start &lt; end" in response.text
