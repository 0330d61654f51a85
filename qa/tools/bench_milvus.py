"""The `milvus` part of `qa bench` (`qa bench --store milvus://HOST:PORT/COLLECTION`).

In: a `BenchConfig` whose `store` names a Milvus collection, and the embedder.
Out: a `dict` with
- `build`: the corpus built into FAISS (`<work>/index`) and into the collection with the
  product's indexer; each text is encoded once, so the Milvus build reuses FAISS's vectors;
- `preload`: the Milvus snapshot's cache filled before the timing, as a server fills it in the
  background after loading a snapshot: chunks cached, seconds, the cache's estimated MiB and
  this process's RSS growth (0 chunks when `QA_MILVUS_CACHE_MB` is too small: a cold run);
- `answer`: in-process `Assistant.ask` p50/p95 on both stores over the same questions,
  alternating per question (which store goes first too) so machine drift hits both alike;
  `same_answers`: the share of questions whose answer text is identical;
- `search`: p50 of each search alone at the answerer's depth on both stores, and of one Milvus
  round trip (the head read of a version check): where a Milvus answer's time goes;
- `http`: two reader-only `qa serve --store ...` processes (no `--docs`, started in a folder
  with its own `seeds/`), 16 aiohttp clients split across them for `seconds`;
- `store_before` / `store_after` / `unchanged`: the collection's version (generation.epoch),
  document count and a digest of its document hashes around the HTTP load.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.tools.bench_base import BenchConfig, Server, load_servers, ms, questions_for, serve_process

ReaderStarter = Callable[[str, Path], Server]  # (store URI, working directory) -> a server
SEARCH_SAMPLE = 50  # questions whose searches are timed one by one


class _VectorCache:
    """The embedder for the two builds: each distinct text is encoded once, so the second build
    (Milvus) times chunking and writing, not the model again."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name = real.name
        self.dim = real.dim
        self.vectors: dict[str, Any] = {}
        self.encoded = 0

    def count_tokens(self, text: str) -> int:
        return int(self.real.count_tokens(text))

    def encode(self, texts: list[str], progress: bool = False) -> Any:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.encoded += len(missing)
            encoded = self.real.encode(missing, progress=progress)
            self.vectors.update(zip(missing, encoded, strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)

    def encode_query(self, text: str) -> Any:
        return self.real.encode_query(text)


def bench_milvus(config: BenchConfig, embedder: Any, out: dict) -> dict:
    """Build both stores, time answers on both in process, then load two reader-only servers.
    In: `config.store` (a `milvus://` URI), the real or a fake embedder, and `out`, filled as
    the steps finish (a late failure keeps the earlier figures). Out: `out` (see module doc)."""
    from qa.config import Settings
    from qa.pipeline import Assistant
    from qa.stores.faiss_store import FaissStore
    from qa.stores.milvus_store import MilvusStore

    if not config.store or not config.store.startswith("milvus://"):
        raise ValueError(f"the milvus part needs --store milvus://..., got {config.store!r}")
    out["store"] = Settings(store=config.store).store_label
    faiss_store = FaissStore(config.work / "index")
    milvus_store = _dedicated(MilvusStore.from_uri(config.store))
    try:
        out["build"] = _build_both(config, embedder, faiss_store, milvus_store)
        config.log(f"milvus: built {out['build']}")
        faiss = Assistant(
            Settings(docs_dir=config.docs, index_dir=config.work / "index"), embedder, faiss_store
        )
        milvus_settings = Settings(docs_dir=config.docs, store=config.store)
        milvus = Assistant(milvus_settings, embedder, milvus_store)
        out["preload"] = preload(milvus)
        config.log(f"milvus: preloaded {out['preload']}")
        out["answer"] = answer_both(config, faiss, milvus)
        config.log(f"milvus: answers {out['answer']}")
        out["search"] = search_breakdown(config, faiss, milvus, milvus_store)
        config.log(f"milvus: searches {out['search']}")
    finally:
        milvus_store.close()
    out["store_before"] = store_mark(config.store)
    out["http"] = bench_readers(config, config.store)
    config.log(f"milvus: http {out['http']}")
    out["store_after"] = store_mark(config.store)
    out["unchanged"] = out["store_before"] == out["store_after"]
    out["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return out


def _build_both(config: BenchConfig, embedder: Any, faiss_store: Any, milvus_store: Any) -> dict:
    """The corpus into FAISS, then into Milvus, with `qa.indexer.refresh` (what `qa index`
    runs). Out: seconds of each, texts encoded, documents and chunks in Milvus."""
    from qa.config import Settings
    from qa.indexer import refresh

    cache = _VectorCache(embedder)
    tag = Settings.from_env().entities_at_build  # as `qa index` would
    started = time.perf_counter()
    refresh(config.docs, faiss_store, cache, tag_entities=tag)
    faiss_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = refresh(config.docs, milvus_store, cache, tag_entities=tag)
    milvus_seconds = time.perf_counter() - started
    return {
        "faiss_seconds": round(faiss_seconds, 3),
        "milvus_seconds": round(milvus_seconds, 3),
        "encoded": cache.encoded,
        "documents": report.documents,
        "chunks": report.chunks,
        "milvus_embedded": report.embedded,
    }


def preload(milvus: Any) -> dict:
    """Fill the Milvus snapshot's chunk cache now (a server does it in the background).
    Out: chunks cached of all, seconds, the cache's estimate in MiB, RSS growth in MiB."""
    import psutil

    snapshot = milvus.snapshot()
    process = psutil.Process()
    rss = process.memory_info().rss
    started = time.perf_counter()
    cached = snapshot.preload()
    return {
        "chunks": cached,
        "of": snapshot.chunk_count,
        "seconds": round(time.perf_counter() - started, 3),
        "cache_mb": round(snapshot.cache_bytes / 2**20, 1),
        "rss_growth_mb": round((process.memory_info().rss - rss) / 2**20, 1),
    }


def answer_both(config: BenchConfig, faiss: Any, milvus: Any) -> dict:
    """`ask` on both assistants for each question, alternating which goes first.
    Out: p50/p95 ms of each, `ratio` (Milvus p50 / FAISS p50), `same_answers` share."""
    questions = questions_for(config)
    for question in questions[:5]:  # warm caches, lazy imports and both snapshots
        faiss.ask(question)
        milvus.ask(question)
    seconds: dict[str, list[float]] = {"faiss": [], "milvus": []}
    same = 0
    for number, question in enumerate(questions):
        pair = [("faiss", faiss), ("milvus", milvus)]
        texts = {}
        for name, assistant in pair if number % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            texts[name] = assistant.ask(question).answer
            seconds[name].append(time.perf_counter() - started)
        same += texts["faiss"] == texts["milvus"]
    out: dict[str, Any] = {
        name: {"p50_ms": ms(times, 50), "p95_ms": ms(times, 95)} for name, times in seconds.items()
    }
    faiss_p50 = out["faiss"]["p50_ms"]
    out["ratio"] = round(out["milvus"]["p50_ms"] / faiss_p50, 3) if faiss_p50 else None
    out["questions"] = len(questions)
    out["same_answers"] = round(same / max(1, len(questions)), 3)
    return out


def search_breakdown(config: BenchConfig, faiss: Any, milvus: Any, milvus_store: Any) -> dict:
    """p50 ms of each search alone at the answerer's depth (dense, BM25; Milvus also both at
    once, as it answers) and of a Milvus round trip (`version()`: one read of the head row)."""
    from qa.retrieval import RetrievalOptions

    depth = RetrievalOptions().candidates
    questions = questions_for(config)[:SEARCH_SAMPLE]
    vectors = [faiss.embedder.encode_query(q) for q in questions]
    stores = {"faiss": faiss.snapshot(), "milvus": milvus.snapshot()}
    times: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[..., object], *args: object) -> None:
        started = time.perf_counter()
        call(*args)
        times.setdefault(name, []).append(time.perf_counter() - started)

    for question, vector in zip(questions, vectors, strict=True):
        for store, snapshot in stores.items():
            timed(f"{store}_dense", snapshot.dense_search, vector, depth)
            timed(f"{store}_bm25", snapshot.lexical_search, question, depth)
        timed("milvus_both", stores["milvus"].search_both, vector, question, depth)
        timed("milvus_round_trip", milvus_store.version)
    out: dict[str, Any] = {f"{name}_p50_ms": ms(values, 50) for name, values in times.items()}
    out["depth"] = depth
    out["questions"] = len(questions)
    return out


def _dedicated(store: Any) -> Any:
    """`store` with a gRPC connection of its own, closed by `store.close()`. pymilvus otherwise
    shares one connection per address for the whole process and keeps it after every client
    closed; left idle through the HTTP load, it keeps sending keepalive pings, which
    milvus-lite's server answers with GOAWAY "too_many_pings", and the next client to reuse it
    failed to reconnect ("Fail connecting to server"; seen twice after the load)."""
    from pymilvus import MilvusClient

    target = store.target
    store._client_obj = MilvusClient(uri=target.uri, token=target.token, timeout=30, dedicated=True)
    return store


def store_mark(uri: str, tries: int = 3) -> dict:
    """The collection's version (generation.epoch), document and chunk counts, and a digest of
    its document hashes, read with a fresh client (`tries` times on a connection error)."""
    from qa.stores.milvus_store import MilvusStore, MilvusUnavailable

    for attempt in range(tries):
        store = _dedicated(MilvusStore.from_uri(uri))
        try:
            state = store.state()
            snapshot = store.open()
            hashes = json.dumps(state.hashes if state else {}, sort_keys=True)
            return {
                "version": snapshot.version,
                "documents": snapshot.document_count,
                "chunks": snapshot.chunk_count,
                "hashes_sha256": hashlib.sha256(hashes.encode()).hexdigest()[:16],
            }
        except MilvusUnavailable:
            if attempt == tries - 1:
                raise
            time.sleep(2.0)
        finally:
            store.close()
    raise AssertionError("unreachable")


def reader_home(work: Path) -> Path:
    """A working directory with its own `seeds/` (one unrelated document), so a server started
    there that wrongly indexed `./seeds` would shrink the collection: the mark would show it."""
    home = work / "reader"
    (home / "seeds").mkdir(parents=True, exist_ok=True)
    (home / "seeds" / "not-the-corpus.txt").write_text(
        "Not the corpus\n\nA reader-only server must never index this folder.\n", encoding="utf-8"
    )
    return home


def subprocess_reader(uri: str, home: Path) -> Server:
    """`qa serve --store URI` as a fresh process in `home`: no `--docs`, no `QA_DOCS_DIR`, so
    it is reader-only."""
    env = {k: v for k, v in os.environ.items() if k not in ("QA_DOCS_DIR", "QA_STORE")}
    return serve_process(["--store", uri], cwd=home, env=env)


def bench_readers(config: BenchConfig, uri: str) -> dict:
    """Start `config.readers` reader-only servers, check their mode, warm them, then run
    `config.reader_clients` clients split across them for `config.seconds`.
    Out: the load figures (as `load_servers`) with each server's `/health` before and after."""
    import asyncio

    import httpx

    start = config.start_reader or subprocess_reader
    home = reader_home(config.work)
    questions = questions_for(config)
    servers: list[Server] = []
    try:
        for number in range(config.readers):
            config.log(f"milvus: starting reader-only server {number + 1}")
            servers.append(start(uri, home))
        urls = [server.url for server in servers]
        health_before = [httpx.get(url + "/health", timeout=10).json() for url in urls]
        asyncio.run(load_servers(urls, questions, len(urls), min(2.0, config.seconds)))  # warm
        clients = config.reader_clients
        config.log(f"milvus: {clients} clients over {len(urls)} servers for {config.seconds} s")
        load = asyncio.run(load_servers(urls, questions, clients, config.seconds))
        health_after = [httpx.get(url + "/health", timeout=10).json() for url in urls]
    finally:
        for server in servers:
            server.stop()
    load["clients"] = clients
    load["servers"] = len(urls)
    load["modes"] = [h.get("mode") for h in health_before]
    load["versions"] = [h.get("index_version") for h in health_after]
    load["documents"] = [h.get("documents") for h in health_after]
    return load


# ---- report --------------------------------------------------------------------------------


def milvus_targets(m: dict) -> list[tuple[str, float, float, str]]:
    """(name, value, limit, unit) of the issue-16 targets the part measured (all of them
    unless it failed part-way)."""
    out: list[tuple[str, float, float, str]] = []
    if "answer" in m:
        a = m["answer"]
        out.append(("milvus answer p50 vs 3 x faiss p50",
                    a["milvus"]["p50_ms"], 3 * a["faiss"]["p50_ms"], "ms"))  # fmt: skip
    if "unchanged" not in m:
        return out
    h = m["http"]
    out.append((f"milvus http {h['clients']} clients, {h['servers']} readers: errors",
                h["errors"], 0, ""))  # fmt: skip
    modes_ok = all(mode == "reader-only" for mode in h["modes"])
    out.append(("milvus readers: store changed or not reader-only",
                0 if m["unchanged"] and modes_ok else 1, 0, ""))  # fmt: skip
    return out


def milvus_lines(m: dict) -> list[str]:
    """The part's figures as plain text lines for `qa bench`'s table (those it measured)."""
    if "unchanged" not in m:
        return [f"milvus: partial figures (see the JSON): {sorted(m)}"]
    b, p, a, s, h = m["build"], m["preload"], m["answer"], m["search"], m["http"]
    mark = m["store_after"]
    return [
        f"milvus {m['store']}: {b['documents']} docs, {b['chunks']} chunks; FAISS build "
        f"{b['faiss_seconds']:.1f} s, then Milvus build {b['milvus_seconds']:.1f} s; "
        f"{b['encoded']} texts encoded in all (each once, for whichever build came first)",
        f"milvus cache: {p['chunks']} of {p['of']} chunks preloaded in {p['seconds']:.1f} s, "
        f"{p['cache_mb']:.1f} MiB estimated, RSS +{p['rss_growth_mb']:.1f} MiB",
        f"milvus answer in process: p50 {a['milvus']['p50_ms']:.1f} / p95 "
        f"{a['milvus']['p95_ms']:.1f} ms vs FAISS {a['faiss']['p50_ms']:.1f} / "
        f"{a['faiss']['p95_ms']:.1f} ms ({a['ratio']}x, {a['questions']} questions "
        f"alternated; same answer {a['same_answers']:.0%})",
        f"milvus searches p50 at depth {s['depth']}: dense {s['milvus_dense_p50_ms']:.1f}, "
        f"BM25 {s['milvus_bm25_p50_ms']:.1f}, both at once {s['milvus_both_p50_ms']:.1f}, "
        f"one round trip {s['milvus_round_trip_p50_ms']:.1f} ms; FAISS dense "
        f"{s['faiss_dense_p50_ms']:.2f}, BM25 {s['faiss_bm25_p50_ms']:.2f} ms",
        f"milvus http {h['clients']} clients over {h['servers']} reader-only servers: "
        f"{h['rps']:.1f} req/s (per server {h['per_server']}), p50 {h['p50_ms']:.1f} / p95 "
        f"{h['p95_ms']:.1f} / p99 {h['p99_ms']:.1f} ms, {h['errors']} errors",
        f"milvus store after the load: version {mark['version']}, {mark['documents']} documents "
        f"({'unchanged' if m['unchanged'] else 'CHANGED'}); modes {h['modes']}; load average "
        f"at the end {m.get('load_average_end')}",
    ]
