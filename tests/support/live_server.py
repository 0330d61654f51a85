"""A real `qa serve` process on a free loopback port, for tests that need sockets and signals.

`start_server(docs, index)` runs `python -m tests.support.serve_worker` (the real CLI and pipeline,
fake embedder), waits until it listens, and returns a `LiveServer` with its URL and process;
`LiveServer.stop()` ends it (SIGTERM, then SIGKILL after a timeout) and returns its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.fakes import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> str:
        """SIGTERM, wait, SIGKILL if it hangs; returns the server's log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.log()


def start_server(
    docs: Path,
    index: Path,
    *args: str,
    ready: str = "/health",
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> LiveServer:
    """Start the server and wait until `GET ready` answers 200 (`ready=""`: until it listens).
    `env` adds environment variables (see tests/serve_worker.py for the slow-down ones);
    `host`: the address it listens on (one of this machine's)."""
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix=f"qa-serve-{port}-", suffix=".log")[1])
    env = {
        **os.environ,
        "QA_ADMIN_TOKEN": "",
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.serve_worker", str(docs), str(index), str(port),
             "--host", host, *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    server = LiveServer(f"http://{host}:{port}", port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited early:\n{server.log()}")
        try:
            response = httpx.get(server.url + (ready or "/health"), timeout=2)
            if not ready or response.status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"qa serve not ready after {timeout:.0f} s:\n{server.log()}")
