"""The page and the document view (qa/web/pages.py): the question box, the cited answer,
escaping, highlighted spans."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

import qa.pipeline
from qa.web.app import create_app
from qa.web.templating import view_url
from tests.support.fakes import SEED_DOC, FakeEmbedder
from tests.support.web import (
    EVIL,
    EVIL_TEXT,
    QUESTION,
    serve,
)


def test_view_page_marks_the_span(client: TestClient) -> None:
    start = EVIL_TEXT.index("The office cat")
    end = len(EVIL_TEXT) - 1
    response = client.get(f"/documents/{EVIL}/view", params={"start": start, "end": end})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert (
        '<mark id="quote" tabindex="-1" autofocus>The office cat is named Whiskers.</mark>' in html
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_doc_ids_with_spaces_and_signs_link_to_their_view_page(
    local: TestClient, folder: Path
) -> None:
    (folder / "notes" / "week #1 100%.txt").write_text("Minutes\n\nThe kiwi lays large eggs.")
    assert local.post("/index/rebuild").json()["added"] == 1
    doc_id = "notes/week #1 100%.txt"
    link = view_url(doc_id, 9, 34)
    assert link.startswith("/documents/notes/week%20%231%20100%25.txt/view?")
    html = local.get(link).text
    assert '<mark id="quote" tabindex="-1" autofocus>The kiwi lays large eggs.</mark>' in html
    assert local.get(link.replace("/view", "").split("?")[0]).json()["doc_id"] == doc_id


def test_view_page_without_a_span_shows_the_whole_document(client: TestClient) -> None:
    html = client.get(f"/documents/{SEED_DOC}/view").text
    assert "<mark" not in html and "Luxon, who took office" in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?start=5&end=2", 400, "0 <= start < end"),
        ("?start=5&end=5", 400, "0 <= start < end"),
        ("?start=0&end=100000", 400, f"<= {len(EVIL_TEXT)}"),
        ("?start=5", 400, "both start and end"),
        ("?start=-1&end=3", 422, "greater than or equal to 0"),
        ("?start=one&end=3", 422, "valid integer"),
    ],
)
def test_view_page_refuses_spans_out_of_range(
    client: TestClient, query: str, status: int, message: str
) -> None:
    response = client.get(f"/documents/{EVIL}/view{query}")
    assert response.status_code == status and message in response.json()["detail"]


def test_page_without_a_question_shows_the_box(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<input id="q" name="q"' in response.text and "<script" not in response.text
    assert '<link rel="stylesheet" href="/static/style.css">' in response.text
    css = client.get("/static/style.css")
    assert css.status_code == 200 and len(css.content) < 9000


def test_page_shows_the_answer_with_linked_numbered_sources(client: TestClient) -> None:
    response = client.get("/", params={"q": QUESTION})
    assert response.status_code == 200
    html = response.text
    answer = client.get("/ask", params={"q": QUESTION}).json()
    assert f'value="{QUESTION}"' in html  # the last question stays in the box
    assert "confidence" in html.lower()
    for citation in answer["citations"]:
        n = citation["n"]
        assert f'<a class="cite" href="#source-{n}"' in html
        assert f'<li id="source-{n}"' in html
        link = view_url(citation["doc_id"], citation["start"], citation["end"])
        assert f'href="{link.replace("&", "&amp;")}"' in html
    assert "<details" in html and "Retrieved passages" in html


def test_page_says_when_the_documents_do_not_answer(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_assistant(folder, FakeEmbedder(), threshold=1.0))
    with serve(app) as client:
        html = client.get("/", params={"q": "What is the boiling point of tungsten?"}).text
        assert "The documents don't say" in html
        assert 'class="sources"' not in html and "<details" in html


def test_page_escapes_documents_and_the_question(client: TestClient) -> None:
    question = 'Whiskers <script>alert("q")</script> cat?'
    html = client.get("/", params={"q": question}).text
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the document, in the passages


def test_page_with_a_bad_question_is_a_400_page(client: TestClient) -> None:
    for q in ("", "   ", "x" * 1001):
        response = client.get("/", params={"q": q})
        assert response.status_code == 400
        assert 'class="notice error"' in response.text


def test_page_shows_a_short_answer_inside_its_quote(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = qa.pipeline.Assistant.ask

    def ask_with_short(self, question, top_k=None):  # type: ignore[no-untyped-def]
        result = original(self, question, top_k)
        first = result.citations[0]
        short = {"text": first.quote[:4], "start": first.start, "end": first.start + 4,
                 "doc_id": first.doc_id}  # fmt: skip
        to_dict = result.to_dict
        result.to_dict = lambda: {**to_dict(), "short_answer": short}
        return result

    monkeypatch.setattr(qa.pipeline.Assistant, "ask", ask_with_short)
    body = client.get("/ask", params={"q": QUESTION}).json()
    html = client.get("/", params={"q": QUESTION}).text
    quote = body["citations"][0]["quote"]
    assert f'<mark class="quote"><strong class="hit">{quote[:4]}</strong>{quote[4:]}</mark>' in html


def _page(make_assistant, folder: Path, **cuts: float) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    """The page and the /ask object for `QUESTION` with the cut points `cuts`."""
    with serve(create_app(make_assistant(folder, FakeEmbedder(), **cuts))) as client:
        return client.get("/", params={"q": QUESTION}).text, client.get(
            "/ask", params={"q": QUESTION}
        ).json()


def _shows_contexts(html: str, citations: list[dict]) -> None:
    """Each citation's quote marked inside its context, the sentences around it muted (a short
    answer's emphasis inside the quote aside)."""
    html = re.sub(r'<strong class="hit">(.*?)</strong>', r"\1", html)
    for c in citations:
        lo, hi = c["start"] - c["context_start"], c["end"] - c["context_start"]
        before, after = c["context"][:lo], c["context"][hi:]
        marked = f'<mark class="quote">{escape(c["quote"])}</mark>'
        if before:
            marked = f'<span class="around">{escape(before)}</span>' + marked
        if after:
            marked += f'<span class="around">{escape(after)}</span>'
        assert f'<blockquote class="context">{marked}</blockquote>' in html


