"""`qa bench`'s safety parts: chunking is linear in a text's length, and the server's memory
stays put however many rebuilds it runs (builds run in a child process).

`chunking`: one-line texts (no line break, no sentence end: the worst case for the
long-sentence cut) of `SMALL_MB` and `LARGE_MB`, chunked with the model's tokenizer; the
figure is seconds per MB of the large one over the small one's, measured in the same run
(1.0: linear; the quadratic cut made it ~20). `rebuilds`: `qa serve` over a copy of the docs;
`REBUILDS` times a small file changes and `POST /index/rebuild` runs; the server's RSS after
the first and the last, and whether torch's libraries are mapped in it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

SMALL_MB = 1
LARGE_MB = 20
REBUILDS = 10


def one_line_text(megabytes: float) -> str:
    """About `megabytes` MB of words on one line, with no sentence end."""
    words = " ".join(f"word{i % 997} and" for i in range(2000))
    return (words + " ") * max(1, int(megabytes * 1024 * 1024 / (len(words) + 1)))


def bench_chunking(count_tokens: Callable[[str], int] | None = None) -> dict:
    """Seconds to chunk `SMALL_MB` and `LARGE_MB` of one-line text, per MB, and their ratio."""
    from qa.chunking import chunk_document
    from qa.embedding import DEFAULT_MODEL, resolve_model_path, token_counter

    count = count_tokens or token_counter(
        Path(resolve_model_path(DEFAULT_MODEL)) / "tokenizer.json"
    )
    out: dict = {}
    for megabytes in (SMALL_MB, LARGE_MB):
        text = one_line_text(megabytes)
        started = time.perf_counter()
        sentences, chunks = chunk_document(text, count)
        seconds = time.perf_counter() - started
        out[f"{megabytes}mb"] = {
            "mb": round(len(text) / 2**20, 2),
            "seconds": round(seconds, 2),
            "seconds_per_mb": round(seconds / (len(text) / 2**20), 3),
            "chunks": len(chunks),
        }
    small, large = out[f"{SMALL_MB}mb"], out[f"{LARGE_MB}mb"]
    out["per_mb_ratio"] = round(large["seconds_per_mb"] / max(small["seconds_per_mb"], 1e-9), 2)
    return out


def bench_rebuilds(docs: Path, work: Path, rebuilds: int = REBUILDS) -> dict:
    """`qa serve` over a copy of `docs`: its RSS (MB) after rebuild 1 and `rebuilds`, each
    after a changed file; the seconds each took; whether torch is mapped in the server."""
    import httpx
    import psutil

    from qa.tools.bench_base import serve_process

    copy, index = work / "rebuild-docs", work / "rebuild-index"
    for folder in (copy, index):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(docs, copy)
    server = serve_process(["--docs", str(copy), "--index", str(index)])
    try:
        rss: dict[str, float] = {}
        seconds = []
        for n in range(1, rebuilds + 1):
            (copy / "bench-rebuild.txt").write_text(f"Rebuild number {n} changed this file.")
            started = time.perf_counter()
            reply = httpx.post(server.url + "/index/rebuild", timeout=600)
            reply.raise_for_status()
            seconds.append(round(time.perf_counter() - started, 2))
            if n in (1, rebuilds):
                rss[str(n)] = round(psutil.Process(server.pid).memory_info().rss / 2**20, 1)
        torch = "libtorch" in Path(f"/proc/{server.pid}/maps").read_text()
    finally:
        server.stop()
    return {"rss_mb": rss, "seconds": seconds, "torch_in_server": torch}


def safety_targets(r: dict) -> list[tuple[str, float, float, str]]:
    """(name, value, limit, unit) of the safety parts' targets."""
    out = []
    if "chunking" in r:
        c = r["chunking"]
        out.append(("chunking: s/MB at 20 MB over s/MB at 1 MB", c["per_mb_ratio"], 2.0, ""))
        out.append(("chunking: 20 MB one-line text", c[f"{LARGE_MB}mb"]["seconds"], 60.0, "s"))
    if "rebuilds" in r:
        last = r["rebuilds"]["rss_mb"].get(str(REBUILDS))
        if last is not None:
            out.append((f"server RSS after {REBUILDS} rebuilds", last, 600.0, "MB"))
        out.append(("torch in the server after rebuilds", float(r["rebuilds"]["torch_in_server"]),
                    0.0, ""))  # fmt: skip
    return out


def safety_lines(r: dict) -> list[str]:
    """The safety parts' figures as plain text lines."""
    lines = []
    if "chunking" in r:
        c = r["chunking"]
        small, large = c[f"{SMALL_MB}mb"], c[f"{LARGE_MB}mb"]
        lines.append(
            f"chunking one-line text: {small['mb']} MB in {small['seconds']:.1f} s, "
            f"{large['mb']} MB in {large['seconds']:.1f} s ({c['per_mb_ratio']:.2f} x the time "
            "per MB)"
        )
    if "rebuilds" in r:
        b = r["rebuilds"]
        sizes = ", ".join(f"{mb:.0f} MB after rebuild {n}" for n, mb in b["rss_mb"].items())
        lines.append(f"server RSS: {sizes}; torch in the server: {b['torch_in_server']}")
    return lines
