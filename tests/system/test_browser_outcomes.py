"""The three outcomes on the page, in Debian's Chromium: the answer in its context, the passages
that may answer, and "the documents don't say", each on a phone (390 px) and a desktop
(1280 px) screen, screenshots in tests/artifacts/.

The server is the real `qa serve` (tests.support.serve_worker: fake embedder), its cut points
set through `QA_THRESHOLD` / `QA_ANSWER_THRESHOLD` so each outcome is certain to come.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fakes import ROOT, SEED_DOC, SEEDS
from tests.support.live_server import start_server

pytestmark = [pytest.mark.browser]

ARTIFACTS = ROOT / "tests" / "artifacts"
QUESTION = "When did Luxon take office?"
CUTS = {
    "answer": {"QA_THRESHOLD": "0"},
    "candidates": {"QA_THRESHOLD": "0", "QA_ANSWER_THRESHOLD": "1"},
    "none": {"QA_THRESHOLD": "1"},
}
WIDTHS = (390, 1280)


@pytest.fixture(scope="module", params=list(CUTS))
def served(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(outcome, base URL) of a server over the seed article whose cut points force it."""
    root = tmp_path_factory.mktemp(request.param)
    (root / "docs").mkdir()
    shutil.copy(SEEDS / SEED_DOC, root / "docs" / SEED_DOC)
    server = start_server(root / "docs", root / "index", env=CUTS[request.param], timeout=120)
    try:
        yield request.param, server.url
    finally:
        server.stop()


def _screens(page, outcome: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshots at each width; no sideways scroll on any."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"outcome-{outcome}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_each_outcome_on_the_page(served: tuple[str, str], browser) -> None:  # type: ignore[no-untyped-def]
    outcome, base = served
    body = httpx.get(f"{base}/ask", params={"q": QUESTION}, timeout=30).json()
    assert body["outcome"] == outcome and body["answered"] == (outcome == "answer")
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")
    page.fill("#q", QUESTION)
    page.click("button[type=submit]")
    page.wait_for_selector(f'.answer[data-outcome="{outcome}"]')
    heading = page.inner_text(".answer h2")
    if outcome == "none":
        assert "don't say" in heading and page.locator(".sources").count() == 0
    else:
        expected = "Answer" if outcome == "answer" else "These passages may answer it"
        assert heading.lower() == expected.lower()  # CSS upper-cases the plain heading
        for c in body["citations"]:
            item = page.locator(f"#source-{c['n']}")
            # The context as on the page: the quote marked, the sentences around it plain.
            assert " ".join(item.locator("blockquote").inner_text().split()) == " ".join(
                c["context"].split()
            )
            assert " ".join(item.locator("mark.quote").inner_text().split()) == " ".join(
                c["quote"].split()
            )
        if outcome == "candidates":
            assert page.locator(".sources li .confidence").count() == len(body["citations"])
            assert "may answer" in page.inner_text(".answer .quote-text")
    _screens(page, outcome)
    assert errors == []
