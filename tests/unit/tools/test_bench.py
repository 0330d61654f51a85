"""`qa bench` smoke run on a tiny corpus (fake embedder, in-thread server, tiny scaling sizes),
its helpers, and the fresh-process no-change refresh that must not import torch."""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embedding import DEFAULT_MODEL
from qa.indexer import refresh
from qa.pipeline import Assistant
from qa.stores.faiss_store import FaissStore
from qa.tools.bench import _parts, index_folder, run_bench, squad_corpus, table
from qa.tools.bench_base import BenchConfig, RunResult, Server, free_port, percentile
from tests.support import milvus_fixture
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder

# The Milvus server (started only for the tests that use it) and URI fixtures.
milvus_server = milvus_fixture.milvus_server
milvus_uri = milvus_fixture.milvus_uri

HTTP_KEYS = {"rps", "p50_ms", "p95_ms", "p99_ms", "errors"}
SCALING_KEYS = {"index", "p50_ms", "recall10"}


def in_process_runner(embedder):  # type: ignore[no-untyped-def]
    """`qa index` stand-in: the same refresh, in this process, with the fake embedder."""

    def run(docs: Path, index: Path) -> RunResult:
        started = time.perf_counter()
        report = refresh(docs, FaissStore(index), embedder).to_dict()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return RunResult(time.perf_counter() - started, peak, report)

    return run


def serve_in_thread(assistant: Assistant) -> Server:
    """The real app over `assistant`, uvicorn in a thread, once /health says ok."""
    import httpx
    import uvicorn

    from qa.web.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(assistant), port=port, log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)

    def stop() -> None:
        runner.should_exit = True
        thread.join(10)

    return Server(url, os.getpid(), stop)


def thread_server(embedder):  # type: ignore[no-untyped-def]
    """`qa serve` stand-in: the real app over a fake-embedder Assistant, uvicorn in a thread;
    `reader` is its `QA_READER` (None: the environment's)."""

    def start(docs: Path, index: Path, reader: str | None) -> Server:
        settings = Settings(docs_dir=docs, index_dir=index, reader=reader)
        return serve_in_thread(Assistant(settings, embedder=embedder))

    return start


def thread_reader(embedder):  # type: ignore[no-untyped-def]
    """`qa serve --store URI` run in `home` stand-in: Settings as the command builds them there
    (no --docs, so `./seeds` is the default folder, not a named one: reader-only)."""

    def start(uri: str, home: Path) -> Server:
        settings = Settings(docs_dir=home / "seeds", store=uri, docs_given=False)
        assert not settings.role().builder
        return serve_in_thread(Assistant(settings, embedder=embedder))

    return start


def test_smoke_run_gives_every_figure_of_the_issue(docs, tmp_path, monkeypatch):
    monkeypatch.delenv("QA_READER", raising=False)  # the packaged reader: on
    embedder = FakeEmbedder()
    config = BenchConfig(
        docs=docs,
        questions=["When did Luxon take office?", "What do Japan and New Zealand share?"],
        work=tmp_path / "work",
        sizes=(300, 1200),
        clients=(1, 4, 16),
        seconds=0.3,
        queries=6,
        embedder=embedder,
        run_index=in_process_runner(embedder),
        start_server=thread_server(embedder),
        # The safety parts (a 20 MB chunk, ten server rebuilds) have their own test below.
        parts=BenchConfig.parts - {"chunking", "rebuilds"},
    )
    import qa.stores.vector_index

    original = qa.stores.vector_index.EXACT_MAX
    qa.stores.vector_index.EXACT_MAX = 500  # so the tiny scaling run also exercises HNSW
    try:
        result = json.loads(json.dumps(run_bench(config)))
    finally:
        qa.stores.vector_index.EXACT_MAX = original

    assert result["errors"] == {}
    assert len(result["machine"]["load_average_end"]) == 3
    assert {"seconds", "encode_seconds", "ratio", "peak_rss_mb"} <= set(result["build"])
    build = result["build"]
    mean = (build["encode_seconds_before"] + build["encode_seconds_after"]) / 2
    assert build["encode_seconds"] == pytest.approx(mean, abs=1e-3)
    assert result["build"]["texts"] > result["build"]["chunks"] > 0  # sentences and chunks
    assert result["refresh_seconds"] > 0
    assert {"seconds", "share"} <= set(result["incremental"])
    assert result["incremental"]["embedded"] > 0
    assert {"p50_ms", "p95_ms", "encode_p50_ms"} <= set(result["answer"])
    assert set(result["http"]) == {"1", "4", "16"}
    for level in result["http"].values():
        assert set(level) >= HTTP_KEYS
        assert level["errors"] == 0 and level["rps"] > 0
    assert result["server_rss_mb"] > 0
    assert set(result["scaling"]) == {"300", "1200"}
    assert result["scaling"]["300"]["index"] == "flat"
    assert result["scaling"]["1200"]["index"].startswith("hnsw")
    for size in result["scaling"].values():
        assert set(size) >= SCALING_KEYS and 0.9 <= size["recall10"] <= 1.0
    assert_one_client_interleaved(result, questions=6)
    names = [t["name"] for t in result["targets"]]
    assert len(names) == 13  # all but the 1M ones: the scaling sizes stopped at 1200
    assert "answer p50 vs bare question encode + 3 ms" not in names  # replaced by issue 15's
    assert_reader_figures(result)
    assert all({"value", "limit", "ratio", "ok"} <= set(t) for t in result["targets"])
    text = table(result)
    assert "http 16 clients" in text and "target" in text
    # the changed document was put back
    assert (docs / "japan-new-zealand-information-sharing.txt").read_bytes() == (
        SEEDS / SEED_DOC
    ).read_bytes()


