"""The product in a real browser: `qa serve` (real model) driven by Debian's Chromium.

Also checks, against the same live server, that an index rebuilt by another process
(`qa index`) is picked up within a couple of seconds, and that `POST /index/rebuild` works.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import ROOT, SEED_DOC, SEEDS

pytestmark = [pytest.mark.browser, pytest.mark.model]

ARTIFACTS = ROOT / "tests" / "artifacts"
QA = Path(sys.executable).parent / "qa"
QUESTION = "When did Luxon take office?"
EVIL = "notes/evil.txt"
EVIL_TEXT = (
    "Security note\n\nThis note tests escaping: <script>alert(1)</script> must show as text. "
    'An image tag <img src=x onerror="alert(2)"> must too. The office cat is named Whiskers.\n'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"qa serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"qa serve was not ready after {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`qa serve` on a free loopback port over the seed article and a `<script>` note."""
    root = tmp_path_factory.mktemp("live")
    docs, index = root / "docs", root / "index"
    (docs / "notes").mkdir(parents=True)
    shutil.copy(SEEDS / SEED_DOC, docs / SEED_DOC)
    (docs / EVIL).write_text(EVIL_TEXT)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "QA_ADMIN_TOKEN"}
    # The answer's flow: the seed question (confidence 0.94) is an `answer` here; under the
    # fitted cut (0.97) it is `candidates`, whose page tests/system/test_browser_outcomes.py drives.
    env["QA_ANSWER_THRESHOLD"] = "0.9"
    command = [str(QA), "serve", "--docs", str(docs), "--index", str(index), "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_healthy(base, process, log, timeout=180)
        yield {"base": base, "docs": docs, "index": index, "log": log, "env": env}
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _watch(page, accept: bool = False) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Record dialogs (dismissed, or accepted with `accept`) and console errors of `page`."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": []}

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        seen["dialogs"].append(dialog.message)
        if accept and dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    return seen


