"""Remote admin from a browser, end to end: Chromium on "another machine" (a network namespace
this test creates, joined to this one by a veth pair) unlocks the library page of a real
`qa serve` (fake embedder) over plain HTTP with the admin token, uploads a file and removes
it; a page of another site posting the remove form is refused, with `Origin: http://evil.test`
and with `Origin: null`.

Needs root (to create the namespace), iproute2 and Debian's Chromium. Where namespaces
cannot be created the test fails and says why: CI runs as root on this kind of machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.chromium import CHROMIUM
from tests.support.fakes import ROOT, SEED_DOC, SEEDS
from tests.support.helpers import require_system_tool
from tests.support.live_server import start_server

pytestmark = [pytest.mark.browser]

ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "remote-admin-token-7"


@dataclass(frozen=True)
class Namespace:
    name: str
    host_address: str  # this machine's end of the veth pair, where the server listens
    peer_address: str  # the namespace's end: the browser's address


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A network namespace with a veth pair to this one: 10.211.X.Y/30, unique per process."""
    pid = os.getpid()
    name, host_if, peer_if = f"qa-ns-{pid}", f"qah{pid % 100000}", f"qan{pid % 100000}"
    third, fourth = (pid >> 6) & 255, (pid & 63) * 4
    host, peer = f"10.211.{third}.{fourth + 1}", f"10.211.{third}.{fourth + 2}"
    if shutil.which("ip") is None:
        pytest.fail("`ip` (iproute2) is missing: apt-get install iproute2; this test needs it")
    steps = [
        ("netns", "add", name),
        ("link", "add", host_if, "type", "veth", "peer", "name", peer_if),
        ("link", "set", peer_if, "netns", name),
        ("addr", "add", f"{host}/30", "dev", host_if),
        ("link", "set", host_if, "up"),
        ("-n", name, "addr", "add", f"{peer}/30", "dev", peer_if),
        ("-n", name, "link", "set", peer_if, "up"),
        ("-n", name, "link", "set", "lo", "up"),
    ]
    try:
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.fail(
                    f"cannot create the network namespace this test needs (`ip {' '.join(step)}`"
                    f" failed: {done.stderr.strip()}); it must run as root with network "
                    "namespaces available, as in CI"
                )
        yield Namespace(name, host, peer)
    finally:
        _ip("link", "del", host_if)
        _ip("netns", "del", name)


def test_a_remote_admin_unlocks_uploads_and_removes_in_chromium_and_cross_site_posts_fail(
    namespace: Namespace, docs: Path, tmp_path: Path
) -> None:
    require_system_tool(
        CHROMIUM.exists(), f"{CHROMIUM} is missing; install it with `apt-get install chromium`"
    )
    shutil.copy(SEEDS / SEED_DOC, docs / "keep.txt")
    server = start_server(
        docs, tmp_path / "index", env={"QA_ADMIN_TOKEN": TOKEN}, host=namespace.host_address
    )
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        # From this machine the server is not loopback either: the token is needed.
        anonymous = httpx.delete(f"{server.url}/documents/keep.txt")
        assert anonymous.status_code == 403, anonymous.text
        command = [
            "ip", "netns", "exec", namespace.name, sys.executable, "-m",
            "tests.support.remote_browser", server.url, TOKEN, str(ARTIFACTS),
        ]  # fmt: skip
        ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert ran.returncode == 0, f"the browser script failed:\n{ran.stderr[-4000:]}"
        seen = json.loads(ran.stdout.strip().splitlines()[-1])
    finally:
        log = server.stop()
    assert "POST /library/token 303" in log, log
    assert seen["locked"], seen
    assert "/library?done=" in seen["unlock_url"], seen  # post/redirect/get
    assert "Saved remote.txt" in seen["upload_text"] and "/library?done=" in seen["upload_url"]
    assert "moved to" in seen["remove_text"] and len(seen["dialogs"]) == 1, seen
    assert list((docs / ".trash").rglob("remote.txt")) and not (docs / "remote.txt").exists()
    for refused in seen["cross_site"]:
        assert refused["status"] == 403 and "another web site" in refused["text"], refused
    assert (docs / "keep.txt").exists()
    own = [p for p in seen["posts"] if not p["cross_site"]]
    cross = [p for p in seen["posts"] if p not in own]
    # What Chromium sends over plain HTTP to another machine under `no-referrer`: Origin null,
    # no Sec-Fetch-Site; the form token is what lets our own forms through.
    assert own and all(p["origin"] == "null" and p["sec-fetch-site"] is None for p in own), own
    assert {p["origin"] for p in cross} == {"http://evil.test", "null"}, cross
    (ARTIFACTS / "remote-admin-headers.json").write_text(json.dumps(seen["posts"], indent=1))