def assert_one_client_interleaved(result: dict, questions: int) -> None:
    """The one-client HTTP target compares the HTTP and in-process p50s of the interleaved
    pass (the same questions, alternating), not of two separate passes."""
    one = result["http_one_client"]
    assert one["errors"] == 0 and one["questions"] == questions
    for side in ("in_process", "http"):
        assert 0 < one[side]["p50_ms"] <= one[side]["p95_ms"]
    targets = {t["name"]: t for t in result["targets"]}
    check = targets["http 1 client: p50 vs in-process p50 + 3 ms"]
    assert check["value"] == one["http"]["p50_ms"]
    assert check["limit"] == pytest.approx(one["in_process"]["p50_ms"] + 3)
    assert targets["http 1 client, interleaved: errors"]["ok"]
    assert "http 1 client, interleaved with in-process" in table(result)


def assert_reader_figures(result: dict) -> None:
    """Reader on and off, in process and at 16 HTTP clients, and their four targets."""
    reader = result["answer"]["reader"]
    for setting in ("on", "off"):
        assert 0 < reader[setting]["p50_ms"] <= reader[setting]["p95_ms"]
        assert result["http_reader"][setting]["rps"] > 0
        assert result["http_reader"][setting]["rounds"] == 2
    assert reader["diff_p50_ms"] == pytest.approx(
        reader["on"]["p50_ms"] - reader["off"]["p50_ms"], abs=1e-3
    )
    assert 0 < reader["share_p50"] < 1 and 0 < reader["share_mean"] < 1
    assert reader["reader_p50_ms"] > 0 and reader["questions"] == 6
    assert result["http_reader"]["errors"] == 0 and result["http_reader"]["clients"] == 16
    targets = {t["name"]: t for t in result["targets"]}
    assert targets["answer p50: reader on - off"]["limit"] == 15
    assert targets["answer p95: reader on - off"]["limit"] == 30
    assert targets["http 16 clients, reader on and off: errors"]["ok"]
    share = targets["http 16 clients: 0.40 x reader-off rps / reader-on rps"]
    assert share["value"] == pytest.approx(0.4 * result["http_reader"]["off"]["rps"], abs=1e-3)
    text = table(result)
    assert "reader on / off" in text and "reader's share of the answer time" in text


