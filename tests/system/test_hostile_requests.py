"""Hostile requests: path traversal in every form, hostile questions, oversized and lying
bodies, rebuilds from elsewhere, and the security headers on every response.

Raw HTTP goes over a socket to a real `qa serve` process (no client library normalizes the
path or fixes the body framing); the rest uses TestClient, which can also pretend to be a
client on another machine. Nothing may answer 5xx, leak a file from outside the docs folder,
or reflect `<script>` unescaped.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.config import Settings
from qa.pipeline import Assistant
from qa.web.app import create_app
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder
from tests.support.live_server import LiveServer, start_server

SECRET = "TOPSECRET-7f3a: this file lies outside the docs folder"
EVIL = "notes/evil.txt"
EVIL_TEXT = "Escaping test <script>alert('doc')</script> and \"quotes\". The cat is Whiskers.\n"
LOCAL = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
REMOTE = {"base_url": "http://qa.example:8000", "client": ("203.0.113.9", 50000)}
TOKEN = "hostile-test-token-0123456789"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Docs (the seed article, a document holding `<script>`) with a secret file beside them."""
    root = tmp_path_factory.mktemp("hostile")
    docs = root / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    (docs / EVIL).write_text(EVIL_TEXT)
    (root / "secret.txt").write_text(SECRET)
    (docs / "notes" / "secret.txt").write_text("not secret: a document may share the name")
    return docs