def _in_viewport(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_ask_see_the_cited_answer_and_follow_the_citation(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    expected = httpx.get(f"{live['base']}/ask", params={"q": QUESTION}, timeout=30).json()
    assert expected["answered"], expected
    quote = expected["citations"][0]["quote"]
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    seen = _watch(page)
    page.goto(live["base"] + "/")
    page.fill("#q", QUESTION)
    page.click("button[type=submit]")
    page.wait_for_selector(".answer")
    answer = page.inner_text(".answer")
    assert quote in answer and "confidence" in answer.lower()
    assert page.input_value("#q") == QUESTION
    assert page.inner_text("a.cite").strip() == "[1]"
    assert quote in page.inner_text("#source-1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)

    page.click("a.cite")  # the [1] marker jumps to source 1
    assert page.url.endswith("#source-1")
    page.click("#source-1 .meta a")  # ...whose link opens the document at the quote
    page.wait_for_selector("mark#quote")
    assert "/view?start=" in page.url
    assert page.inner_text("mark#quote") == quote
    assert _in_viewport(page, "mark#quote")
    page.screenshot(path=str(ARTIFACTS / "view.png"))
    assert seen == {"dialogs": [], "errors": []}


def test_the_view_page_scrolls_to_the_mark_without_a_fragment(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    text = httpx.get(f"{live['base']}/documents/{SEED_DOC}").json()["text"]
    end = len(text.rstrip())
    start = text.rindex(". ", 0, end - 1) + 2  # the last sentence, far below the fold
    page = browser.new_page(viewport={"width": 390, "height": 500})
    page.goto(f"{live['base']}/documents/{SEED_DOC}/view?start={start}&end={end}")
    assert page.inner_text("mark#quote") == text[start:end]
    page.wait_for_function("window.scrollY > 0")
    assert _in_viewport(page, "mark#quote")


def test_script_in_a_document_or_the_question_never_runs(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    seen = _watch(page)
    question = "What is the office cat named? <script>alert(3)</script><img src=x onerror=alert(4)>"
    page.goto(live["base"] + "/")
    page.fill("#q", question)
    page.click("button[type=submit]")
    page.wait_for_selector(".answer")
    assert page.input_value("#q") == question
    page.click("details.passages summary")
    assert "<script>alert(1)</script>" in page.inner_text("details.passages")
    page.goto(f"{live['base']}/documents/{EVIL}/view?start=0&end=20")
    assert "<script>alert(1)</script>" in page.inner_text(".document .text")
    assert page.locator("script").count() == 0
    page.wait_for_timeout(300)
    assert seen["dialogs"] == []


def test_the_page_works_without_javascript_and_on_a_phone(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    page.goto(live["base"] + "/")
    page.fill("#q", QUESTION)
    page.press("#q", "Enter")
    page.wait_for_selector("#source-1")
    page.screenshot(path=str(ARTIFACTS / "answer-phone.png"), full_page=True)
    context.close()
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{live['base']}/?q={QUESTION}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll


def test_api_docs_render_offline_under_the_csp(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    seen = _watch(page)
    page.goto(live["base"] + "/docs")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 7
    assert not [e for e in seen["errors"] if "Content Security Policy" in e]


def test_an_index_rebuilt_by_qa_index_in_another_process_is_picked_up(live: dict) -> None:
    base = live["base"]
    (live["docs"] / "harbour.txt").write_text(
        "Harbour history\n\nThe harbour bridge opened in 1932 after eight years of building."
    )
    assert httpx.get(f"{base}/documents/harbour.txt").status_code == 404
    command = [str(QA), "index", "--docs", str(live["docs"]), "--index", str(live["index"])]
    subprocess.run(command + ["--json"], check=True, env=live["env"], capture_output=True)
    done = time.monotonic()
    while httpx.get(f"{base}/documents/harbour.txt").status_code != 200:
        assert time.monotonic() - done < 2.5, "the server did not pick up the new index"
        time.sleep(0.1)
    answer = httpx.get(f"{base}/ask", params={"q": "When did the harbour bridge open?"}).json()
    assert any(c["doc_id"] == "harbour.txt" for c in answer["citations"])


def test_rebuild_over_http_picks_up_a_new_document(live: dict) -> None:
    base = live["base"]
    (live["docs"] / "kiwi.txt").write_text(
        "Kiwi facts\n\nThe kiwi is a flightless bird that lays a very large egg."
    )
    report = httpx.post(f"{base}/index/rebuild", timeout=120)
    assert report.status_code == 200, report.text
    assert report.json()["added"] == 1 and report.json()["embedded"] >= 1
    answer = httpx.get(f"{base}/ask", params={"q": "Which bird lays a very large egg?"}).json()
    assert any(c["doc_id"] == "kiwi.txt" for c in answer["citations"])
    log = live["log"].read_text()
    assert "POST /index/rebuild 200" in log and " ms" in log


LIGHTHOUSE_FACT = (
    "The Vardø lighthouse keeper, Ingrid Halvorsen, repainted the tower in 1911 using forty "
    "litres of red paint."
)
LIGHTHOUSE_QUESTION = "Who repainted the Vardø lighthouse tower?"


def _lighthouse_text() -> str:
    """A document long enough that its rebuild takes a few seconds (a visible progress bar),
    holding one fact no other document has."""
    filler = [
        f"Logbook entry {n} notes a calm sea, {n % 7 + 2} ships passing and a light wind from "
        f"the {('north', 'east', 'south', 'west')[n % 4]}."
        for n in range(900)
    ]
    paragraphs = [" ".join(filler[i : i + 6]) for i in range(0, len(filler), 6)]
    return "Lighthouse records\n\n" + LIGHTHOUSE_FACT + "\n\n" + "\n\n".join(paragraphs) + "\n"


def test_upload_watch_the_rebuild_ask_remove_and_see_it_abstain(live: dict, browser) -> None:  # type: ignore[no-untyped-def]
    base = live["base"]
    before = httpx.get(f"{base}/ask", params={"q": LIGHTHOUSE_QUESTION}, timeout=30).json()
    assert not any(c["doc_id"] == "lighthouse.txt" for c in before["citations"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    seen = _watch(page, accept=True)
    page.goto(f"{base}/library")
    page.set_input_files(
        "#files",
        [
            {"name": "lighthouse.txt", "mimeType": "text/plain",
             "buffer": _lighthouse_text().encode()},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 broken"},
        ],
    )  # fmt: skip
    page.click("#upload button[type=submit]")
    page.wait_for_selector(".outcomes")
    assert "/library?done=" in page.url  # post/redirect/get: a reload posts nothing
    assert "Saved lighthouse.txt" in page.inner_text(".outcomes")
    assert "Not saved: broken.pdf" in page.inner_text(".outcomes")
    # The bar follows the rebuild without a reload.
    from playwright.sync_api import expect

    message = page.locator("#rebuild-message")
    expect(message).to_contain_text("embedding", timeout=60000)
    bar = page.locator("#rebuild-bar")
    assert bar.is_visible() and 0 <= float(bar.get_attribute("value") or 0) <= 100
    page.screenshot(path=str(ARTIFACTS / "web-progress.png"))
    expect(message).to_contain_text("Up to date", timeout=180000)
    page.wait_for_selector("tr[data-doc-id='lighthouse.txt']", timeout=10000)
    assert "broken.pdf" not in page.inner_text("#documents")
    page.fill("#filter", "light")  # filters as you type
    assert page.locator("tr[data-search]:not([hidden])").count() == 1
    page.fill("#filter", "")
    page.screenshot(path=str(ARTIFACTS / "web-library.png"), full_page=True)

    page.goto(f"{base}/?q={LIGHTHOUSE_QUESTION}")
    assert "Ingrid Halvorsen" in page.inner_text(".answer")
    assert "lighthouse.txt" in page.inner_text(".sources")

    page.goto(f"{base}/library")
    page.click("tr[data-doc-id='lighthouse.txt'] a.remove")  # confirm() asks; accepted
    page.wait_for_selector("text=moved to")
    expect(page.locator("tr[data-doc-id='lighthouse.txt']")).to_have_count(0, timeout=120000)
    expect(page.locator("#rebuild-message")).to_contain_text("Up to date", timeout=120000)
    assert list((live["docs"] / ".trash").rglob("lighthouse.txt"))
    page.goto(f"{base}/?q={LIGHTHOUSE_QUESTION}")
    assert page.locator(".answer.abstained").count() == 1
    assert "Ingrid Halvorsen" not in page.inner_text("main")
    assert seen["dialogs"] == [
        "Remove lighthouse.txt? The file goes to .trash/ in the docs folder."
    ] and not [e for e in seen["errors"] if "Security" in e]

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(f"{base}/library")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    phone.screenshot(path=str(ARTIFACTS / "web-library-phone.png"), full_page=True)