def test_page_shows_the_answer_in_its_context(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    html, body = _page(make_assistant, folder, threshold=0.0)
    assert body["outcome"] == "answer" and 'data-outcome="answer"' in html
    assert ">Answer</h2>" in html and "<h2>Sources</h2>" in html
    assert any(c["context"] != c["quote"] for c in body["citations"])
    _shows_contexts(html, body["citations"])


def test_page_shows_candidates_as_passages_that_may_answer(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    html, body = _page(make_assistant, folder, threshold=0.0, answer_threshold=1.0)
    assert body["outcome"] == "candidates" and not body["answered"]
    assert 'data-outcome="candidates"' in html and ">Answer</h2>" not in html
    assert "These passages may answer it</h2>" in html
    assert "Passages that may answer it</h2>" in html
    for c in body["citations"]:
        assert f'<a class="cite" href="#source-{c["n"]}" aria-label="passage {c["n"]}">' in html
        assert f"confidence\n        {c['confidence']:.2f}" in html
    _shows_contexts(html, body["citations"])


def test_page_shows_none_without_sources(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    html, body = _page(make_assistant, folder, threshold=1.0)
    assert body["outcome"] == "none" and body["citations"] == []
    assert 'data-outcome="none"' in html and "The documents don't say" in html
    assert 'class="sources"' not in html


def test_page_shows_a_table_rows_header_above_it(tmp_path: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "clusters.md").write_text(
        "We run two storage clusters.\n\n| Cluster | Machines | Disk space |\n|---|---|---|\n"
        "| A | 342 | 72 TB |\n| B | 227 | 180 TB |\n"
    )
    question = "Which cluster has 227 machines and 180 TB of disk space?"
    with serve(create_app(make_assistant(docs, FakeEmbedder(), threshold=0.0))) as client:
        body = client.get("/ask", params={"q": question}).json()
        html = client.get("/", params={"q": question}).text
    first = body["citations"][0]
    assert first["quote"] == "| B | 227 | 180 TB |"
    assert first["header"] == "| Cluster | Machines | Disk space |"
    text = (docs / "clusters.md").read_text()
    assert text[first["header_start"] : first["header_end"]] == first["header"]
    header = f'<span class="table-header">{escape(first["header"])}</span>'
    assert f'<blockquote class="context">{header}<mark class="quote">' in html
