"""`qa bench`'s reader figures (issue 15, item 5): the answerer with its trained reader on (the
default) and off (`QA_READER=off`), measured in the same run on the same questions, interleaved.

In: a `BenchConfig`, an `Assistant` whose reader is on (answer part), the URLs of two servers, one
per setting (http part). Out: `bench_reader_answer` -> p50/p95 for each setting, their
differences and the reader's share of the answer time; `bench_reader_http` -> 16-client
throughput and errors for each; `reader_targets` and `reader_lines` for the targets table and the
printed figures. The budget: answer p50 <= off + 15 ms, p95 <= off + 30 ms; at 16 HTTP clients
0 errors and at least 40% of the reader-off throughput.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from qa.tools.bench_base import BenchConfig, load_servers, ms, percentile, questions_for

if TYPE_CHECKING:
    from qa.reader import Reader, ReaderScores, Window

P50_BUDGET_MS = 15.0  # answer p50, reader on, at most the reader-off p50 + this
P95_BUDGET_MS = 30.0  # answer p95, reader on, at most the reader-off p95 + this
RPS_SHARE = 0.40  # 16-client throughput, reader on, at least this share of reader-off
HTTP_CLIENTS = 16
ROUNDS = ("on", "off", "off", "on")  # ABBA: a steady drift in load hits both settings alike


class TimedReader:
    """Stands in for a `Reader` inside the answerer (which uses `score` and `cascade`) and
    records the seconds of each `score` call in `seconds`."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.cascade = reader.cascade
        self.seconds: list[float] = []

    def score(self, question: str, windows: list[Window]) -> ReaderScores:
        """The wrapped reader's `score`, timed."""
        started = time.perf_counter()
        try:
            return self.reader.score(question, windows)
        finally:
            self.seconds.append(time.perf_counter() - started)


def _timed_ask(assistant: Any, question: str, reader: TimedReader | None) -> tuple[float, float]:
    """Ask `question` with `reader` in the assistant (None: off; the answerer only calls its
    `score` and reads its `cascade`). Out: (seconds of the whole `Assistant.ask`, seconds
    inside the reader's `score`)."""
    assistant.reader = reader
    before = len(reader.seconds) if reader else 0
    started = time.perf_counter()
    assistant.ask(question)
    took = time.perf_counter() - started
    return took, sum(reader.seconds[before:]) if reader else 0.0


def bench_reader_answer(config: BenchConfig, assistant: Any) -> dict | None:
    """In-process `Assistant.ask` with the assistant's reader on and off, question by question
    (on first for even questions, off first for odd ones). Out: `on` / `off` p50/p95 ms,
    `diff_p50_ms` / `diff_p95_ms` (on - off), the reader's share of the on-answer time
    (`share_p50`, `share_mean`: time in `Reader.score` / whole answer, per question) and its
    own p50/p95 ms; None when the assistant has no reader (`QA_READER=off`)."""
    reader = assistant.reader
    if reader is None:
        return None
    timed = TimedReader(reader)
    questions = questions_for(config)
    on: list[float] = []
    off: list[float] = []
    inside: list[float] = []
    try:
        for question in questions[:5]:  # warm the reader's session
            _timed_ask(assistant, question, timed)
            _timed_ask(assistant, question, None)
        for i, question in enumerate(questions):
            for reading in (True, False) if i % 2 == 0 else (False, True):
                took, in_reader = _timed_ask(assistant, question, timed if reading else None)
                if reading:
                    on.append(took)
                    inside.append(in_reader)
                else:
                    off.append(took)
    finally:
        assistant.reader = reader
    shares = [r / t for r, t in zip(inside, on, strict=True)]
    return {
        "on": {"p50_ms": ms(on, 50), "p95_ms": ms(on, 95)},
        "off": {"p50_ms": ms(off, 50), "p95_ms": ms(off, 95)},
        "diff_p50_ms": round(ms(on, 50) - ms(off, 50), 3),
        "diff_p95_ms": round(ms(on, 95) - ms(off, 95), 3),
        "share_p50": round(percentile(shares, 50), 4),
        "share_mean": round(sum(shares) / len(shares), 4) if shares else 0.0,
        "reader_p50_ms": ms(inside, 50),
        "reader_p95_ms": ms(inside, 95),
        "candidates": reader.cascade.candidates,
        "questions": len(questions),
    }


