"""What every `qa bench` part shares: its configuration, servers run as `qa serve` processes,
percentiles, and the HTTP load clients.

In: nothing. Out: `BenchConfig`, `RunResult`, `Server`, `serve_process(args)`, `load_servers(urls,
...)`, `percentile`/`ms`, `questions_for(config)`. Used by `qa.tools.bench` (the command and the
FAISS parts) and `qa.tools.bench_milvus` (the Milvus part), which do not import each other's
parts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

CACHE = Path(".cache/bench")
SIZES = (10_000, 100_000, 1_000_000)
CLIENTS = (1, 4, 16)
DIM = 384


@dataclass(frozen=True)
class RunResult:
    """A finished `qa index` process: wall seconds, peak RSS, its JSON report."""

    seconds: float
    peak_rss_mb: float
    report: dict


@dataclass
class Server:
    """A running server: its base URL, the process id whose memory is measured, how to stop."""

    url: str
    pid: int
    stop: Callable[[], None]


IndexRunner = Callable[[Path, Path], RunResult]
ServerStarter = Callable[[Path, Path, str | None], Server]  # (docs, index, QA_READER or None)
ReaderStarter = Callable[[str, Path], Server]  # (store URI, working directory) -> a server


@dataclass
class BenchConfig:
    """What to measure and how long. `embedder`, `run_index`, `start_server` and
    `start_reader` default to the real model, `qa index`, `qa serve` (its third argument: the
    server's `QA_READER`, None for the environment's) and reader-only `qa serve --store`
    subprocesses; tests swap in fast ones. `store` (a `milvus://` URI) is
    what the `milvus` part compares with FAISS, over `readers` servers and `reader_clients`."""

    docs: Path
    questions: list[str]
    work: Path = CACHE
    sizes: tuple[int, ...] = SIZES
    clients: tuple[int, ...] = CLIENTS
    seconds: float = 10.0
    queries: int = 200
    parts: frozenset[str] = frozenset(
        {"build", "refresh", "incremental", "answer", "http", "scaling", "chunking", "rebuilds"}
    )
    embedder: object | None = None
    run_index: IndexRunner | None = None
    start_server: ServerStarter | None = None
    store: str | None = None
    readers: int = 2
    reader_clients: int = 16
    start_reader: ReaderStarter | None = None
    log: Callable[[str], None] = field(default=lambda message: None)
    pdfs: Path | None = None  # the `pdf` part's folder (None: qa.tools.bench_pdf's default)
    pdf_pages: int | None = None  # the `pdf` part builds on its PDFs repeated to this many pages


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0..100) of `values`, linear interpolation; 0.0 when empty."""
    import numpy as np

    return float(np.percentile(values, q)) if values else 0.0


def ms(seconds: list[float], q: float) -> float:
    """The `q`-th percentile of `seconds`, in milliseconds, to a microsecond."""
    return round(percentile(seconds, q) * 1000, 3)


def qa_command(*args: str) -> list[str]:
    """The command line that runs `qa ARGS` with this interpreter."""
    return [sys.executable, "-m", "qa.cli", *args]


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_process(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
    timeout: float = 300.0,
) -> Server:  # fmt: skip
    """Start `qa serve ARGS --port FREE` (in `cwd`, with `env`) and wait until /health says ok.
    Its output goes to a log file named in any error."""
    import subprocess
    import tempfile

    import httpx

    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"qa-bench-serve-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        qa_command("serve", *args, "--port", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop()
            raise click.ClickException(f"qa serve exited early; see {log.name}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return Server(url, process.pid, stop)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop()
    raise click.ClickException(f"qa serve not ready after {timeout:.0f} s; see {log.name}")


def questions_for(config: BenchConfig) -> list[str]:
    """`config.queries` questions, cycling through `config.questions`."""
    return (config.questions * (config.queries // max(1, len(config.questions)) + 1))[
        : config.queries
    ]


async def load_servers(urls: list[str], questions: list[str], clients: int, seconds: float) -> dict:
    """`clients` concurrent aiohttp clients POSTing /ask in a loop for `seconds`, client i to
    `urls[i % len(urls)]`. Out: rps, p50/p95/p99 ms, errors, requests (all servers together)
    and `per_server` answered counts. aiohttp, not httpx: on this 2-core machine the client
    shares the CPU with the server, and httpx's async client spends about 1.9 ms of CPU per
    request to aiohttp's 0.7 ms (measured against a stub server), which would be counted as the
    server's latency."""
    import asyncio

    import aiohttp

    latencies: list[float] = []
    answered = [0] * len(urls)
    errors = 0

    async def client(slot: int, http: aiohttp.ClientSession) -> None:
        nonlocal errors
        i = slot
        while i == slot or time.monotonic() < deadline:  # at least one request each
            started = time.perf_counter()
            try:
                question = {"question": questions[i % len(questions)]}
                async with http.post("/ask", json=question) as response:
                    body = await response.read()
                ok = response.status == 200 and b'"answered"' in body
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
                answered[slot % len(urls)] += 1
            else:
                errors += 1
            i += clients

    per_url = -(-clients // len(urls))  # each server's share of the clients, rounded up
    timeout = aiohttp.ClientTimeout(total=60.0)
    sessions = [
        aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=per_url), timeout=timeout)
        for url in urls
    ]
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client(slot, sessions[slot % len(urls)]) for slot in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        for session in sessions:
            await session.close()
    return {
        "rps": round(len(latencies) / elapsed, 2),
        "p50_ms": ms(latencies, 50),
        "p95_ms": ms(latencies, 95),
        "p99_ms": ms(latencies, 99),
        "errors": errors,
        "requests": len(latencies) + errors,
        "per_server": answered,
    }


def subprocess_index(docs: Path, index: Path) -> RunResult:
    """Run `qa index --json` as a fresh process: wall time, and its peak RSS (the kernel's
    high-water mark `VmHWM`, which starts afresh at exec, read until the process exits)."""
    import subprocess
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            qa_command("index", "--docs", str(docs), "--index", str(index), "--json"),
            stdout=out,
            stderr=err,
        )
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise click.ClickException(f"qa index failed: {err.read().decode()[-2000:]}")
        report = json.loads(out.read().decode().strip().splitlines()[-1])
    return RunResult(round(seconds, 3), round(peak_kb / 1024, 1), report)


def _high_water_kb(pid: int) -> int:
    """The peak resident memory of process `pid` so far, in kB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
