"""The documents over HTTP and on the page (qa/web/library.py): the list, uploads (names,
limits, types, duplicates, concurrency, during a rebuild), removals, rebuild status, and who
may write (loopback, token, reader-only, CSRF)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import qa.indexer
from qa.config import Role
from qa.indexer import Progress, refresh
from qa.pipeline import Assistant
from qa.web import library
from qa.web.app import create_app
from qa.web.guard import ADMIN_COOKIE
from tests.support.fakes import SEED_DOC, FakeEmbedder
from tests.support.web import EVIL, LOCAL, REMOTE, serve, wait_until

TOKEN = "s3cret-token"
ZEBRA = "zebra.txt", b"Zebra facts\n\nThe zebra named Quux lives in the Oslo zoo since 2019.\n"
SITE = {"origin": "http://127.0.0.1:8000"}
HTML = {"accept": "text/html", **SITE}


def upload(client: TestClient, *files: tuple[str, bytes], **params: object):  # type: ignore[no-untyped-def]
    parts = [("files", (name, data)) for name, data in files]
    return client.post("/documents", files=parts, params=params)


def doc_ids(client: TestClient) -> list[str]:
    return [d["doc_id"] for d in client.get("/documents").json()["documents"]]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


@pytest.fixture
def remote(assistant: Assistant) -> Iterator[TestClient]:
    with serve(create_app(assistant, admin_token=TOKEN), **REMOTE) as client:
        yield client


# ---- the list -----------------------------------------------------------------------------


def test_get_documents_lists_every_indexed_document_with_its_figures(local: TestClient) -> None:
    body = local.get("/documents").json()
    assert body["total"] == 2 and body["offset"] == 0 and body["limit"] == library.PAGE_SIZE
    seed = next(d for d in body["documents"] if d["doc_id"] == SEED_DOC)
    assert seed["title"].startswith("Japan and New Zealand")
    assert seed["type"] == "txt" and seed["size"] > 1000 and seed["chunks"] >= 1
    assert seed["indexed_at"] > 1.7e9
    index = body["index"]
    assert index["generation"] and index["model"] == "fake-bow-64"
    assert index["documents"] == 2 and index["chunks"] >= 2
    assert body["skipped"] == []


def test_get_documents_pages_filters_and_sorts(local: TestClient) -> None:
    first = local.get("/documents", params={"limit": 1}).json()
    second = local.get("/documents", params={"limit": 1, "offset": 1}).json()
    assert first["total"] == second["total"] == 2
    assert len(first["documents"]) == len(second["documents"]) == 1
    assert first["documents"][0]["doc_id"] != second["documents"][0]["doc_id"]
    only = local.get("/documents", params={"q": "JAPAN"}).json()
    assert [d["doc_id"] for d in only["documents"]] == [SEED_DOC] and only["total"] == 1
    by_size = local.get("/documents", params={"sort": "size", "desc": "true"}).json()
    sizes = [d["size"] for d in by_size["documents"]]
    assert sizes == sorted(sizes, reverse=True)
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"sort": "colour"}):
        assert local.get("/documents", params=bad).status_code == 422


def test_skipped_files_are_listed_with_their_reason(local: TestClient, folder: Path) -> None:
    (folder / "data.bin.txt").write_bytes(b"\x00\x01binary")
    (folder / "table.xlsx").write_bytes(b"PK")
    local.post("/index/rebuild")
    skipped = {s["path"]: s["reason"] for s in local.get("/documents").json()["skipped"]}
    assert "binary" in skipped["data.bin.txt"] and "unsupported" in skipped["table.xlsx"]
    page = local.get("/library").text
    assert "table.xlsx" in page and "unsupported file type" in page


def test_the_library_page_lists_documents_without_javascript(local: TestClient) -> None:
    page = local.get("/library")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    text = page.text
    assert '<a href="/library">Library</a>' in text
    assert f"/documents/{SEED_DOC}/view" in text and "<code>notes/evil.txt</code>" in text
    assert "&lt;script&gt;" not in text or "<script>alert" not in text
    assert '<script src="/static/library.js" defer></script>' in text
    assert text.count("<script") == 1  # no inline script: the CSP stays 'self' only
    # the file picker offers every type the indexer reads, decks included
    assert 'accept=".txt,.md,.markdown,.html,.htm,.pdf,.docx,.pptx"' in text
    assert 'id="rebuild-bar"' in text and "Up to date." in text
    assert 'name="files"' in text and "multiple" in text and 'name="replace"' in text
    assert 'name="token"' not in text  # this machine needs no token


def test_the_library_page_filters_and_sorts_on_the_server(local: TestClient) -> None:
    filtered = local.get("/library", params={"q": "evil"}).text
    assert "notes/evil.txt" in filtered and f"<code>{SEED_DOC}</code>" not in filtered
    assert "1 of 2 documents shown" in filtered
    by_name = local.get("/library", params={"sort": "name"}).text
    by_name_desc = local.get("/library", params={"sort": "name", "desc": "true"}).text
    assert by_name.index("Japan and New") < by_name.index("Security note")
    assert by_name_desc.index("Japan and New") > by_name_desc.index("Security note")
    assert local.get("/library", params={"sort": "date"}).status_code == 200
    assert local.get("/library", params={"sort": "evil"}).status_code == 422


def test_the_static_script_is_served_with_the_page_csp(local: TestClient) -> None:
    script = local.get("/static/library.js")
    assert script.status_code == 200 and "/index/status" in script.text
    csp = local.get("/library").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1]


# ---- uploads ------------------------------------------------------------------------------


def test_an_upload_is_written_indexed_and_answerable(local: TestClient, folder: Path) -> None:
    response = upload(local, ZEBRA, wait="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saved"] == [{"filename": "zebra.txt", "doc_id": "zebra.txt", "replaced": False}]
    assert body["rejected"] == [] and body["rebuild"]["added"] == 1
    assert (folder / "zebra.txt").read_bytes() == ZEBRA[1]
    assert "zebra.txt" in doc_ids(local)
    assert local.get("/documents/zebra.txt").json()["text"] == ZEBRA[1].decode()


def test_an_upload_without_wait_is_accepted_and_rebuilt_in_the_background(
    local: TestClient,
) -> None:
    response = upload(local, ZEBRA)
    assert response.status_code == 202 and response.json()["rebuild"] == "queued"
    wait_until(lambda: "zebra.txt" in doc_ids(local))
    wait_until(lambda: not local.get("/index/status").json()["queued"])


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../outside.txt", "outside.txt"),
        ("..\\..\\outside.txt", "outside.txt"),
        ("/etc/cron.d/outside.txt", "outside.txt"),
        (".hidden.txt", "hidden.txt"),
        ("<img src=x onerror=alert(1)>.txt", "img src_x onerror_alert_1.txt"),
    ],
)
def test_hostile_names_are_made_safe_and_stay_inside_the_folder(
    local: TestClient, folder: Path, sent: str, kept: str
) -> None:
    response = upload(local, (sent, b"A note about safe names and where files go."), wait="true")
    assert response.status_code == 200, response.text
    assert response.json()["saved"][0]["doc_id"] == kept
    assert (folder / kept).is_file()
    assert not (folder.parent / "outside.txt").exists()
    assert kept in doc_ids(local)


def test_a_name_with_nothing_usable_is_refused(local: TestClient, folder: Path) -> None:
    before = names(folder)
    response = upload(local, ("...", b"text"))
    assert response.status_code == 422 and "rename" in response.json()["detail"]
    assert names(folder) == before


def test_an_oversized_file_is_refused_before_anything_is_written(
    folder: Path, make_assistant
) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(folder, FakeEmbedder(), threshold=0.05, max_file_mb=0.001)
    with serve(create_app(assistant), **LOCAL) as client:
        response = upload(client, ("big.txt", b"word " * 400))
        assert response.status_code == 413
        assert "too large" in response.json()["rejected"][0]["reason"]
        assert not (folder / "big.txt").exists()


def test_a_request_over_the_upload_limit_is_a_413(local: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    big = b"x" * (library.MAX_UPLOAD_BYTES + 1)
    response = upload(local, ("huge.txt", big))
    assert response.status_code == 413 and "MB" in response.json()["detail"]


def test_uploads_may_be_larger_than_the_64_kb_of_other_routes(
    local: TestClient, folder: Path
) -> None:
    text = ("The long report says the lighthouse was painted red in 1911. " * 2000).encode()
    assert len(text) > 64 * 1024
    assert upload(local, ("long.txt", text)).status_code == 202
    assert (folder / "long.txt").read_bytes() == text
    assert local.post("/ask", json={"question": "x" * 70000}).status_code == 413


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("tool.exe", b"MZ\x90\x00", 415, "unsupported file type"),
        ("noext", b"plain", 415, "unsupported file type"),
        ("broken.pdf", b"%PDF-1.7 garbage that is not a pdf", 422, "cannot parse PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", 422, "cannot parse DOCX"),
        ("binary.txt", b"\x00\x01\x02\x03", 422, "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), 422, "UTF-8"),
        ("empty.md", b"", 422, "empty"),
    ],
)
def test_bad_files_get_a_clear_message_and_are_not_written(
    local: TestClient, folder: Path, name: str, data: bytes, status: int, words: str
) -> None:
    before = names(folder)
    response = upload(local, (name, data))
    assert response.status_code == status, response.text
    body = response.json()
    assert words in body["rejected"][0]["reason"] and name in body["detail"]
    assert body["saved"] == [] and names(folder) == before


def test_good_files_are_saved_and_bad_ones_refused_in_one_request(
    local: TestClient, folder: Path
) -> None:
    response = upload(local, ZEBRA, ("bad.pdf", b"%PDF-nope"), ("a.exe", b"MZ"), wait="true")
    assert response.status_code == 200
    body = response.json()
    assert [s["doc_id"] for s in body["saved"]] == ["zebra.txt"]
    assert {r["filename"]: r["status"] for r in body["rejected"]} == {"bad.pdf": 422, "a.exe": 415}
    assert not (folder / "bad.pdf").exists() and not (folder / "a.exe").exists()
    assert "bad.pdf" not in doc_ids(local)


def test_too_many_files_in_one_request_are_refused_whole(local: TestClient, folder: Path) -> None:
    files = [(f"f{n}.txt", b"Some text.") for n in range(library.MAX_FILES + 1)]
    response = upload(local, *files)
    assert response.status_code == 413 and "at most" in response.json()["detail"]
    assert not (folder / "f0.txt").exists()


def test_no_file_and_a_non_multipart_body_are_refused(local: TestClient) -> None:
    none = local.post("/documents", files={"replace": (None, "true")})
    assert none.status_code == 422 and "no file" in none.json()["detail"]
    json_body = local.post("/documents", json={"files": ["a.txt"]})
    assert json_body.status_code == 415 and "multipart" in json_body.json()["detail"]


def test_a_duplicate_name_is_replaced_only_when_asked(local: TestClient, folder: Path) -> None:
    original = (folder / SEED_DOC).read_bytes()
    new = b"Japan facts\n\nThe new version says the meeting was in Kyoto.\n"
    refused = upload(local, (SEED_DOC, new))
    assert refused.status_code == 409 and "replace" in refused.json()["detail"]
    assert (folder / SEED_DOC).read_bytes() == original
    replaced = upload(local, (SEED_DOC, new), replace="true", wait="true")
    assert replaced.status_code == 200 and replaced.json()["saved"][0]["replaced"] is True
    assert (folder / SEED_DOC).read_bytes() == new
    assert replaced.json()["rebuild"]["updated"] == 1
    assert [p.read_bytes() for p in (folder / ".trash").rglob(SEED_DOC)] == [original]


def test_the_same_name_twice_in_one_request_is_saved_once(local: TestClient, folder: Path) -> None:
    response = upload(local, ("twin.txt", b"First twin."), ("twin.txt", b"Second twin."))
    assert response.status_code == 202
    assert response.json()["rejected"][0]["reason"] == "sent twice in this request"
    assert (folder / "twin.txt").read_bytes() == b"First twin."


def test_concurrent_uploads_are_all_saved_and_indexed(local: TestClient, folder: Path) -> None:
    statuses: list[int] = []

    def send(n: int) -> None:
        text = f"Report {n}: the depot number {n} opened in {1900 + n}.".encode()
        statuses.append(upload(local, (f"report-{n}.txt", text)).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 6
    wanted = {f"report-{n}.txt" for n in range(6)}
    wait_until(lambda: wanted <= set(doc_ids(local)))


def test_concurrent_uploads_of_one_name_save_exactly_one(local: TestClient, folder: Path) -> None:
    statuses: list[int] = []

    def send(n: int) -> None:
        statuses.append(upload(local, ("race.txt", f"Writer {n} won.".encode())).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] + [409] * 4
    assert (folder / "race.txt").read_text().startswith("Writer ")


def test_an_upload_during_a_rebuild_is_indexed_by_the_next_one(
    local: TestClient, folder: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    entered, release = threading.Event(), threading.Event()

    def slow_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(10)
        return refresh(*args, **kwargs)

    monkeypatch.setattr(qa.indexer, "refresh", slow_refresh)
    (folder / "before.txt").write_text("The mill was built in 1850 by the river.")
    rebuild = threading.Thread(target=local.post, args=("/index/rebuild",))
    rebuild.start()
    assert entered.wait(5)
    status = local.get("/index/status").json()
    assert status["rebuilding"] is True and status["stage"] == "starting"
    response = upload(local, ZEBRA)
    assert response.status_code == 202  # written now, indexed by the queued rebuild
    assert local.get("/index/status").json()["queued"] is True
    release.set()
    rebuild.join()
    wait_until(lambda: {"before.txt", "zebra.txt"} <= set(doc_ids(local)))


# ---- removals -----------------------------------------------------------------------------


def test_delete_moves_the_file_to_the_trash_and_the_index_forgets_it(
    local: TestClient, folder: Path
) -> None:
    response = local.delete(f"/documents/{EVIL}", params={"wait": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["removed"] == EVIL and body["trash"].startswith(".trash/")
    assert body["rebuild"]["removed"] == 1
    assert not (folder / EVIL).exists() and (folder / body["trash"]).is_file()
    assert EVIL not in doc_ids(local)
    assert local.get(f"/documents/{EVIL}").status_code == 404
    answer = local.get("/ask", params={"q": "What is the office cat named?"}).json()
    assert all(c["doc_id"] != EVIL for c in answer["citations"])


def test_delete_of_unknown_or_hostile_doc_ids(local: TestClient, folder: Path) -> None:
    assert local.delete("/documents/nothing.txt").status_code == 404
    assert local.delete("/documents/..%2f..%2fetc%2fpasswd").status_code == 400
    assert local.delete("/documents/.trash/x.txt").status_code == 400
    assert (folder / SEED_DOC).exists()


def test_removals_one_by_one_never_trip_the_removal_guard(local: TestClient, folder: Path) -> None:
    for n in range(10):
        (folder / f"d{n}.txt").write_text(f"Document {n} is about the number {n}.")
    local.post("/index/rebuild")
    statuses = [local.delete(f"/documents/d{n}.txt").status_code for n in range(10)]
    assert statuses == [202] * 10
    wait_until(lambda: not any(d.startswith("d") for d in doc_ids(local)))
    status = local.get("/index/status").json()
    wait_until(lambda: not local.get("/index/status").json()["queued"])
    assert local.get("/index/status").json()["error"] is None, status


# ---- progress -----------------------------------------------------------------------------


def test_index_status_reports_the_stages_of_a_rebuild(
    local: TestClient, folder: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    service = local.app.state.service  # type: ignore[attr-defined]
    seen: list[dict] = []
    original = service._on_progress

    def record(progress):  # type: ignore[no-untyped-def]
        original(progress)
        seen.append(local.get("/index/status").json())

    monkeypatch.setattr(service, "_on_progress", record)
    idle = local.get("/index/status").json()
    assert idle["rebuilding"] is False and idle["message"] == "idle"
    (folder / "new.txt").write_text("The tower was finished in 1889 for the fair.")
    local.post("/index/rebuild")
    stages = [s["stage"] for s in seen]
    assert {"reading", "chunking", "embedding", "writing"} <= set(stages)
    percents = [s["percent"] for s in seen]
    assert percents == sorted(percents) and all(s["rebuilding"] for s in seen)
    embedding = [s for s in seen if s["stage"] == "embedding"]
    assert embedding[-1]["message"].startswith("embedding ") and " of " in embedding[-1]["message"]
    after = local.get("/index/status").json()
    assert after["rebuilds"] >= 0 and after["rebuilding"] is False and after["documents"] == 3


def test_the_page_shows_a_running_rebuild_at_load(
    local: TestClient, folder: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    entered, release = threading.Event(), threading.Event()
    original = qa.indexer.refresh
    service = local.app.state.service  # type: ignore[attr-defined]

    def slow_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
        service._on_progress(Progress("embedding", 3, 12))
        entered.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(qa.indexer, "refresh", slow_refresh)
    thread = threading.Thread(target=local.post, args=("/index/rebuild",))
    thread.start()
    assert entered.wait(5)
    page = local.get("/library").text
    assert "Rebuilding: embedding 3 of 12." in page and 'data-active="true"' in page
    release.set()
    thread.join()


# ---- who may write ------------------------------------------------------------------------


def test_remote_writes_need_the_token(remote: TestClient, folder: Path) -> None:
    no_token = upload(remote, ZEBRA)
    assert no_token.status_code == 403 and no_token.headers["www-authenticate"] == "Bearer"
    wrong = remote.post(
        "/documents", files=[("files", ZEBRA)], headers={"authorization": "Bearer nope"}
    )
    assert wrong.status_code == 403 and "wrong" in wrong.json()["detail"]
    assert remote.delete(f"/documents/{SEED_DOC}").status_code == 403
    assert not (folder / "zebra.txt").exists() and (folder / SEED_DOC).exists()
    bearer = {"authorization": f"Bearer {TOKEN}"}
    ok = remote.post("/documents", files=[("files", ZEBRA)], headers=bearer)
    assert ok.status_code == 202 and (folder / "zebra.txt").exists()
    assert remote.delete("/documents/zebra.txt", headers=bearer).status_code == 202


def test_without_a_configured_token_remote_writes_are_refused(assistant: Assistant) -> None:
    with serve(create_app(assistant, admin_token=""), **REMOTE) as client:
        response = upload(client, ZEBRA)
        assert response.status_code == 403 and "QA_ADMIN_TOKEN" in response.json()["detail"]


def form_token_of(client: TestClient, path: str = "/library") -> str:
    """The form token the page renders for this client (its cookie is kept by the client)."""
    found = re.search(r'name="form_token" value="([0-9a-f]{64})"', client.get(path).text)
    assert found, "the page has no form token"
    return found.group(1)


# What Chromium sends on a form post over plain HTTP to another machine: `Origin: null` (our
# pages' `Referrer-Policy: no-referrer`) and no `Sec-Fetch-Site` (not a trustworthy origin);
# tests/system/test_remote_admin.py checks it in Chromium.
REMOTE_FORM = {"accept": "text/html", "origin": "null"}


def test_a_remote_browser_unlocks_uploads_removes_and_locks_with_origin_null(
    remote: TestClient, folder: Path
) -> None:
    page = remote.get("/library").text
    assert 'name="token"' in page and "disabled" in page
    token = form_token_of(remote)
    fields = {"form_token": (None, token)}
    wrong = remote.post("/library/token", files={"token": (None, "nope"), **fields},
                        headers=REMOTE_FORM, follow_redirects=False)  # fmt: skip
    assert wrong.status_code == 303 and ADMIN_COOKIE not in wrong.cookies
    assert "wrong" in remote.get(wrong.headers["location"]).text
    right = remote.post(
        "/library/token", files={"token": (None, TOKEN), **fields}, headers=REMOTE_FORM
    )
    assert right.status_code == 200 and "Unlocked" in right.text and "12 hours" in right.text
    assert str(right.url).startswith("http://qa.example:8000/library?done=")
    cookie = next(c for c in right.history[0].headers.get_list("set-cookie") if ADMIN_COOKIE in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert "Max-Age=43200" in cookie
    assert 'name="token"' not in remote.get("/library").text  # the session unlocks the page
    saved = remote.post("/library/upload", files=[("files", ZEBRA), ("form_token", (None, token))],
                        headers=REMOTE_FORM)  # fmt: skip
    assert saved.status_code == 200 and "Saved <strong>zebra.txt</strong>" in saved.text
    assert (folder / "zebra.txt").exists()
    removed = remote.post("/library/remove", files={"doc_id": (None, "zebra.txt"), **fields},
                          headers=REMOTE_FORM)  # fmt: skip
    assert removed.status_code == 200 and "moved to" in removed.text
    assert not (folder / "zebra.txt").exists()
    locked = remote.post("/library/lock", files=fields, headers=REMOTE_FORM)
    assert "Locked" in locked.text and 'name="token"' in locked.text
    again = remote.post("/library/upload", files=[("files", ZEBRA), ("form_token", (None, token))],
                        headers=REMOTE_FORM)  # fmt: skip
    assert "send &#39;Authorization: Bearer" in again.text or "admin token" in again.text
    assert not (folder / "zebra.txt").exists()


def test_each_unlock_gets_a_fresh_session_that_the_server_expires(
    assistant: Assistant, folder: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from qa.web import write_access

    clock = [1000.0]
    monkeypatch.setattr(write_access.SESSIONS, "clock", lambda: clock[0])
    assistant.settings = replace(assistant.settings, admin_session_hours=1.0)
    with serve(create_app(assistant, admin_token=TOKEN), **REMOTE) as client:
        fields = {"token": (None, TOKEN), "form_token": (None, form_token_of(client))}
        first = client.post("/library/token", files=fields, headers=REMOTE_FORM)
        one = client.cookies[ADMIN_COOKIE]
        assert "for 1 hour," in first.text
        client.post("/library/token", files=fields, headers=REMOTE_FORM)
        assert client.cookies[ADMIN_COOKIE] != one  # a fresh random value per unlock
        assert 'name="token"' not in client.get("/library").text
        clock[0] += 3601  # the browser still sends the cookie; the server no longer honours it
        assert 'name="token"' in client.get("/library").text
        assert upload(client, ZEBRA).status_code == 403
        assert not (folder / "zebra.txt").exists()


def test_origin_null_without_the_form_token_is_refused(remote: TestClient, folder: Path) -> None:
    form_token_of(remote)  # the browser has its form cookie, but the post carries no token
    fields = {"token": (None, TOKEN), "doc_id": (None, SEED_DOC)}
    for path in ("/library/token", "/library/remove", "/library/lock"):
        refused = remote.post(path, files=fields, headers=REMOTE_FORM, follow_redirects=False)
        assert refused.status_code == 403 and "another web site" in refused.text
    assert ADMIN_COOKIE not in remote.cookies and (folder / SEED_DOC).exists()


def test_a_forged_cookie_does_not_unlock(remote: TestClient) -> None:
    remote.cookies.set(ADMIN_COOKIE, TOKEN)  # the raw token is not what the cookie holds
    assert upload(remote, ZEBRA).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:9999"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_cross_site_writes_are_refused_csrf(
    local: TestClient, folder: Path, headers: dict[str, str]
) -> None:
    assert upload_with(local, headers).status_code == 403
    assert local.delete(f"/documents/{SEED_DOC}", headers=headers).status_code == 403
    form = local.post(
        "/library/upload", files=[("files", ZEBRA)], headers={"accept": "text/html", **headers}
    )
    assert form.status_code == 403 and "another web site" in form.text
    remove = local.post(
        "/library/remove",
        files={"doc_id": (None, SEED_DOC)},
        headers={"accept": "text/html", **headers},
    )
    assert remove.status_code == 403
    assert not (folder / "zebra.txt").exists() and (folder / SEED_DOC).exists()


def upload_with(client: TestClient, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post("/documents", files=[("files", ZEBRA)], headers=headers)


def test_same_site_page_posts_are_accepted(local: TestClient, folder: Path) -> None:
    headers = {"sec-fetch-site": "same-origin", **HTML}
    assert upload_with(local, headers).status_code == 202
    # Chromium's form posts under `Referrer-Policy: no-referrer` carry `Origin: null`.
    null_origin = {"origin": "null", "sec-fetch-site": "same-origin", "accept": "text/html"}
    page = local.post(
        "/library/upload",
        files=[
            ("files", ("n.txt", b"Null.")),
        ],
        headers=null_origin,
    )
    assert page.status_code == 200 and (folder / "n.txt").exists()


def test_a_reader_only_server_refuses_uploads_and_removals_with_409(
    assistant: Assistant, folder: Path
) -> None:
    assistant.refresh()
    app = create_app(assistant, build_on_start=False)
    app.state.service.role = Role(False, "the shared index", "milvus://db:19530/docs")
    with serve(app, **LOCAL) as client:
        refused = upload(client, ZEBRA)
        assert refused.status_code == 409 and "reader-only" in refused.json()["detail"]
        assert client.delete(f"/documents/{SEED_DOC}").status_code == 409
        assert client.post("/index/rebuild").status_code == 409
        page = client.get("/library").text
        assert "reader-only" in page and 'name="files"' not in page
        assert client.get("/documents").status_code == 200
    assert not (folder / "zebra.txt").exists() and (folder / SEED_DOC).exists()


# ---- the page's forms ---------------------------------------------------------------------


def test_the_upload_form_shows_what_was_saved_and_what_was_refused(
    local: TestClient, folder: Path
) -> None:
    files = [
        ("files", ZEBRA),
        ("files", ("bad.pdf", b"%PDF-broken")),
        ("files", ("../x.txt", b"X marks.")),
    ]
    posted = local.post("/library/upload", files=files, headers=HTML, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/library?done=")
    page = local.get(posted.headers["location"])
    assert page.status_code == 200
    assert "Saved <strong>zebra.txt</strong>" in page.text and "x.txt" in page.text
    assert "Not saved: <strong>bad.pdf</strong>" in page.text and "cannot parse PDF" in page.text
    all_bad = local.post("/library/upload", files=[("files", ("a.exe", b"MZ"))], headers=HTML)
    assert all_bad.status_code == 200 and "unsupported file type .exe" in all_bad.text
    wait_until(lambda: "zebra.txt" in doc_ids(local))


def test_a_reload_after_a_form_posts_nothing_again(local: TestClient, folder: Path) -> None:
    posted = local.post("/library/upload", files=[("files", ZEBRA)], headers=HTML)
    assert posted.history[0].status_code == 303 and "Saved" in posted.text
    (folder / "zebra.txt").unlink()  # were the upload posted again, the file would come back
    reloaded = local.get(str(posted.url))
    assert "Saved <strong>zebra.txt</strong>" in reloaded.text  # the result, shown again
    assert not (folder / "zebra.txt").exists()
    stale = local.get("/library", params={"done": "unknown-key"})
    assert stale.status_code == 200 and "no longer kept" in stale.text


def test_the_remove_form_moves_the_file_and_says_where(local: TestClient, folder: Path) -> None:
    page = local.post("/library/remove", files={"doc_id": (None, EVIL)}, headers=HTML)
    assert page.status_code == 200 and "moved to" in page.text and ".trash/" in page.text
    assert "/library?done=" in str(page.url)
    assert not (folder / EVIL).exists()
    wait_until(lambda: EVIL not in doc_ids(local))
    missing = local.post("/library/remove", files={"doc_id": (None, "nope.txt")}, headers=HTML)
    assert "nope.txt" in missing.text and "no document" in missing.text


def test_remove_asks_first_on_a_page_that_works_without_javascript(
    local: TestClient, folder: Path
) -> None:
    listing = local.get("/library").text
    link = f'href="/library/remove?doc_id={EVIL}"'
    assert link in listing and 'id="remove-form"' in listing
    confirm = local.get("/library/remove", params={"doc_id": EVIL})
    assert confirm.status_code == 200 and "Remove a document?" in confirm.text
    assert 'method="post" action="/library/remove"' in confirm.text
    assert f'name="doc_id" value="{EVIL}"' in confirm.text and 'name="form_token"' in confirm.text
    assert (folder / EVIL).exists()  # asking removes nothing
    for unknown in ("nope.txt", ".hiddenfile", "stray.exe"):
        assert local.get("/library/remove", params={"doc_id": unknown}).status_code == 404


def test_only_listed_documents_can_be_removed(local: TestClient, folder: Path) -> None:
    (folder / ".hiddenfile").write_text("hidden")
    (folder / "stray.exe").write_bytes(b"MZ")
    (folder / "notes" / ".secret.txt").write_text("hidden too")
    for doc_id in (".hiddenfile", "stray.exe", "notes/.secret.txt"):
        response = local.delete(f"/documents/{doc_id}")
        assert response.status_code == 404 and "only listed documents" in response.json()["detail"]
        page = local.post("/library/remove", files={"doc_id": (None, doc_id)}, headers=HTML)
        assert "only listed documents" in page.text
    assert (folder / ".hiddenfile").exists() and (folder / "stray.exe").exists()
    assert (folder / "notes" / ".secret.txt").exists() and not (folder / ".trash").exists()


def test_one_file_limit_one_message(local: TestClient, folder: Path) -> None:
    replies = []
    for count in (library.MAX_FILES + 1, library.MAX_FILES + 2, 30):
        files = [(f"f{n}.txt", b"Some text.") for n in range(count)]
        response = upload(local, *files)
        replies.append((response.status_code, response.json()["detail"]))
    assert replies == [(413, f"too many files: at most {library.MAX_FILES} per upload; "
                              "send the others in another")] * 3  # fmt: skip
    page = local.get("/library").text
    assert f"up to {library.MAX_FILES} at once" in page and not (folder / "f0.txt").exists()


def test_sizes_in_messages_use_the_unit_of_the_page(folder: Path, make_assistant) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant(folder, FakeEmbedder(), threshold=0.05, max_file_mb=2)
    with serve(create_app(assistant), **LOCAL) as client:
        page = client.get("/library").text
        assert "2 MB each" in page and f"{library.MAX_UPLOAD_BYTES // (1024 * 1024)} MB" in page
        over = b"word " * int(2.2 * 1024 * 1024 / 5)
        reason = upload(client, ("big.txt", over)).json()["rejected"][0]["reason"]
        assert reason.startswith("file too large: 2.2 MB, the limit is 2 MB a file"), reason
        just = b"x" * (2 * 1024 * 1024 + 10)
        reason = upload(client, ("just.txt", just)).json()["rejected"][0]["reason"]
        assert "2,097,162 bytes" in reason and "2 MB (2,097,152 bytes)" in reason, reason


@pytest.mark.parametrize("name", ["\U0001f600.txt", "....txt", "...", "___.md"])
def test_names_without_a_letter_or_digit_get_a_human_message(
    local: TestClient, folder: Path, name: str
) -> None:
    before = names(folder)
    response = upload(local, (name, b"Some text."))
    reason = response.json()["rejected"][0]["reason"]
    assert response.status_code == 422 and "no letter or digit before its extension" in reason
    assert "(none)" not in reason and "rename it" in reason
    assert names(folder) == before


def test_error_pages_say_what_is_allowed_without_regular_expressions(local: TestClient) -> None:
    page = local.get("/library", params={"sort": "colour"}, headers={"accept": "text/html"})
    assert page.status_code == 422 and "sort must be name, date or size" in page.text
    assert "^(" not in page.text and "pattern" not in page.text
    api = local.get("/documents", params={"sort": "colour"}).json()
    assert api["detail"] == "sort must be name, date or size"
    flag = local.get("/library", params={"desc": "maybe"}, headers={"accept": "text/html"})
    assert "desc must be true or false" in flag.text
