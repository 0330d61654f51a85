"""A real Milvus for tests: `milvus-lite server` on a free loopback port in a temporary folder.

`milvus_server` (one per test module that imports it) yields "127.0.0.1:PORT" and stops the
server afterwards; `milvus_uri` gives every test its own collection name on that server, so
tests never see each other's rows and nothing has to be dropped between them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now (on loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _milvus_lite() -> str:
    beside = Path(sys.executable).parent / "milvus-lite"
    found = str(beside) if beside.exists() else shutil.which("milvus-lite")
    if not found:
        raise RuntimeError("milvus-lite is not installed; run `.venv/bin/pip install -e .[test]`")
    return found


def _wait_listening(port: int, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"milvus-lite server did not listen on {port} in {timeout:.0f} s")


@contextmanager
def running_milvus(folder: Path) -> Iterator[str]:
    """A `milvus-lite server` on a free loopback port with its data and log in `folder`;
    yields "127.0.0.1:PORT" once it listens and stops it afterwards."""
    port = free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [_milvus_lite(), "server", "--data-dir", str(folder / "data"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_listening(port, process, log, timeout=60.0)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `milvus-lite server` bound to 127.0.0.1; yields "127.0.0.1:PORT"."""
    with running_milvus(tmp_path_factory.mktemp("milvus")) as address:
        yield address


@pytest.fixture
def milvus_uri(milvus_server: str) -> Callable[..., str]:
    """`milvus_uri(**query)` -> a `milvus://` URI naming a collection no other test uses."""

    def make(**query: object) -> str:
        name = f"t{uuid.uuid4().hex[:12]}"
        params = "&".join(f"{k}={v}" for k, v in {"grace": 0, **query}.items())
        return f"milvus://{milvus_server}/{name}?{params}"

    return make
