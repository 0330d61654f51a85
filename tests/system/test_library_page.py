"""The library page in Chromium, over a real `qa serve` with the fake embedder (fast): long
names do not widen the page (390 px and 1280 px windows, screenshots in tests/artifacts/),
Remove asks first with and without JavaScript, and the progress bar never goes back when a
queued rebuild starts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import ROOT, SEED_DOC, SEEDS
from tests.support.live_server import LiveServer, start_server

pytestmark = [pytest.mark.browser]

ARTIFACTS = ROOT / "tests" / "artifacts"
LONG_WORD = "Quarterly-maintenance-report-for-the-northern-harbour-lighthouse-and-its-" + "x" * 43
LONG_NAME = LONG_WORD + ".txt"  # 120 characters, the most a name may have, and no space
LONG_SPACED = " ".join(["harbour"] * 14) + ".md"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("library-page")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_DOC, docs / SEED_DOC)
    for n in (10, 2, 1):
        (docs / f"note {n}.txt").write_text(f"Note {n}\n\nThe number of this note is {n}.\n")
    live = start_server(docs, root / "index")
    yield live
    live.stop()


def test_long_names_never_widen_the_page_at_390_and_1280_px(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    assert len(LONG_NAME) == 120
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server.url}/library")
    page.set_input_files(
        "#files",
        [
            {"name": LONG_NAME, "mimeType": "text/plain",
             "buffer": f"{LONG_WORD}\n\nThe lighthouse was repainted in 1911.\n".encode()},
            {"name": LONG_SPACED, "mimeType": "text/markdown",
             "buffer": b"# Harbour notes\n\nThe harbour opened in 1850.\n"},
        ],
    )  # fmt: skip
    page.click("#upload button[type=submit]")
    page.wait_for_selector(".outcomes")
    assert f"Saved {LONG_NAME}" in page.inner_text(".outcomes")
    page.wait_for_selector(f"tr[data-doc-id='{LONG_NAME}']", timeout=30000)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for path, name in ((page.url, "upload"), (f"{server.url}/library", "list")):
            page.goto(path)
            shot = ARTIFACTS / f"library-long-names-{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            inner = page.evaluate("window.innerWidth")
            assert scroll <= inner, f"{name} page is {scroll} px wide in a {inner} px window"
        confirm = f"{server.url}/library/remove?doc_id={LONG_NAME}"
        page.goto(confirm)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_names_sort_naturally_on_the_page(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{server.url}/library?sort=name")
    rows = page.locator("tr[data-doc-id^='note ']").evaluate_all(
        "rows => rows.map(r => r.dataset.docId)"
    )
    assert rows == ["note 1.txt", "note 2.txt", "note 10.txt"]


def test_remove_asks_first_even_without_javascript(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    docs = Path(httpx.get(f"{server.url}/health").json()["docs"])
    (docs / "goner.txt").write_text("Goner\n\nThis note will be removed in a moment.\n")
    assert httpx.post(f"{server.url}/index/rebuild", timeout=60).status_code == 200
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.url}/library")
    page.click("tr[data-doc-id='goner.txt'] a.remove")
    assert "/library/remove?doc_id=goner.txt" in page.url
    assert "Remove a document?" in page.inner_text("main") and (docs / "goner.txt").exists()
    page.click("form.confirm button[type=submit]")
    page.wait_for_selector("text=moved to")
    assert "/library?done=" in page.url and not (docs / "goner.txt").exists()
    page.reload()  # a reload shows the result again and posts nothing
    assert "moved to" in page.inner_text("main")
    context.close()
    page = browser.new_page()  # with JavaScript: confirm() asks; dismissed, nothing happens
    (docs / "stays.txt").write_text("Stays\n\nThis note stays where it is.\n")
    assert httpx.post(f"{server.url}/index/rebuild", timeout=60).status_code == 200
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/library")
    page.click("tr[data-doc-id='stays.txt'] a.remove")
    page.wait_for_timeout(300)
    assert dialogs == ["Remove stays.txt? The file goes to .trash/ in the docs folder."]
    assert page.url == f"{server.url}/library" and (docs / "stays.txt").exists()


def _status(rebuilding: bool, percent: int | None, rebuilds: int, queued: bool = False) -> dict:
    return {
        "rebuilding": rebuilding, "queued": queued, "stage": "embedding" if rebuilding else None,
        "done": 0, "total": 0, "percent": percent,
        "message": f"embedding {percent} of 100" if rebuilding else "idle",
        "rebuilds": rebuilds, "last_rebuild": None, "error": None, "index_version": None,
        "documents": 0, "chunks": 0,
    }  # fmt: skip


def test_the_progress_bar_never_goes_back_when_a_queued_rebuild_starts(
    server: LiveServer, browser
) -> None:  # type: ignore[no-untyped-def]
    import json

    start = httpx.get(f"{server.url}/index/status").json()["rebuilds"]
    script = [
        _status(True, 50, start),
        _status(True, 92, start, queued=True),  # another upload queues a second rebuild
        _status(True, 15, start + 1),  # the first is done; the queued one starts
        _status(True, 60, start + 1),
        _status(True, 97, start + 1),
    ]
    served: list[dict] = []

    def reply(route) -> None:  # type: ignore[no-untyped-def]
        status = (
            script[len(served)] if len(served) < len(script) else _status(False, None, start + 2)
        )
        served.append(status)
        route.fulfill(body=json.dumps(status), content_type="application/json")

    page = browser.new_page()
    page.route("**/index/status", reply)
    # Every value the bar takes, recorded from before the page's script runs.
    page.add_init_script(
        """window.barValues = [];
        new MutationObserver((changes) => changes.forEach((c) => {
          if (c.target.id === "rebuild-bar") window.barValues.push(Number(c.target.value));
        })).observe(document, { subtree: true, attributes: true, attributeFilter: ["value"] });"""
    )
    page.goto(f"{server.url}/library")
    messages = []
    for _ in range(40):
        page.wait_for_timeout(250)
        messages.append(page.inner_text("#rebuild-message"))
        if len(served) > len(script) + 1:
            break
    values = page.evaluate("window.barValues")
    assert len(served) > len(script), served
    assert values == sorted(values), f"the bar went back: {values}"
    # The two rebuilds share the bar once the second is queued: (finished + current) / runs.
    # Each run's own percent would have read 50, 92, 15, 60, 97.
    assert values[:6] == [50, 50, 57, 80, 98, 100], values
    assert any("Another rebuild is queued" in m for m in messages), messages


def test_the_page_checks_chosen_files_with_the_server_s_words(server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{server.url}/library")
    many = [{"name": f"f{n}.txt", "mimeType": "text/plain", "buffer": b"Text."} for n in range(11)]
    page.set_input_files("#files", many)
    note = page.inner_text("#upload-check")
    server_says = httpx.post(
        f"{server.url}/documents", files=[("files", (f["name"], f["buffer"])) for f in many]
    ).json()["detail"]
    assert (
        note == server_says == "too many files: at most 10 per upload; send the others in another"
    )
    page.click("#upload button[type=submit]")  # blocked in the page: nothing is posted
    assert page.url == f"{server.url}/library"
