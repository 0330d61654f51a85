"""The FAISS store on disk: atomic generations, corruption detection, crashes and locking."""

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa import build_helper, indexer, short_answer
from qa.embedding import SentenceTransformerEmbedder, token_counter
from qa.indexer import refresh
from qa.stores import faiss_store
from qa.stores.base import IndexCorrupt, IndexMissing
from qa.stores.faiss_store import FaissStore
from tests.support.fakes import ROOT, FakeEmbedder


def make_docs(folder: Path, count: int, tag: str = "v1") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sentences = " ".join(
            f"Document {i} {tag} sentence {j} mentions topic{i % 7}." for j in range(30)
        )
        (folder / f"doc{i:03d}.txt").write_text(sentences)


def test_empty_store_reports_missing(tmp_path):
    store = FaissStore(tmp_path / "index")
    assert store.state() is None and store.version() is None
    with pytest.raises(IndexMissing, match="qa index"):
        store.open()


def test_each_build_is_a_new_generation_and_old_ones_are_pruned(tmp_path):
    docs, store = tmp_path / "docs", FaissStore(tmp_path / "index")
    make_docs(docs, 3)
    versions = []
    for tag in ("v1", "v2", "v3", "v4"):
        make_docs(docs, 3, tag)
        refresh(docs, store, FakeEmbedder())
        versions.append(store.version())
    assert len(set(versions)) == 4
    generations = sorted(p.name for p in (tmp_path / "index").glob("gen-*"))
    assert generations == versions[-2:]  # the live one and the one before it