def test_reader_off_leaves_out_the_reader_figures(docs, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_READER", "off")
    embedder = FakeEmbedder()
    config = BenchConfig(
        docs=docs,
        questions=["When did Luxon take office?"],
        work=tmp_path / "work",
        clients=(1,),
        seconds=0.2,
        queries=3,
        parts=frozenset({"answer", "http"}),
        embedder=embedder,
        start_server=thread_server(embedder),
    )
    result = run_bench(config)
    assert result["errors"] == {}
    assert result["answer"]["reader"] is None and "http_reader" not in result
    assert result["answer"]["p50_ms"] > 0 and result["http"]["1"]["errors"] == 0
    assert not [t for t in result["targets"] if "reader" in t["name"]]
    assert_one_client_interleaved(result, questions=3)


def test_milvus_part_compares_with_faiss_over_two_reader_only_servers(docs, tmp_path, milvus_uri):
    shutil.copy(docs / SEED_DOC, docs / "second.txt")  # two documents
    embedder = FakeEmbedder()
    uri = milvus_uri()
    config = BenchConfig(
        docs=docs,
        questions=["When did Luxon take office?", "What do Japan and New Zealand share?"],
        work=tmp_path / "work",
        seconds=0.5,
        queries=6,
        parts=frozenset({"milvus"}),
        embedder=embedder,
        store=uri,
        start_reader=thread_reader(embedder),
    )
    result = json.loads(json.dumps(run_bench(config)))

    assert result["errors"] == {}
    m = result["milvus"]
    assert (m["build"]["documents"], m["build"]["chunks"]) == (2, m["store_after"]["chunks"])
    assert m["build"]["encoded"] > 0  # once: the Milvus build reused FAISS's vectors
    assert m["preload"]["chunks"] == m["preload"]["of"] == m["build"]["chunks"]
    assert m["preload"]["seconds"] > 0 and m["preload"]["cache_mb"] >= 0
    for store in ("faiss", "milvus"):
        assert m["answer"][store]["p50_ms"] > 0
    assert m["answer"]["questions"] == 6 and m["answer"]["same_answers"] == 1.0
    assert m["search"]["milvus_both_p50_ms"] > 0 and m["search"]["milvus_round_trip_p50_ms"] > 0
    http = m["http"]
    assert (http["servers"], http["clients"], http["errors"]) == (2, 16, 0)
    assert all(count > 0 for count in http["per_server"]) and http["rps"] > 0
    assert http["modes"] == ["reader-only", "reader-only"]
    # the readers ran in a folder with its own seeds/ and left the collection as it was
    assert (tmp_path / "work" / "reader" / "seeds" / "not-the-corpus.txt").is_file()
    assert m["unchanged"] and m["store_after"]["documents"] == 2
    assert http["documents"] == [2, 2] and http["versions"] == [m["store_after"]["version"]] * 2
    targets = {t["name"]: t for t in result["targets"]}
    assert {"milvus answer p50 vs 3 x faiss p50", "milvus http 16 clients, 2 readers: errors",
            "milvus readers: store changed or not reader-only"} == set(targets)  # fmt: skip
    assert targets["milvus http 16 clients, 2 readers: errors"]["ok"]
    assert targets["milvus readers: store changed or not reader-only"]["ok"]
    assert "2 reader-only servers" in table(result)


def test_store_option_selects_the_milvus_part():
    import click

    assert _parts(None, None) == BenchConfig.parts
    assert _parts(None, "milvus://127.0.0.1:19530/squad") == {"milvus"}
    assert _parts("answer,milvus", "milvus://h:1/c") == {"answer", "milvus"}
    with pytest.raises(click.UsageError, match="needs --store"):
        _parts("milvus", None)
    with pytest.raises(click.UsageError, match="must be milvus://"):
        _parts(None, "faiss")


def test_squad_articles_become_text_files_and_questions_alternate(tmp_path):
    data = {
        "data": [
            {"title": "First one", "paragraphs": [
                {"context": "Alpha is first.", "qas": [{"question": "A1?"}, {"question": "A2?"}]},
                {"context": "Beta follows.", "qas": [{"question": "A3?"}]},
            ]},
            {"title": "Second/two", "paragraphs": [
                {"context": "Gamma.", "qas": [{"question": "B1?"}]},
            ]},
        ]
    }  # fmt: skip
    path = tmp_path / "squad.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f)
    folder, questions = squad_corpus(path, tmp_path / "out")
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["00-First_one.txt", "01-Second_two.txt"]
    assert (folder / files[0]).read_text() == "Alpha is first.\n\nBeta follows.\n"
    assert questions == ["A1?", "B1?", "A2?", "A3?"]


def test_percentile_interpolates():
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 99) == 5.0


def test_no_change_refresh_in_a_fresh_process_does_not_import_torch(docs, tmp_path):
    class SameNameEmbedder(FakeEmbedder):
        name = DEFAULT_MODEL  # the index looks built by the default model: nothing to redo

    index = tmp_path / "index"
    refresh(docs, FaissStore(index), SameNameEmbedder())
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qa.cli", "index", "--docs", str(docs),
         "--index", str(index), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(completed.stdout)["embedded"] == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()}
    heavy = {"torch", "transformers", "sentence_transformers"} & imported
    assert not heavy, f"a no-change refresh imported {heavy}"
    assert "qa.indexer" in imported  # the check above did see the product's imports


def test_the_safety_parts_report_and_judge_their_figures() -> None:
    from qa.tools.bench_safety import safety_lines, safety_targets

    result = {
        "chunking": {
            "1mb": {"mb": 1.0, "seconds": 1.6, "seconds_per_mb": 1.6, "chunks": 10},
            "20mb": {"mb": 20.0, "seconds": 20.3, "seconds_per_mb": 1.015, "chunks": 200},
            "per_mb_ratio": 0.63,
        },
        "rebuilds": {
            "rss_mb": {"1": 367.0, "10": 368.0},
            "seconds": 40.0,
            "torch_in_server": False,
        },
    }
    rows = {name: (value, limit) for name, value, limit, _ in safety_targets(result)}
    assert rows == {
        "chunking: s/MB at 20 MB over s/MB at 1 MB": (0.63, 2.0),
        "chunking: 20 MB one-line text": (20.3, 60.0),
        "server RSS after 10 rebuilds": (368.0, 600.0),
        "torch in the server after rebuilds": (0.0, 0.0),
    }
    lines = safety_lines(result)
    assert lines[0].startswith("chunking one-line text: 1.0 MB in 1.6 s, 20.0 MB in 20.3 s")
    assert "368 MB after rebuild 10" in lines[1] and "torch in the server: False" in lines[1]


def test_each_docs_folder_has_its_own_benchmark_index(tmp_path: Path):
    """A run on the seeds after one on SQuAD must not refresh SQuAD's index from the seeds
    (the refresh would refuse to remove every document, and the part would fail)."""
    work = tmp_path / "bench"
    seeds, squad = index_folder(work, Path("seeds")), index_folder(work, tmp_path / "squad")
    assert seeds != squad and seeds.parent == squad.parent == work
    assert index_folder(work, Path("seeds")) == seeds
    assert index_folder(work, tmp_path / "other" / "seeds") != seeds