def bench_reader_http(config: BenchConfig, on_url: str, off_url: str) -> dict:
    """16 aiohttp clients against the reader-on server, then the reader-off one, in ABBA rounds
    of `config.seconds / 2` each. Out: per setting `rps` (mean of its rounds), `errors`,
    `requests` (summed), `p50_ms` / `p95_ms` (mean of its rounds); `rps_ratio` = on / off;
    `errors` of both."""
    questions = questions_for(config)
    urls = {"on": on_url, "off": off_url}
    for url in urls.values():  # warm up
        asyncio.run(load_servers([url], questions, 1, min(2.0, config.seconds)))
    rounds: dict[str, list[dict]] = {"on": [], "off": []}
    for setting in ROUNDS:
        config.log(f"http reader {setting}: {HTTP_CLIENTS} clients for {config.seconds / 2:.0f} s")
        load = load_servers([urls[setting]], questions, HTTP_CLIENTS, config.seconds / 2)
        rounds[setting].append(asyncio.run(load))
    out: dict = {setting: _merge_rounds(results) for setting, results in rounds.items()}
    off_rps = out["off"]["rps"]
    out["rps_ratio"] = round(out["on"]["rps"] / off_rps, 3) if off_rps else None
    out["errors"] = out["on"]["errors"] + out["off"]["errors"]
    out["clients"] = HTTP_CLIENTS
    return out


def _merge_rounds(results: list[dict]) -> dict:
    """Rounds of equal length as one figure: mean rps and latencies, summed counts."""
    count = len(results)
    return {
        "rps": round(sum(r["rps"] for r in results) / count, 2),
        "p50_ms": round(sum(r["p50_ms"] for r in results) / count, 3),
        "p95_ms": round(sum(r["p95_ms"] for r in results) / count, 3),
        "errors": sum(r["errors"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "rounds": count,
    }


def reader_targets(result: dict) -> list[tuple[str, float, float, str]]:
    """(name, value, limit, unit) of the item-5 targets the run measured: answer p50 and p95
    differences against their budget, 16-client errors and throughput share."""
    out: list[tuple[str, float, float, str]] = []
    a = result.get("answer", {}).get("reader")
    if a:
        out.append(("answer p50: reader on - off", a["diff_p50_ms"], P50_BUDGET_MS, "ms"))
        out.append(("answer p95: reader on - off", a["diff_p95_ms"], P95_BUDGET_MS, "ms"))
    h = result.get("http_reader")
    if h:
        out.append(("http 16 clients, reader on and off: errors", h["errors"], 0, ""))
        # Throughput: >= 40% of reader-off, inverted so that value <= limit holds.
        out.append(("http 16 clients: 0.40 x reader-off rps / reader-on rps",
                    RPS_SHARE * h["off"]["rps"], h["on"]["rps"], "rps"))  # fmt: skip
    return out


def reader_lines(result: dict) -> list[str]:
    """The reader figures as plain text lines for `qa bench`'s table (those measured)."""
    lines = []
    a = result.get("answer", {}).get("reader")
    if a:
        lines.append(
            f"answer, reader on / off ({a['questions']} questions, interleaved): p50 "
            f"{a['on']['p50_ms']:.1f} / {a['off']['p50_ms']:.1f} ms ({a['diff_p50_ms']:+.1f}), "
            f"p95 {a['on']['p95_ms']:.1f} / {a['off']['p95_ms']:.1f} ms "
            f"({a['diff_p95_ms']:+.1f}); reader's share of the answer time p50 "
            f"{a['share_p50']:.0%}, mean {a['share_mean']:.0%} (reader p50 "
            f"{a['reader_p50_ms']:.1f} ms, {a['candidates']} candidates)"
        )
    h = result.get("http_reader")
    if h:
        ratio = "-" if h["rps_ratio"] is None else f"{h['rps_ratio']:.2f}"
        lines.append(
            f"http {h['clients']} clients, reader on / off (ABBA rounds): "
            f"{h['on']['rps']:.1f} / {h['off']['rps']:.1f} req/s (on/off {ratio}), p50 "
            f"{h['on']['p50_ms']:.1f} / {h['off']['p50_ms']:.1f} ms, {h['errors']} errors"
        )
    return lines