DAMAGES = ["truncate", "garbage", "same-size", "manifest", "missing", "entities", "current"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_index_is_reported_and_rebuilt_by_the_next_build(tmp_path, damage):
    docs, store = tmp_path / "docs", FaissStore(tmp_path / "index")
    make_docs(docs, 2)
    refresh(docs, store, FakeEmbedder())
    live = tmp_path / "index" / store.version()
    if damage == "truncate":
        vectors = live / "chunk_vectors.npy"
        vectors.write_bytes(vectors.read_bytes()[:100])
    elif damage == "garbage":
        (live / "sentences.npy").write_bytes(os.urandom(2000))
    elif damage == "same-size":
        vectors = live / "chunk_vectors.npy"
        data = bytearray(vectors.read_bytes())
        data[-64:] = os.urandom(64)
        vectors.write_bytes(bytes(data))
    elif damage == "manifest":
        (live / "manifest.json").write_text("{not json")
    elif damage == "missing":
        (live / "texts.jsonl").unlink()
    elif damage == "entities":
        stored = live / "entities.jsonl"
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 1  # same size, one bit
        stored.write_bytes(bytes(data))
    else:
        (tmp_path / "index" / "CURRENT").write_text("gen-999999\n")
    with pytest.raises(IndexCorrupt, match="qa index|missing|unreadable"):
        store.open()
    report = refresh(docs, store, FakeEmbedder())
    assert report.rebuilt and report.reason.startswith("rebuilt")
    assert report.documents == 2 and report.embedded == report.chunks
    assert store.open().document_count == 2


def _spawn_build(docs: Path, index: Path, log: Path | None = None) -> subprocess.Popen:
    """`tests.support.build_worker` started; stderr to `log` when given (read while it runs)."""
    command = [sys.executable, "-m", "tests.support.build_worker", str(docs), str(index)]
    if log is None:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with log.open("wb") as stderr:  # the child keeps its own copy
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_at_any_moment_of_a_build_leaves_the_previous_index_usable(tmp_path, signum):
    docs, index = tmp_path / "docs", tmp_path / "index"
    make_docs(docs, 60, "v1")
    store = FaissStore(index)
    refresh(docs, store, FakeEmbedder())
    good_version = store.version()
    make_docs(docs, 80, "v2")  # every document changes and twenty are new
    started = time.monotonic()
    assert _spawn_build(docs, index).wait(timeout=120) == 0
    full = time.monotonic() - started
    # Roll the index back to v1 for the kill runs: rebuild it from the v1 texts.
    v1_docs = tmp_path / "docs_v1"
    make_docs(v1_docs, 60, "v1")
    refresh(v1_docs, store, FakeEmbedder())
    good_version = store.version()
    kills = 0
    # Kill at 12 moments spread over the measured build time; on a busy machine a build can
    # finish sooner than that measure said, so keep going (at most 12 more) until 6 landed.
    for step in range(24):
        if step >= 12 and kills >= 6:
            break
        process = _spawn_build(docs, index)
        time.sleep(full * (step % 12) / 11)
        if process.poll() is None:
            process.send_signal(signum)
            kills += 1
        process.wait(timeout=60)
        if signum == signal.SIGTERM:
            assert not list(index.glob("gen-*.tmp-*")), "SIGTERM must clean up after itself"
        version = store.version()
        snapshot = store.open()  # whatever is live must load completely
        assert version in (good_version, snapshot.version)
        if version == good_version:
            assert snapshot.document_count == 60
            assert "v1" in snapshot.document("doc000.txt").text
        else:
            assert snapshot.document_count == 80
            assert "v2" in snapshot.document("doc000.txt").text
            refresh(v1_docs, store, FakeEmbedder())  # back to v1 for the next run
            good_version = store.version()
        assert snapshot.lexical_search("topic3", 3)
    assert kills >= 6, "the kills should land while builds were running"
    report = refresh(docs, store, FakeEmbedder())
    assert report.documents == 80
    assert not list(index.glob("gen-*.tmp-*")), "half-written generations must be cleaned up"
    assert store.open().document_count == 80


def test_two_builders_at_once_never_corrupt_the_index(tmp_path):
    docs, index = tmp_path / "docs", tmp_path / "index"
    make_docs(docs, 40, "v1")
    logs = [tmp_path / f"builder{i}.log" for i in range(3)]
    # Hold the lock while they start, so all three contend for it rather than one finishing
    # before the others have imported (which made this test depend on timing).
    with FaissStore(index).lock():
        processes = [_spawn_build(docs, index, log) for log in logs]
        deadline = time.monotonic() + 120
        while not all(b"waiting for another build" in log.read_bytes() for log in logs):
            assert time.monotonic() < deadline, [log.read_bytes() for log in logs]
            assert all(p.poll() is None for p in processes), [log.read_bytes() for log in logs]
            time.sleep(0.05)
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [log.read_bytes() for log in logs]
    assert all(json.loads(out)["documents"] == 40 for out, _ in outputs)
    snapshot = FaissStore(index).open()
    assert snapshot.document_count == 40


def test_the_lock_serializes_builders_in_one_process(tmp_path):
    store = FaissStore(tmp_path / "index")
    events: list[str] = []

    def hold(name: str) -> None:
        with store.lock():
            events.append(f"{name}-in")
            time.sleep(0.2)
            events.append(f"{name}-out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert events in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])


BRIDGE = (
    "The bridge was opened in 1932 by John Walker. John Walker was the mayor of Springfield. "
    "It carried 4,000 cars a day by 1950."
)


@pytest.fixture
def bridge(tmp_path):  # type: ignore[no-untyped-def]
    """A docs folder holding BRIDGE as bridge.txt, and an empty store."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bridge.txt").write_text(BRIDGE)
    return docs, FaissStore(tmp_path / "index")


@pytest.fixture
def small_builds_tag(monkeypatch):  # type: ignore[no-untyped-def]
    """Builds of these few bytes tag entities too (a real build only starts a tagger for
    `TAG_APART_MIN_BYTES` or more), in a helper: this process has no tagger loaded."""
    monkeypatch.setattr(indexer, "TAG_APART_MIN_BYTES", 0)
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: False)


def test_a_small_build_without_a_loaded_tagger_stores_no_entities(bridge, monkeypatch):
    docs, store = bridge
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: False)
    monkeypatch.setattr(indexer, "BuildHelper", _must_not_run)
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    assert all(s.entities is None for s in _sentences(store.open(), "bridge.txt"))


def _sentences(snapshot, doc_id: str):  # type: ignore[no-untyped-def]
    """Every stored sentence of `doc_id`, in order, each once."""
    seen = {}
    for number in range(snapshot.document(doc_id).chunks):
        for s in snapshot.chunk(f"{doc_id}#{number}").sentences:
            seen[s.start] = s
    return [seen[start] for start in sorted(seen)]


def test_a_build_stores_the_entities_of_sentences_that_name_a_year(
    tmp_path, bridge, small_builds_tag
):
    docs, store = bridge
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    live = tmp_path / "index" / store.version()
    assert "entities.jsonl" in json.loads((live / "manifest.json").read_text())["sizes"]
    sentences = _sentences(store.open(), "bridge.txt")
    assert [s.entities is not None for s in sentences] == [True, False, True]
    for s in sentences:
        if s.entities is not None:  # what the tagger finds in the sentence now, offsets and all
            assert s.entities == short_answer._entities(s.text) and s.entities
            assert all(s.text[e.start : e.end] == e.text for e in s.entities)


def test_entities_of_unchanged_documents_are_carried_over_untagged(
    bridge, monkeypatch, small_builds_tag
):
    docs, store = bridge
    (docs / "other.txt").write_text("In 1990 the tower was built.")
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    before = _sentences(store.open(), "bridge.txt")
    tagged: list[str] = []
    real = short_answer.extract_entities

    def recording(texts, batch_size=64):  # type: ignore[no-untyped-def]
        tagged.extend(texts)
        return real(texts, batch_size)

    monkeypatch.setattr(indexer, "extract_entities", recording)
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: True)  # tagged here, recorded
    (docs / "other.txt").write_text("In 1991 the tower was rebuilt.")
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    assert tagged == ["In 1991 the tower was rebuilt."]
    after = _sentences(store.open(), "bridge.txt")
    assert [s.entities for s in after] == [s.entities for s in before]
    assert _sentences(store.open(), "other.txt")[0].entities is not None


def test_entities_from_another_tagger_are_not_used(bridge, monkeypatch):
    docs, store = bridge
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    monkeypatch.setattr(faiss_store, "ner_model_id", lambda: "another-tagger==1.0")
    assert all(s.entities is None for s in _sentences(store.open(), "bridge.txt"))
    # Nor carried into the next generation, where they would never be used.
    (docs / "more.txt").write_text("Another document.")
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    monkeypatch.undo()
    assert all(s.entities is None for s in _sentences(store.open(), "bridge.txt"))


def test_a_generation_written_before_entities_were_stored_still_loads(tmp_path, bridge):
    docs, store = bridge
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    live = tmp_path / "index" / store.version()
    manifest = json.loads((live / "manifest.json").read_text())
    for table in ("sizes", "crc32"):
        del manifest[table]["entities.jsonl"]
    (live / "manifest.json").write_text(json.dumps(manifest))
    (live / "entities.jsonl").unlink()
    sentences = _sentences(store.open(), "bridge.txt")
    assert len(sentences) == 3 and all(s.entities is None for s in sentences)
    # The next build that writes anything writes the file again, for every document.
    (docs / "more.txt").write_text("Another 12 words.")
    refresh(docs, store, FakeEmbedder(), tag_entities=True)
    assert (tmp_path / "index" / store.version() / "entities.jsonl").is_file()


def test_refresh_tags_nothing_unless_asked(bridge, monkeypatch):
    docs, store = bridge

    def must_not_run(texts, batch_size=64):  # type: ignore[no-untyped-def]
        raise AssertionError("tagged although tag_entities is off")

    monkeypatch.setattr(indexer, "extract_entities", must_not_run)
    monkeypatch.setattr(indexer, "BuildHelper", must_not_run)
    refresh(docs, store, FakeEmbedder())
    assert all(s.entities is None for s in _sentences(store.open(), "bridge.txt"))


class TokenizerEmbedder(FakeEmbedder):
    """The fake vectors, with the real model's word-piece counts and `tokenizer.json`: what a
    build needs to chunk in its helper process."""

    tokenizer_file = SentenceTransformerEmbedder().tokenizer_file
    loaded = False  # as in a fresh `qa index`: chunk and tag in the helper

    def count_tokens(self, text: str) -> int:
        return _real_counter()(text)


@functools.lru_cache(maxsize=1)
def _real_counter():  # type: ignore[no-untyped-def]
    return token_counter(TokenizerEmbedder.tokenizer_file)


def _must_not_run(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("ran in the building process")


def _generation(index: Path) -> dict[str, bytes]:
    live = index / (index / "CURRENT").read_text().strip()
    names = ("texts.jsonl", "sentences.npy", "chunks.npy", "entities.jsonl")
    return {name: (live / name).read_bytes() for name in names}


def test_a_fresh_build_chunks_and_tags_in_a_helper_with_the_same_result(
    tmp_path, monkeypatch, small_builds_tag
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bridge.txt").write_text(BRIDGE)
    (docs / "more.txt").write_text("Dr. Smith left in 1999. He was 42. " * 40)
    here = TokenizerEmbedder()
    here.loaded = True  # as in a process that has its model and tagger: no helper
    monkeypatch.setattr(indexer, "BuildHelper", _must_not_run)
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: True)
    refresh(docs, FaissStore(tmp_path / "here"), here, tag_entities=True)
    monkeypatch.setattr(indexer, "BuildHelper", build_helper.BuildHelper)
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: False)
    monkeypatch.setattr(indexer, "chunk_document", _must_not_run)
    monkeypatch.setattr(indexer, "extract_entities", _must_not_run)
    refresh(docs, FaissStore(tmp_path / "helper"), TokenizerEmbedder(), tag_entities=True)
    assert _generation(tmp_path / "helper") == _generation(tmp_path / "here")
    sentences = _sentences(FaissStore(tmp_path / "helper").open(), "bridge.txt")
    assert [s.entities is not None for s in sentences] == [True, False, True]


def test_a_helper_that_fails_at_once_leaves_a_complete_index_without_entities(
    bridge, monkeypatch, caplog, small_builds_tag
):
    docs, store = bridge
    crash = (sys.executable, "-c", "import sys; sys.exit('helper crashed')")
    monkeypatch.setattr(build_helper.BuildHelper, "command", crash)
    report = refresh(docs, store, TokenizerEmbedder(), tag_entities=True)
    assert report.documents == 1 and "helper crashed" in caplog.text
    sentences = _sentences(store.open(), "bridge.txt")  # questions tag their quotes instead
    assert len(sentences) == 3 and all(s.entities is None for s in sentences)


def _broken_tagger(texts, batch_size=64):  # type: ignore[no-untyped-def]
    raise RuntimeError("tagger crashed")


# The real helper, whose tagger crashes after it has sent the chunks.
_HELPER_WITH_A_BROKEN_TAGGER = """
import sys
from qa import build_helper
def broken(texts, batch_size=64):
    raise RuntimeError("tagger crashed")
build_helper.extract_entities = broken
build_helper._serve(sys.stdin.buffer, sys.stdout.buffer)
"""


def _tagger_breaks_here(monkeypatch) -> FakeEmbedder:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(indexer, "extract_entities", _broken_tagger)
    monkeypatch.setattr(indexer, "tagger_loaded", lambda: True)  # so it tags here
    return FakeEmbedder()


def _tagger_breaks_in_the_helper(monkeypatch) -> FakeEmbedder:  # type: ignore[no-untyped-def]
    command = (sys.executable, "-c", _HELPER_WITH_A_BROKEN_TAGGER)
    monkeypatch.setattr(build_helper.BuildHelper, "command", command)
    return TokenizerEmbedder()


@pytest.mark.parametrize("breaks", [_tagger_breaks_here, _tagger_breaks_in_the_helper])
def test_a_tagger_failure_leaves_a_complete_index_without_entities(
    bridge, monkeypatch, caplog, breaks, small_builds_tag
):  # type: ignore[no-untyped-def]
    docs, store = bridge
    report = refresh(docs, store, breaks(monkeypatch), tag_entities=True)
    assert report.documents == 1 and "tagger crashed" in caplog.text
    sentences = _sentences(store.open(), "bridge.txt")
    assert len(sentences) == 3 and all(s.entities is None for s in sentences)


def test_a_build_that_fails_stops_its_helper_at_once(bridge, monkeypatch, small_builds_tag):
    docs, store = bridge
    helpers: list[build_helper.BuildHelper] = []

    class Recorded(build_helper.BuildHelper):
        command = (sys.executable, "-c", "import time; time.sleep(600)")  # would never end

        def __init__(self) -> None:
            super().__init__()
            helpers.append(self)

    class Failing(TokenizerEmbedder):
        def load(self) -> None:
            raise RuntimeError("model failed to load")

    monkeypatch.setattr(indexer, "BuildHelper", Recorded)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="model failed to load"):
        refresh(docs, store, Failing(), tag_entities=True)
    assert time.monotonic() - started < 30
    assert len(helpers) == 1 and helpers[0]._process.poll() is not None
    assert store.state() is None  # and nothing was written


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", True), ("0", False), ("off", False), ("1", True), ("true", True)],
)
def test_qa_entities_at_build_is_read_from_the_environment(monkeypatch, raw, expected):
    from qa.config import Settings

    monkeypatch.setenv("QA_ENTITIES_AT_BUILD", raw)
    assert Settings.from_env().entities_at_build is expected


def test_a_bad_qa_entities_at_build_names_the_variable(monkeypatch):
    from qa.config import Settings

    monkeypatch.setenv("QA_ENTITIES_AT_BUILD", "sometimes")
    with pytest.raises(ValueError, match="QA_ENTITIES_AT_BUILD"):
        Settings.from_env()


def test_an_index_written_before_pages_were_stored_loads_without_them(tmp_path):
    from qa.layout import NO_LAYOUT
    from tests.support.helpers import write_paged_pdf

    docs, store = tmp_path / "docs", FaissStore(tmp_path / "index")
    docs.mkdir()
    write_paged_pdf(docs / "a.pdf", [["Alpha page one."], ["Beta page two."]])
    (docs / "b.md").write_text("# Head\n\nBody text here.\n")
    refresh(docs, store, FakeEmbedder())
    live = tmp_path / "index" / store.version()
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["documents"][0]["pages"] == [0, 17]
    for entry in manifest["documents"]:  # as the manifest of an older version was
        entry.pop("pages", None)
        entry.pop("sections", None)
    (live / "manifest.json").write_text(json.dumps(manifest))
    snapshot = store.open()
    assert snapshot.layout("a.pdf") == NO_LAYOUT == snapshot.layout("b.md")
    assert snapshot.document("a.pdf").text.startswith("Alpha page one.")
    # A refresh keeps the unchanged documents as they are stored: still without pages.
    (docs / "c.txt").write_text("More words.")
    assert refresh(docs, store, FakeEmbedder()).unchanged == 2
    assert store.open().layout("a.pdf") == NO_LAYOUT
