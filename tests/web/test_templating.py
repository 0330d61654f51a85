"""The page's templates (qa/web/templating.py): autoescaped, with `view_url` links that quote
the doc_id and carry the span."""

from __future__ import annotations

from qa.web.templating import make_templates, view_url


def test_view_urls_quote_the_doc_id_and_carry_the_span() -> None:
    assert view_url("a b/c#d.txt") == "/documents/a%20b/c%23d.txt/view"
    assert view_url("x.txt", 3, 9) == "/documents/x.txt/view?start=3&end=9#quote"
    assert view_url("x.txt", 3, None) == "/documents/x.txt/view"


def test_templates_escape_what_they_show() -> None:
    environment = make_templates().env
    assert environment.autoescape
    assert environment.globals["view_url"] is view_url
    rendered = environment.from_string("{{ text }}").render(text="<script>")
    assert rendered == "&lt;script&gt;"
