"""Chromium as a remote admin would use it, for tests/system/test_remote_admin.py:

    python -m tests.support.remote_browser BASE_URL TOKEN ARTIFACTS_DIR

Run inside a network namespace (`ip netns exec`), so the server at BASE_URL is another
machine to the browser: plain HTTP, not a potentially trustworthy origin. Unlocks the library
page with TOKEN, uploads `remote.txt`, waits until it is listed, removes it (accepting the
confirm() dialog), then, from a page of another site (`http://evil.test/`, served by a
route), posts the page's remove form for `keep.txt`: once with the default referrer policy
(`Origin: http://evil.test`) and once under `no-referrer` (`Origin: null`). Prints one JSON
object: what each step saw (texts, statuses) and the headers Chromium sent on the posts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

REMOTE_TEXT = b"Remote note\n\nThe harbour crane was painted green in 1954 by the night shift.\n"
EVIL_PAGE = """<!doctype html><html><head>{meta}</head><body>
<form id="f" method="post" action="{base}/library/remove" enctype="multipart/form-data">
<input type="hidden" name="doc_id" value="keep.txt"><button>Win a prize</button></form>
</body></html>"""


def main(base: str, token: str, artifacts: Path) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    seen: dict[str, Any] = {"posts": [], "dialogs": []}

    def on_request(request: Any) -> None:
        if request.method == "POST":
            headers = request.all_headers()
            seen["posts"].append(
                {
                    "url": request.url,
                    "page": request.frame.url,
                    # set before the posts from the other site: the frame's URL at this moment
                    # may already be the post's target
                    "cross_site": bool(seen.get("posting_cross_site")),
                    "origin": headers.get("origin"),
                    "sec-fetch-site": headers.get("sec-fetch-site"),
                    "referer": headers.get("referer"),
                }
            )

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.accept()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", on_request)
        page.on("dialog", on_dialog)
        page.goto(f"{base}/library")
        seen["locked"] = page.locator("#token").count() == 1
        page.fill("#token", token)
        page.click("form.token button[type=submit]")
        page.wait_for_selector("text=Unlocked")
        seen["unlock_url"] = page.url
        page.set_input_files(
            "#files", [{"name": "remote.txt", "mimeType": "text/plain", "buffer": REMOTE_TEXT}]
        )
        page.click("#upload button[type=submit]")
        page.wait_for_selector(".outcomes")
        seen["upload_text"] = page.inner_text(".outcomes")
        seen["upload_url"] = page.url
        page.wait_for_selector("tr[data-doc-id='remote.txt']", timeout=60000)
        page.screenshot(path=str(artifacts / "remote-admin-library.png"), full_page=True)
        page.click("tr[data-doc-id='remote.txt'] a.remove")
        page.wait_for_selector("text=moved to")
        seen["remove_text"] = page.inner_text("main")
        seen["remove_url"] = page.url
        expect(page.locator("tr[data-doc-id='remote.txt']")).to_have_count(0, timeout=60000)
        seen["posting_cross_site"] = True
        seen["cross_site"] = [cross_site(page, base, meta) for meta in ("", NO_REFERRER)]
        browser.close()
    return seen


NO_REFERRER = '<meta name="referrer" content="no-referrer">'


def cross_site(page: Any, base: str, meta: str) -> dict[str, Any]:
    """Post the remove form from `http://evil.test/` (with `meta` in its head); the status
    and text the server answered."""
    html = EVIL_PAGE.format(meta=meta, base=base)
    page.route(
        "http://evil.test/", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.goto("http://evil.test/")
    with page.expect_response(f"{base}/library/remove") as caught:
        page.click("#f button")
    response = caught.value
    page.unroute("http://evil.test/")
    return {"status": response.status, "text": response.text()[:4000]}


if __name__ == "__main__":
    base_url, admin_token, folder = sys.argv[1:4]
    print(json.dumps(main(base_url, admin_token, Path(folder))))
