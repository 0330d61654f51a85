"""`qa bench`: measure build, refresh, answer and HTTP costs against the model's own limit.

In: a corpus (SQuAD v1.1 dev: its 48 articles become 48 `.txt` files under `.cache/bench/`; or
any docs folder) and a few knobs. Out: a `dict` with the `--json` keys of issue 5 plus a
`targets` list, each figure next to its limit measured in the same run, and a printed table.

The limits are measured here because the machine is shared and noisy: the bare `model.encode`
of exactly the texts a build encodes (recorded by running the product's own indexer with a
recording embedder), the bare encode of each question, and the answerer with its reader off
(`QA_READER=off`; `qa.tools.bench_reader`: issue 15's budget for the reader, in process and
at 16 HTTP clients). Builds, refreshes and the server run
as fresh processes (`qa index`, `qa serve`), as a user would run them; their peak and resident
memory come from the kernel (`wait4`) and psutil. Every part is a small function taking a
`BenchConfig`, so the tests run the whole thing in seconds on a tiny corpus.

`--store milvus://HOST:PORT/COLLECTION` adds the `milvus` part (`qa.tools.bench_milvus`): the
same corpus in FAISS and in Milvus, answers timed on both in one process, and 16 HTTP clients
over two reader-only `qa serve --store` servers.

`--only pdf` (or `--pdfs DIR` / `--pdf-pages N` alone) runs the `pdf` part
(`qa.tools.bench_pdf`): pages/s extracted, the whole build time of a PDF folder and the share
of each phase, optionally on its PDFs repeated to N pages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from qa.tools.bench_base import (
    CACHE,
    DIM,
    SIZES,
    BenchConfig,
    Server,
    load_servers,
    ms,
    questions_for,
    serve_process,
    subprocess_index,
)
from qa.tools.bench_reader import (
    bench_reader_answer,
    bench_reader_http,
    reader_lines,
    reader_targets,
)
from qa.tools.bench_safety import bench_chunking, bench_rebuilds, safety_lines, safety_targets

SQUAD_DEFAULT = Path("../shared/eval/squad-v1.1-dev/dev-v1.1.json.gz")


# ---- corpus --------------------------------------------------------------------------------


def squad_corpus(path: Path, folder: Path) -> tuple[Path, list[str]]:
    """Write each SQuAD article as `<folder>/NN-title.txt` (paragraphs joined by a blank line);
    return the folder and the questions, taken round-robin across articles."""
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    per_article: list[list[str]] = []
    for number, article in enumerate(articles):
        name = f"{number:02d}-{re.sub(r'[^A-Za-z0-9]+', '_', article['title'])[:60]}.txt"
        wanted.add(name)
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"]) + "\n"
        target = folder / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        per_article.append([q["question"] for p in article["paragraphs"] for q in p["qas"]])
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    questions = [
        qs[i] for i in range(max(map(len, per_article))) for qs in per_article if i < len(qs)
    ]
    return folder, questions


def docs_questions(docs: Path, count: int = 200) -> list[str]:
    """Questions for a plain docs folder: the first words of its sentences, as a question."""
    from qa.chunking import split_sentences
    from qa.documents import load, scan

    sources, _ = scan(docs, 20 * 1024 * 1024)
    questions: list[str] = []
    for source in sources:
        text = load(source).text
        for span in split_sentences(text)[:50]:
            words = text[span.start : span.end].split()[:10]
            if len(words) >= 4:
                questions.append("What about " + " ".join(words).rstrip(".?!") + "?")
    return questions[:count] or ["What is this document about?"]


# ---- measuring helpers ---------------------------------------------------------------------


def machine() -> dict:
    """The machine the figures were taken on."""
    import platform

    import psutil

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }


def subprocess_server(
    docs: Path, index: Path, reader: str | None = None, timeout: float = 300.0
) -> Server:
    """Start `qa serve` on a free loopback port and wait until /health says ok. `reader`: its
    `QA_READER` (None: this process's environment as it is)."""
    env = None if reader is None else {**os.environ, "QA_READER": reader}
    return serve_process(["--docs", str(docs), "--index", str(index)], env=env, timeout=timeout)


# ---- the parts -----------------------------------------------------------------------------


class _RecordingEmbedder:
    """Stands in for the model inside the product's own indexer: records what it would encode
    and returns zero vectors, so the build's non-encoding work can be timed on its own."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.name = real.name
        self.dim = real.dim
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def encode(self, texts: list[str], progress: bool = False):  # type: ignore[no-untyped-def]
        import numpy as np

        self.texts += texts
        return np.zeros((len(texts), self.dim), dtype=np.float32)

    def encode_query(self, text: str):  # type: ignore[no-untyped-def]
        return self.real.encode_query(text)  # never called by a build; here for the protocol


def bare_encode(embedder, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Seconds for sentence-transformers alone to encode `texts` (torch, the product's torch
    batch size): what a hand-rolled script pays. The product encodes documents with the ONNX
    export by default (`QA_DOCUMENT_ENCODER`), so its build may take less than this."""
    model = getattr(embedder, "model", None)
    started = time.perf_counter()
    if model is None:  # a fake embedder: its encode is all there is
        embedder.encode(texts)
    else:
        model.encode(
            texts,
            batch_size=embedder.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return time.perf_counter() - started


def bench_build(config: BenchConfig, embedder, index: Path) -> dict:  # type: ignore[no-untyped-def]
    """Full build as a fresh process vs the bare encode of the texts it encodes, measured
    before and after the build (their mean is the limit)."""
    import tempfile

    from qa.config import Settings
    from qa.indexer import refresh
    from qa.stores.faiss_store import FaissStore

    recorder = _RecordingEmbedder(embedder)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        tag = Settings.from_env().entities_at_build  # as the `qa index` below will
        refresh(config.docs, FaissStore(Path(scratch)), recorder, tag_entities=tag)
        overhead = time.perf_counter() - started
    config.log(f"build: {len(recorder.texts)} texts to encode; bare encode...")
    before = bare_encode(embedder, recorder.texts)
    config.log(f"build: bare encode {before:.1f} s; full build...")
    shutil.rmtree(index, ignore_errors=True)
    run = (config.run_index or subprocess_index)(config.docs, index)
    # The bare encode again, after the build: on a machine whose speed drifts during a run
    # (this one's did by 10-15% within minutes), one measurement before the build would
    # charge the build for the drift. The limit is the mean of the two.
    config.log(f"build: {run.seconds:.1f} s; bare encode again...")
    after = bare_encode(embedder, recorder.texts)
    encode_seconds = (before + after) / 2
    return {
        "seconds": run.seconds,
        "encode_seconds": round(encode_seconds, 3),
        "encode_seconds_before": round(before, 3),
        "encode_seconds_after": round(after, 3),
        "ratio": round(run.seconds / encode_seconds, 3),
        "peak_rss_mb": run.peak_rss_mb,
        "texts": len(recorder.texts),
        "chunks": run.report["chunks"],
        "documents": run.report["documents"],
        "in_process_seconds": run.report["seconds"],
        "non_encode_seconds": round(overhead, 3),
    }


def bench_refresh(config: BenchConfig, index: Path) -> dict:
    """`qa index` as a fresh process when nothing changed."""
    run = (config.run_index or subprocess_index)(config.docs, index)
    if run.report["embedded"] != 0:
        raise click.ClickException(f"no-change refresh embedded {run.report['embedded']} chunks")
    return {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb}


def bench_incremental(config: BenchConfig, index: Path, build_seconds: float | None) -> dict:
    """Change one document (append a paragraph), refresh as a fresh process, then restore it."""
    target = sorted(config.docs.glob("*.txt"))[0]
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\nOne more paragraph, added by qa bench.\n")
        run = (config.run_index or subprocess_index)(config.docs, index)
    finally:
        target.write_bytes(original)
    out = {"seconds": run.seconds, "embedded": run.report["embedded"], "of": run.report["chunks"]}
    out["share"] = round(run.seconds / build_seconds, 4) if build_seconds else None
    return out


def bench_answer(config: BenchConfig, assistant) -> dict:  # type: ignore[no-untyped-def]
    """In-process `Assistant.ask` vs the bare encode of the same question by the product's
    question encoder, interleaved per question, then the throughput of answering on two
    threads. Also the sentence-transformers (torch) encode of each question, the encoder
    questions used before the ONNX one, as `torch_encode_p50_ms`."""
    embedder = assistant.embedder
    questions = questions_for(config)
    for question in questions[:5]:  # warm caches and lazy imports
        embedder.encode_query(question)
        assistant.ask(question)
    asks, encodes = [], []
    for question in questions:
        started = time.perf_counter()
        embedder.encode_query(question)
        encodes.append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.ask(question)
        asks.append(time.perf_counter() - started)
    p50, encode_p50 = ms(asks, 50), ms(encodes, 50)
    return {
        "p50_ms": p50,
        "p95_ms": ms(asks, 95),
        "encode_p50_ms": encode_p50,
        "encode_p95_ms": ms(encodes, 95),
        "extra_p50_ms": round(p50 - encode_p50, 3),
        "ratio": round(p50 / encode_p50, 3) if encode_p50 else None,
        "questions": len(questions),
        "query_encoder": getattr(embedder, "query_encoder", None),
        "torch_encode_p50_ms": _torch_encode_p50(embedder, questions),
        "two_thread_rps": _threaded_rps(assistant, questions, config.seconds),
    }


def _torch_encode_p50(embedder, questions: list[str]) -> float | None:  # type: ignore[no-untyped-def]
    """p50 ms of `SentenceTransformer.encode` of one question (None for a fake embedder)."""
    model = getattr(embedder, "model", None)
    if model is None:
        return None
    times = []
    for question in questions[:5] + questions:
        started = time.perf_counter()
        model.encode([question], normalize_embeddings=True, show_progress_bar=False)
        times.append(time.perf_counter() - started)
    return ms(times[5:], 50)


def _threaded_rps(assistant, questions: list[str], seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Answers per second with two threads asking as fast as they can for `seconds`."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + seconds
    counts = [0, 0]

    def worker(slot: int) -> None:
        i = slot
        while time.monotonic() < deadline:
            assistant.ask(questions[i % len(questions)])
            counts[slot] += 1
            i += 2

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(worker, range(2)))
    return round(sum(counts) / (time.perf_counter() - started), 2)


async def _load(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    """`clients` concurrent aiohttp clients POSTing /ask to `url` in a loop for `seconds`."""
    result = await load_servers([url], questions, clients, seconds)
    del result["per_server"]
    return result


def bench_one_client(config: BenchConfig, url: str, assistant) -> dict:  # type: ignore[no-untyped-def]
    """One client, question by question: the in-process answer (`assistant.ask`) and the same
    question POSTed to the server at `url` over one kept-alive connection, which goes first
    alternating. Both halves of each pair see the same machine load, so their p50s compare
    (measured in separate passes, the reader's noise alone moved an in-process p50 by 2 ms).
    Out: `in_process` and `http` p50/p95 ms, `errors` (non-200 answers), `questions`."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(url)
    connection = http.client.HTTPConnection(
        address.hostname or "127.0.0.1", address.port, timeout=60
    )
    questions = questions_for(config)
    local: list[float] = []
    remote: list[float] = []
    errors = 0

    def over_http(question: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        body = json.dumps({"question": question})
        connection.request("POST", "/ask", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            errors += 1
        remote.append(time.perf_counter() - started)

    def in_process(question: str) -> None:
        started = time.perf_counter()
        assistant.ask(question)
        local.append(time.perf_counter() - started)

    try:
        for question in questions[:5]:  # warm both sides
            in_process(question)
            over_http(question)
        local.clear()
        remote.clear()
        for i, question in enumerate(questions):
            for step in (in_process, over_http) if i % 2 == 0 else (over_http, in_process):
                step(question)
    finally:
        connection.close()
    return {
        "in_process": {"p50_ms": ms(local, 50), "p95_ms": ms(local, 95)},
        "http": {"p50_ms": ms(remote, 50), "p95_ms": ms(remote, 95)},
        "errors": errors,
        "questions": len(questions),
    }


def bench_http(  # type: ignore[no-untyped-def]
    config: BenchConfig, index: Path, embedder
) -> tuple[dict, float, dict | None, dict]:
    """The server (default settings) on loopback: one client interleaved with in-process
    answers over `embedder` (`bench_one_client`), then each client count; its RSS after those
    (MB); then, when the reader is on by default, the reader on/off comparison at 16 clients
    against a second server started with `QA_READER=off` (None when the reader is off)."""
    import asyncio

    import psutil

    from qa.reader import reader_folder

    start = config.start_server or subprocess_server
    server = start(config.docs, index, None)
    try:
        questions = questions_for(config)
        results = {}
        asyncio.run(_load(server.url, questions, 1, min(2.0, config.seconds)))  # warm up
        config.log("http: 1 client, interleaved with in-process answers")
        one = bench_one_client(config, server.url, _assistant(config, embedder, index))
        for clients in config.clients:
            config.log(f"http: {clients} client(s) for {config.seconds:.0f} s")
            results[str(clients)] = asyncio.run(
                _load(server.url, questions, clients, config.seconds)
            )
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
        on_off = None
        if reader_folder() is not None:
            off = start(config.docs, index, "off")
            try:
                on_off = bench_reader_http(config, server.url, off.url)
            finally:
                off.stop()
    finally:
        server.stop()
    return results, round(rss, 1), on_off, one


def synthetic_vectors(n: int, dim: int, seed: int, centers=None):  # type: ignore[no-untyped-def]
    """`n` unit vectors around random topic centers (one per 500 vectors), the shape of
    sentence embeddings: neighbours share a topic (cosine about 0.4), unrelated ones about 0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if centers is None:
        centers = rng.standard_normal((max(64, n // 500), dim), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):  # in blocks: bounded temporary memory
        hi = min(n, lo + 100_000)
        block = centers[rng.integers(0, len(centers), hi - lo)]
        block += rng.standard_normal((hi - lo, dim), dtype=np.float32) * 0.06
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, centers


def bench_scaling(config: BenchConfig) -> dict:
    """At each size: the product's index choice, its search p50 and recall@10 vs exact search."""
    import faiss

    from qa.stores.vector_index import build_index, choose_kind, describe

    results = {}
    for n in config.sizes:
        base, centers = synthetic_vectors(n, DIM, seed=n)
        queries, _ = synthetic_vectors(min(config.queries, 200), DIM, seed=n + 1, centers=centers)
        exact = faiss.IndexFlatIP(DIM)
        exact.add(base)
        exact_lat, truth = _search_each(exact, queries)
        del exact
        started = time.perf_counter()
        index = build_index(base, choose_kind(n))
        built = time.perf_counter() - started
        lat, found = _search_each(index, queries)
        hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
        results[str(n)] = {
            "index": describe(index),
            "p50_ms": ms(lat, 50),
            "recall10": round(hits / (10 * len(queries)), 4),
            "exact_p50_ms": ms(exact_lat, 50),
            "build_seconds": round(built, 2),
        }
        config.log(f"scaling {n}: {results[str(n)]}")
        del index, base
    return results


def _search_each(index, queries) -> tuple[list[float], list[list[int]]]:  # type: ignore[no-untyped-def]
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, rows = index.search(query.reshape(1, -1), 10)
        latencies.append(time.perf_counter() - started)
        found.append([int(r) for r in rows[0]])
    return latencies, found


# ---- the whole run -------------------------------------------------------------------------


def index_folder(work: Path, docs: Path) -> Path:
    """Where the benchmark keeps the index of `docs`: one folder per docs folder, so that a run
    on another corpus never finds this one's index (a refresh would refuse to empty it)."""
    digest = hashlib.sha1(str(docs.resolve()).encode()).hexdigest()[:8]
    return work / f"index-{docs.name}-{digest}"


def run_bench(config: BenchConfig) -> dict:
    """Run the selected parts in order and return the result object (see the module doc).

    A part that fails is recorded as `errors[part]` and the others still run; the result so far
    is saved to `<work>/bench-partial.json` after every part, since a full run takes long."""
    result: dict = {"machine": machine(), "corpus": {"docs": str(config.docs)}, "errors": {}}
    index = index_folder(config.work, config.docs)
    embedder = config.embedder
    if embedder is None and config.parts & {"build", "answer", "http", "milvus"}:
        from qa.config import Settings
        from qa.embedding import SentenceTransformerEmbedder

        settings = Settings.from_env()  # QA_MODEL and QA_*_ENCODER apply here too
        embedder = SentenceTransformerEmbedder(
            settings.model,
            query_encoder=settings.query_encoder,
            document_encoder=settings.document_encoder,
        )
        started = time.perf_counter()
        _ = embedder.model
        embedder.warm()  # the question encoder's export, made once per model
        result["model_load_seconds"] = round(time.perf_counter() - started, 3)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("build", lambda: result.update(build=bench_build(config, embedder, index))),
        ("refresh", lambda: result.update(refresh=bench_refresh(config, index))),
        ("incremental", lambda: result.update(incremental=bench_incremental(
            config, index, result.get("build", {}).get("seconds")))),
        ("answer", lambda: result.update(answer=_answer_part(config, embedder, index))),
        ("http", lambda: _http_part(config, index, result, embedder)),
        ("scaling", lambda: result.update(scaling=bench_scaling(config))),
        ("milvus", lambda: _milvus_part(config, embedder, result)),
        ("chunking", lambda: result.update(chunking=bench_chunking())),
        ("rebuilds", lambda: result.update(rebuilds=bench_rebuilds(config.docs, config.work))),
        ("pdf", lambda: result.update(pdf=_pdf_part(config))),
    ]  # fmt: skip
    for name, step in steps:
        if name not in config.parts:
            continue
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
        config.log(f"{name}: {result.get(name, result['errors'].get(name))}")
        if "refresh" in result:
            result["refresh_seconds"] = result["refresh"]["seconds"]
        _save_partial(config.work, result)
    result["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    result["targets"] = targets(result)
    return result


def _answer_part(config: BenchConfig, embedder, index: Path) -> dict:  # type: ignore[no-untyped-def]
    """`bench_answer` with the default settings, and under `reader` the reader on/off figures
    (None when the reader is off)."""
    assistant = _assistant(config, embedder, index)
    out = bench_answer(config, assistant)
    config.log("answer: reader on and off, interleaved")
    out["reader"] = bench_reader_answer(config, assistant)
    return out


def _assistant(config: BenchConfig, embedder, index: Path):  # type: ignore[no-untyped-def]
    """An in-process `Assistant` with the default settings over `index`, loaded."""
    from qa.config import Settings
    from qa.pipeline import Assistant

    assistant = Assistant(Settings(docs_dir=config.docs, index_dir=index), embedder=embedder)
    assistant.refresh()
    return assistant


def _http_part(config: BenchConfig, index: Path, result: dict, embedder) -> None:  # type: ignore[no-untyped-def]
    """The http part: `http`, `server_rss_mb`, `http_one_client` and (reader on by default)
    `http_reader`."""
    http, rss, on_off, one = bench_http(config, index, embedder)
    result.update(http=http, server_rss_mb=rss, http_one_client=one)
    if on_off is not None:
        result["http_reader"] = on_off


def _milvus_part(config: BenchConfig, embedder, result: dict) -> None:  # type: ignore[no-untyped-def]
    """The milvus part; its figures go into `result["milvus"]` as they are measured."""
    from qa.tools.bench_milvus import bench_milvus

    bench_milvus(config, embedder, result.setdefault("milvus", {}))


def _pdf_part(config: BenchConfig) -> dict:
    from qa.tools.bench_pdf import bench_pdf

    return bench_pdf(config)


def _save_partial(work: Path, result: dict) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "bench-partial.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


@dataclass(frozen=True)
class Target:
    """One target: the figure, its limit (measured in the same run where it is one), and
    `ratio` = value / limit, so <= 1.0 meets it."""

    name: str
    value: float
    limit: float
    unit: str

    def to_dict(self) -> dict:
        # A limit of zero (errors) is met exactly when the value is zero too; no finite ratio.
        zero_limit = 0.0 if self.value == 0 else None
        ratio = round(self.value / self.limit, 3) if self.limit else zero_limit
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "limit": round(self.limit, 3),
            "unit": self.unit,
            "ratio": ratio,
            "ok": self.value <= self.limit,
        }


def targets(r: dict) -> list[dict]:
    """Every issue-5 target that the parts run could measure, as `Target.to_dict()`s."""
    out: list[Target] = []
    if "build" in r:
        b = r["build"]
        out.append(
            Target(
                "full build vs 1.10 x bare encode", b["seconds"], 1.10 * b["encode_seconds"], "s"
            )
        )
    if "refresh_seconds" in r:
        out.append(Target("no-change refresh (fresh process)", r["refresh_seconds"], 1.5, "s"))
    if r.get("incremental", {}).get("share") is not None:
        out.append(
            Target("one-document change, share of full build", r["incremental"]["share"], 0.10, "")
        )
    out += [Target(*row) for row in reader_targets(r)]  # replaces "answer p50 vs encode + 3 ms"
    http = r.get("http", {})
    if "16" in http:
        h = http["16"]
        out.append(Target("http 16 clients: errors", h["errors"], 0, ""))
        out.append(Target("http 16 clients: p99 vs 4 x p50", h["p99_ms"], 4 * h["p50_ms"], "ms"))
        if "answer" in r:
            # Throughput: the limit is the in-process rate; the figure is inverted so <= 1 holds.
            rate = r["answer"]["two_thread_rps"]
            out.append(
                Target(
                    "http 16 clients: 0.7 x in-process rps / http rps", 0.7 * rate, h["rps"], "rps"
                )
            )
    one = r.get("http_one_client")
    if one is not None:  # the two p50s from interleaved pairs (see `bench_one_client`)
        limit = one["in_process"]["p50_ms"] + 3
        out.append(Target("http 1 client: p50 vs in-process p50 + 3 ms", one["http"]["p50_ms"],
                          limit, "ms"))  # fmt: skip
        out.append(Target("http 1 client, interleaved: errors", one["errors"], 0, ""))
    if "server_rss_mb" in r:
        out.append(Target("server RSS after load", r["server_rss_mb"], 600, "MB"))
    big = r.get("scaling", {}).get("1000000")
    if big:
        out.append(Target("1M vectors: search p50", big["p50_ms"], 5, "ms"))
        out.append(Target("1M vectors: 1 - recall@10 vs 0.05", 1 - big["recall10"], 0.05, ""))
    if "milvus" in r:
        from qa.tools.bench_milvus import milvus_targets

        out += [Target(*row) for row in milvus_targets(r["milvus"])]
    out += [Target(*row) for row in safety_targets(r)]
    if "pdf" in r:
        from qa.tools.bench_pdf import pdf_targets

        out += [Target(*row) for row in pdf_targets(r["pdf"])]
    return [t.to_dict() for t in out]


def table(result: dict) -> str:
    """The figures as plain text: the measured parts, then each target with its ratio."""
    lines = [
        f"machine: {result['machine']['cpus']} x {result['machine']['cpu_model']}, "
        f"{result['machine']['memory_gb']} GB, load {result['machine']['load_average']}"
        f" at the start, {result['machine'].get('load_average_end')} at the end"
    ]
    if "build" in result:
        b = result["build"]
        lines.append(
            f"build: {b['documents']} docs, {b['texts']} texts encoded ({b['chunks']} "
            f"chunks) in {b['seconds']:.1f} s; bare encode {b['encode_seconds']:.1f} s; "
            f"non-encode work {b['non_encode_seconds']:.1f} s; peak RSS "
            f"{b['peak_rss_mb']:.0f} MB"
        )
    if "refresh_seconds" in result:
        lines.append(f"no-change refresh: {result['refresh_seconds']:.2f} s")
    if "incremental" in result:
        i = result["incremental"]
        lines.append(f"one document changed: {i['seconds']:.1f} s, {i['embedded']} chunks embedded")
    if "answer" in result:
        a = result["answer"]
        lines.append(
            f"answer in process: p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms; "
            f"bare encode p50 {a['encode_p50_ms']:.1f} ms; two threads "
            f"{a['two_thread_rps']:.1f} answers/s"
        )
    for clients, h in result.get("http", {}).items():
        lines.append(
            f"http {clients:>2} clients: {h['rps']:.1f} req/s, p50 {h['p50_ms']:.1f} / "
            f"p95 {h['p95_ms']:.1f} / p99 {h['p99_ms']:.1f} ms, {h['errors']} errors"
        )
    if "http_one_client" in result:
        one = result["http_one_client"]
        lines.append(
            f"http 1 client, interleaved with in-process: p50 {one['http']['p50_ms']:.1f} vs "
            f"{one['in_process']['p50_ms']:.1f} ms, {one['errors']} errors"
        )
    lines += reader_lines(result)
    if "server_rss_mb" in result:
        lines.append(f"server RSS after load: {result['server_rss_mb']:.0f} MB")
    for n, s in result.get("scaling", {}).items():
        lines.append(
            f"{int(n):>9,} vectors: {s['index']}, p50 {s['p50_ms']:.3f} ms, recall@10 "
            f"{s['recall10']:.3f} (exact p50 {s['exact_p50_ms']:.2f} ms)"
        )
    if "milvus" in result:
        from qa.tools.bench_milvus import milvus_lines

        lines += milvus_lines(result["milvus"])
    lines += safety_lines(result)
    if "pdf" in result:
        from qa.tools.bench_pdf import pdf_lines

        lines += pdf_lines(result["pdf"])
    for part, error in result.get("errors", {}).items():
        lines.append(f"{part}: FAILED: {error}")
    lines += ["", f"{'target':<52} {'value':>10} {'limit':>10} {'ratio':>6}  ok"]
    for t in result["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        lines.append(
            f"{t['name']:<52} {t['value']:>10.3f} {t['limit']:>10.3f} "
            f"{ratio:>6}  {'yes' if t['ok'] else 'NO'}"
        )
    return "\n".join(lines)


@contextmanager
def _stderr_log(enabled: bool) -> Iterator[Callable[[str], None]]:
    lock = threading.Lock()

    def log(message: str) -> None:
        if enabled:
            with lock:
                print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    yield log


@click.command("bench")
@click.option(
    "--corpus",
    nargs=2,
    type=(click.Choice(["squad"]), click.Path(path_type=Path)),
    default=None,
    help="squad PATH: SQuAD v1.1 dev (.json.gz), one .txt per article.",
)
@click.option(
    "--docs",
    "docs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Benchmark over this docs folder instead.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--only",
    default=None,
    help="Comma-separated parts: build,refresh,incremental,answer,http,scaling,milvus,"
    "chunking,rebuilds.",
)
@click.option(
    "--store",
    default=None,
    help="milvus://HOST:PORT/COLLECTION: the milvus part builds the corpus there and compares "
    "it with FAISS (in-process answers; 16 HTTP clients over two reader-only servers). Alone "
    "(no --only) it runs just that part.",
)
@click.option(
    "--sizes",
    default=",".join(map(str, SIZES)),
    show_default=True,
    help="Synthetic vector counts for the scaling part.",
)
@click.option(
    "--seconds",
    type=float,
    default=10.0,
    show_default=True,
    help="Duration of each HTTP load level and of the two-thread run.",
)
@click.option(
    "--queries",
    type=int,
    default=200,
    show_default=True,
    help="Questions timed in process (and synthetic queries per size).",
)
@click.option(
    "--pdfs",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The pdf part's folder of PDFs [default: ../shared/eval/pdfs]. Alone (no --only) it "
    "runs just that part.",
)
@click.option(
    "--pdf-pages",
    type=click.IntRange(min=1),
    default=None,
    help="The pdf part builds on the PDFs repeated (under other names) to at least this many "
    "pages, e.g. 1000 for the '1,000 pages within 10 minutes' target.",
)
@click.option(
    "--work",
    type=click.Path(path_type=Path),
    default=CACHE,
    show_default=True,
    help="Folder for the corpus copy and the index the benchmark builds.",
)
def bench_command(
    corpus: tuple[str, Path] | None,
    docs_dir: Path | None,
    as_json: bool,
    only: str | None,
    sizes: str,
    seconds: float,
    queries: int,
    work: Path,
    store: str | None,
    pdfs: Path | None,
    pdf_pages: int | None,
) -> None:
    """Benchmark the product against bare model encoding measured in the same run."""
    if corpus and docs_dir:
        raise click.UsageError("give --corpus or --docs, not both")
    parts = _parts(only, store, pdf=pdfs is not None or pdf_pages is not None)
    if parts == {"pdf"}:
        docs, questions = docs_dir or work, []  # the pdf part reads only its own folder
    elif docs_dir is not None:
        docs, questions = docs_dir, docs_questions(docs_dir)
    else:
        path = corpus[1] if corpus else SQUAD_DEFAULT
        if not path.is_file():
            raise click.UsageError(f"SQuAD file {path} not found; pass --corpus squad PATH")
        docs, questions = squad_corpus(path, work / "squad")
    with _stderr_log(True) as log:
        config = BenchConfig(
            docs=docs,
            questions=questions,
            work=work,
            parts=parts,
            seconds=seconds,
            queries=queries,
            sizes=tuple(int(s) for s in sizes.split(",") if s.strip()),
            store=store,
            log=log,
            pdfs=pdfs,
            pdf_pages=pdf_pages,
        )
        result = run_bench(config)
    click.echo(json.dumps(result) if as_json else table(result))


def _parts(only: str | None, store: str | None, pdf: bool = False) -> frozenset[str]:
    """The parts to run: `--only`'s, else all FAISS ones, or just `milvus` with `--store`
    and just `pdf` with `pdf` (a PDF option given)."""
    if store is not None and not store.startswith("milvus://"):
        raise click.UsageError(f"--store must be milvus://HOST:PORT/COLLECTION, got {store!r}")
    if only:
        parts = frozenset(p.strip() for p in only.split(",") if p.strip())
    elif store or pdf:
        parts = frozenset({"milvus"} if store else ()) | frozenset({"pdf"} if pdf else ())
    else:
        parts = BenchConfig.parts
    if "milvus" in parts and store is None:
        raise click.UsageError("the milvus part needs --store milvus://HOST:PORT/COLLECTION")
    return parts