@pytest.fixture(scope="module")
def live(folder: Path) -> Iterator[LiveServer]:
    running = start_server(folder, folder.parent / "live-index", env={"QA_THRESHOLD": "0.05"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def assistant(folder: Path) -> Assistant:
    settings = Settings(docs_dir=folder, index_dir=folder.parent / "index", threshold=0.05)
    built = Assistant(settings, embedder=FakeEmbedder(), reload_interval=0.0)
    built.refresh()
    return built


@pytest.fixture(scope="module")
def local(assistant: Assistant) -> Iterator[TestClient]:
    app = create_app(assistant, build_on_start=False, admin_token=TOKEN)
    with TestClient(app, raise_server_exceptions=False, **LOCAL) as client:
        yield client


def assert_safe_headers(headers: httpx.Headers | dict[str, str]) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


# ---- raw HTTP over a socket -----------------------------------------------------------------


def raw(port: int, data: bytes, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """Send `data` as is, then read the first response: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before taking the whole body.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _complete(received):
            try:
                block = sock.recv(65536)
            except ConnectionResetError:
                break
            if not block:
                break
            received += block
    assert received, "the server sent no response"
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, headers, body


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    return raw(port, request.encode("latin-1"))


TRAVERSALS = [
    "../secret.txt",
    "../../../../etc/passwd",
    "notes/../../secret.txt",
    "..%2fsecret.txt",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "%25252e%25252e%25252fsecret.txt",
    "..%252fsecret.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "C:/Windows/win.ini",
    "C:%5cWindows%5cwin.ini",
    "..\\secret.txt",
    "..%5csecret.txt",
    "notes%5c..%5c..%5csecret.txt",
    "%5c%5cserver%5cshare%5cfile",
    "notes/evil.txt%00.png",
    "%00../secret.txt",
    "..%00/secret.txt",
    "%c0%ae%c0%ae/secret.txt",
    "%e0%80%ae%e0%80%ae/secret.txt",
    "%ef%bc%8e%ef%bc%8e/secret.txt",  # fullwidth full stops
    "%e2%80%a4%e2%80%a4/secret.txt",  # one-dot leaders
    "．．/secret.txt".encode().decode("latin-1"),  # the same, unencoded UTF-8 bytes
    "%u002e%u002e/secret.txt",
    "./notes/evil.txt",
    "notes/./evil.txt",
    "notes//evil.txt",
    "notes/evil.txt/..",
    "file:///etc/passwd",
    "~/secret.txt",
]


@pytest.mark.parametrize("suffix", ["", "/view", "/view?start=0&end=5"])
def test_traversal_never_leaves_the_docs_folder(live: LiveServer, suffix: str) -> None:
    statuses = []
    for target in TRAVERSALS:
        status, headers, body = get(live.port, f"/documents/{target}{suffix}")
        statuses.append(status)
        assert status in (400, 404), (target, status, body[:200])
        assert b"TOPSECRET" not in body and b"root:" not in body and b"[fonts]" not in body
        if b"Invalid HTTP request" not in body:  # h11's own reply never reaches the app
            assert_safe_headers(headers)
    assert statuses.count(400) >= len(TRAVERSALS) // 2  # most are refused outright
    # The documents themselves are still served, also under the view route.
    status, _, body = get(live.port, f"/documents/{EVIL}{suffix}")
    assert status == 200 and b"Whiskers" in body


# ---- hostile questions ----------------------------------------------------------------------

QUESTIONS = [
    "<script>alert(1)</script> When did Luxon take office?",
    "\"><script>alert('x')</script><img src=x onerror=alert(1)>",
    "'; DROP TABLE documents; -- \" ' ` Luxon",
    "</textarea></title><script>alert(document.cookie)</script>",
    "\u202eWhen did Luxon take office?\u202c \u200f\u200e\u2066\u2069",
    "When did Luxon 😀🇳🇿𝕏🧪 take office? \U0010fffd",
    "{{7*7}} ${7*7} {% raw %} <%= 7*7 %> Luxon",
    "%3Cscript%3Ealert(1)%3C/script%3E Luxon",
    "Luxon\r\nSet-Cookie: evil=1",
    "\ufeffZero\u200bwidth\u2060joiners Luxon",
    "a" * 999 + "😀",
]
BAD_QUESTIONS = ["Luxon\x00office", "\x00", "\x00<script>", " \t\n ", "a" * 1001]


@pytest.mark.parametrize("question", QUESTIONS)
def test_hostile_questions_are_answered_and_escaped(local: TestClient, question: str) -> None:
    posted = local.post("/ask", json={"question": question})
    got = local.get("/ask", params={"q": question})
    for response in (posted, got):
        assert response.status_code == 200, response.text[:300]
        assert response.json()["question"] == question.strip()
        assert_safe_headers(response.headers)
    page = local.get("/", params={"q": question})
    assert page.status_code == 200
    assert_safe_headers(page.headers)
    html = page.text
    assert "<script" not in html.lower() and "<img" not in html.lower()
    if "<" in question:
        assert "&lt;" in html


@pytest.mark.parametrize("question", BAD_QUESTIONS)
def test_bad_questions_get_a_4xx_with_a_reason(local: TestClient, question: str) -> None:
    for response in (
        local.post("/ask", json={"question": question}),
        local.get("/ask", params={"q": question}),
        local.get("/", params={"q": question}),
        local.get("/", params={"q": question}, headers={"accept": "text/html"}),
    ):
        assert 400 <= response.status_code < 500, response.text[:300]
        assert_safe_headers(response.headers)
        assert "<script" not in response.text
        assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\\ud800 Luxon?"}',  # a lone surrogate: valid JSON, not valid Unicode
        b'{"question": "Luxon \\udfff\\ud800"}',
        b'{"question": ' + b"[" * 20000 + b"]" * 20000 + b"}",
        b"[" * 60000,
        b'{"question": "x", "top_k": 1' + b"0" * 4000 + b"}",
        b'{"question": "x", "top_k": 1e400}',
        b'{"question": "x", "top_k": NaN}',
        b'\xff\xfe{"question": "x"}',
        b'{"question": "\xc3\x28 invalid utf-8"}',
        b'{"question": "x"} trailing',
        b"null",
        b'{"question": {"$ne": null}}',
    ],
)
def test_hostile_json_bodies_get_a_4xx(local: TestClient, body: bytes) -> None:
    response = local.post("/ask", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text[:300]
    assert isinstance(response.json()["detail"], str)
    assert_safe_headers(response.headers)


# ---- bodies: size and framing ---------------------------------------------------------------


def post(port: int, headers: str, body: bytes):  # type: ignore[no-untyped-def]
    head = f"POST /ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    return raw(port, (head + headers + "\r\n").encode() + body)


def chunked(body: bytes, size: int = 4096) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


BIG = b'{"question": "' + b"a" * 70_000 + b'"}'
SMALL = b'{"question": "When did Luxon take office?"}'


@pytest.mark.parametrize(
    ("name", "headers", "body", "expected"),
    [
        ("honest length", f"Content-Length: {len(BIG)}\r\n", BIG, {413}),
        ("length says 70 KB, sends a little", "Content-Length: 70000\r\n", SMALL, {413}),
        # Past 64 bits: httptools (uvicorn's parser) refuses the framing itself (RFC 9112).
        ("huge length", "Content-Length: 99999999999999999999\r\n", SMALL, {400, 413}),
        ("length says less than it sends", "Content-Length: 10\r\n", BIG, {400, 422}),
        ("chunked, too big", "Transfer-Encoding: chunked\r\n", chunked(BIG), {413}),
        ("chunked, one huge chunk", "Transfer-Encoding: chunked\r\n", chunked(BIG, 70_001), {413}),
        ("chunked, fine", "Transfer-Encoding: chunked\r\n", chunked(SMALL, 7), {200}),
        # RFC 9112: may be refused, or read by Transfer-Encoding alone (h11 does that).
        ("chunked and a length", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
         chunked(SMALL), {200, 400}),
        ("negative length", "Content-Length: -1\r\n", SMALL, {400}),
        ("two lengths", f"Content-Length: {len(SMALL)}\r\nContent-Length: 3\r\n", SMALL, {400}),
        ("no length, no chunking", "Connection: close\r\n", BIG, {413, 415, 422}),
    ],
)  # fmt: skip
def test_oversized_or_lying_bodies_are_refused(
    live: LiveServer, name: str, headers: str, body: bytes, expected: set[int]
) -> None:
    status, response_headers, text = post(live.port, headers, body)
    assert status in expected, (name, status, text[:200])
    if b"Invalid HTTP request" not in text:
        assert_safe_headers(response_headers)
    if status == 413:
        assert b"64 KB" in text
    assert httpx.get(live.url + "/health", timeout=10).status_code == 200  # still serving


def test_a_body_that_never_ends_does_not_hang_the_server(live: LiveServer) -> None:
    """A client that promises a big body and stalls gets its 413 at once, and others go on."""
    started = time.monotonic()
    status, _, _ = post(live.port, "Content-Length: 1000000\r\n", b'{"question": ')
    assert status == 413 and time.monotonic() - started < 8
    response = httpx.get(live.url + "/ask", params={"q": "When did Luxon take office?"})
    assert response.status_code == 200


# ---- who may rebuild ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("admin_token", "authorization", "status"),
    [
        (None, None, 403),
        (None, f"Bearer {TOKEN}", 403),  # no token configured: refused, whatever is sent
        (TOKEN, None, 403),
        (TOKEN, "Bearer", 403),
        (TOKEN, "Bearer ", 403),
        (TOKEN, "Bearer wrong-token", 403),
        (TOKEN, f"Bearer {TOKEN[:-1]}", 403),
        (TOKEN, f"Bearer {TOKEN}x", 403),
        (TOKEN, f"Basic {TOKEN}", 403),
        (TOKEN, f"Bearer {TOKEN.upper()}", 403),
        (TOKEN, "Bearer \u00e9\u00e9", 403),
        (TOKEN, f"Bearer {TOKEN}", 200),
        (TOKEN, f"bearer {TOKEN}", 200),
    ],
)
def test_rebuild_from_another_machine_needs_the_right_token(
    assistant: Assistant, admin_token: str | None, authorization: str | None, status: int
) -> None:
    app = create_app(assistant, build_on_start=False, admin_token=admin_token or "")
    headers = {"authorization": authorization.encode()} if authorization is not None else {}
    with TestClient(app, raise_server_exceptions=False, **REMOTE) as client:
        response = client.post("/index/rebuild", headers=headers)
    assert response.status_code == status, response.text
    assert_safe_headers(response.headers)
    if status == 200:
        assert response.json()["documents"] == 3
    else:
        assert "token" in response.json()["detail"].lower() or "QA_ADMIN_TOKEN" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "["},  # unparsable: not loopback, and no 500 either
        {"host": "[::1"},
        {"origin": "http://[::1"},
        {"origin": "null"},
        {"host": "127.0.0.1.attacker.example"},
        {"host": "localhost.attacker.example:8000"},
        {"x-real-ip": "127.0.0.1"},
        {"x-forwarded-for": "127.0.0.1"},
    ],
)
def test_odd_host_and_origin_headers_from_loopback_are_refused(
    local: TestClient, headers: dict[str, str]
) -> None:
    response = local.post("/index/rebuild", headers=headers)
    assert response.status_code == 403, response.text
    assert_safe_headers(response.headers)


def test_rebuild_from_loopback_works_on_the_real_server(live: LiveServer) -> None:
    response = httpx.post(live.url + "/index/rebuild", timeout=60)
    assert response.status_code == 200 and response.json()["documents"] == 3
    assert_safe_headers(response.headers)
