"""Measure `qa ask` latency on milvus-lite against FAISS over a small folder (not a test).

    .venv/bin/python -m tests.support.milvus_latency [--rounds 5] [--docs DIR]

Starts a `milvus-lite server` on a free loopback port in a temporary folder, indexes the same
documents (default: five short ones) into FAISS and into Milvus with the real model, then asks
the same questions of both `Assistant`s, as `qa ask -` does (one process, questions in a row).
Prints, per backend, took_ms p50 / p95 and, for Milvus, the client calls per question and the
time spent in them. Timings depend on the machine's load; run both backends in one go.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.embedding import SentenceTransformerEmbedder
from qa.pipeline import Assistant
from tests.support.fakes import SEED_DOC, SEEDS
from tests.support.milvus_fixture import running_milvus
from tests.unit.stores.test_base import ISLANDS, KIWI

QUESTIONS = [
    "When did Luxon take office?",
    "Who is the prime minister of Japan?",
    "What do Japan and New Zealand agree to share?",
    "Which islands does China claim?",
    "Where do kiwis live?",
    "When do kiwis forage?",
    "What does the tui sound like?",
    "How long do kauri trees live?",
    "Who sails near the Senkaku Islands?",
    "What is the boiling point of mercury?",
]


def five_documents(folder: Path) -> Path:
    """The seed article and four short documents."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEEDS / SEED_DOC, folder / SEED_DOC)
    (folder / "kiwi.txt").write_text(KIWI)
    (folder / "islands.md").write_text(ISLANDS)
    (folder / "tui.txt").write_text("Tui\n\nThe tui is a loud songbird of New Zealand forests.")
    (folder / "kauri.txt").write_text("Kauri\n\nKauri trees grow slowly and live for centuries.")
    return folder


class CountingClient:
    """Wraps a MilvusClient: counts the calls and the seconds spent in each method."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - started

        return timed


def warm(assistant: Assistant) -> None:
    """One round of questions: the model, the snapshot and its caches loaded."""
    for question in QUESTIONS:
        assistant.ask(question)


def measure(assistant: Assistant, rounds: int, cold: bool = False) -> list[float]:
    """took_ms of every question, `rounds` times over; with `cold`, the snapshot's caches are
    emptied before each question (as on a corpus much larger than the caches)."""
    times = []
    for _ in range(rounds):
        for question in QUESTIONS:
            if cold:
                snapshot = assistant.snapshot()
                for cache in ("_cache", "_rows", "_documents_cache"):
                    getattr(snapshot, cache, {}).clear()
            times.append(assistant.ask(question).took_ms)
    return times


def summary(name: str, times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return f"{name:7s} n={len(times)} p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--docs", type=Path, default=None)
    parser.add_argument("--cold", action="store_true", help="empty Milvus's caches per question")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        docs = args.docs or five_documents(root / "docs")
        with running_milvus(root) as address:
            faiss = Assistant(Settings(docs_dir=docs, index_dir=root / "index"), embedder)
            milvus = Assistant(
                Settings(docs_dir=docs, store=f"milvus://{address}/latency"), embedder
            )
            print(faiss.refresh().documents, "documents indexed in FAISS and Milvus")
            milvus.refresh()
            counting = CountingClient(milvus.store.client)  # type: ignore[attr-defined]
            milvus.store._client_obj = counting  # type: ignore[attr-defined]
            milvus._snapshot = None  # reopen through the counting client
            warm(faiss)
            faiss_times = measure(faiss, args.rounds)
            warm(milvus)
            counting.calls.clear()
            counting.seconds.clear()
            milvus_times = measure(milvus, args.rounds, args.cold)
            asked = len(milvus_times)
            print(summary("faiss", faiss_times))
            print(summary("milvus", milvus_times))
            for name, calls in sorted(counting.calls.items()):
                ms = counting.seconds[name] / asked * 1000
                print(f"  milvus {name}: {calls / asked:.2f} calls, {ms:.1f} ms per question")


if __name__ == "__main__":
    main()
