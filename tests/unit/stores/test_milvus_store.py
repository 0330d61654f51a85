"""What only the Milvus backend promises: stateless answering servers, identical answers from
any number of them (and from FAISS), a changed document switched all at once, a lock shared
across machines, and a URI that names the server. Runs against a real `milvus-lite server`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import qa
from qa.config import Settings
from qa.pipeline import Assistant, open_store
from qa.stores.base import IndexProblem
from qa.stores.faiss_store import FaissStore
from qa.stores.milvus_store import (
    MilvusSnapshot,
    MilvusStore,
    MilvusTarget,
    MilvusUnavailable,
    chunk_bytes,
)
from tests.support import milvus_fixture
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder
from tests.unit.stores.test_base import ISLANDS, KIWI, KIWI_V2, apply, update

# The Milvus server and URI fixtures, registered for this module.
milvus_server = milvus_fixture.milvus_server
milvus_uri = milvus_fixture.milvus_uri

QUESTIONS = [
    "When did Luxon take office?",
    "Who is the prime minister of Japan?",
    "What do Japan and New Zealand agree to share?",
    "Which islands does China claim?",
    "Where did Kishida and Luxon meet?",
    "What is the boiling point of mercury?",
]


def _answers(assistant: Assistant) -> list[dict]:
    out = []
    for question in QUESTIONS:
        result = assistant.ask(question).to_dict()
        result.pop("took_ms")
        out.append(result)
    return out


def _stateless(uri: str, tmp_path: Path, embedder, preload: bool = False) -> Assistant:  # type: ignore[no-untyped-def]
    """An assistant with no docs folder and no index folder: everything comes from Milvus;
    with `preload`, each snapshot it loads fills its cache in the background (as servers do)."""
    settings = Settings(docs_dir=tmp_path / "no-docs", index_dir=tmp_path / "no-index", store=uri)
    return Assistant(settings, embedder, reload_interval=0.0, preload=preload)


def _preloaded(assistant: Assistant) -> MilvusSnapshot:
    """The assistant's snapshot once its background preload has cached every chunk."""
    snapshot = assistant.snapshot()
    deadline = time.monotonic() + 30
    while not snapshot._complete and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert snapshot._complete, "the preload did not finish"  # type: ignore[attr-defined]
    return snapshot  # type: ignore[return-value]


@pytest.fixture
def seed_docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEEDS / SEED_DOC, folder / SEED_DOC)
    (folder / "kiwi.txt").write_text(KIWI)
    return folder


def test_stateless_assistants_answer_like_the_builder(milvus_uri, seed_docs, tmp_path) -> None:
    uri = milvus_uri()
    embedder = FakeEmbedder()
    builder = Assistant(Settings(docs_dir=seed_docs, store=uri), embedder, reload_interval=0.0)
    builder.refresh()
    first, second = _stateless(uri, tmp_path, embedder), _stateless(uri, tmp_path, embedder)
    expected = _answers(builder)
    assert any(a["citations"] for a in expected)
    assert _answers(first) == expected
    assert _answers(second) == expected
    assert first.document(SEED_DOC) == builder.document(SEED_DOC)
    assert first.document(SEED_DOC).text == (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    assert not (tmp_path / "no-index").exists() and not (tmp_path / "no-docs").exists()


def test_stateless_http_server_answers_and_serves_documents(milvus_uri, seed_docs, tmp_path):
    from fastapi.testclient import TestClient

    from qa.web.app import create_app

    uri = milvus_uri()
    embedder = FakeEmbedder()
    builder = Assistant(Settings(docs_dir=seed_docs, store=uri), embedder, reload_interval=0.0)
    builder.refresh()
    app = create_app(_stateless(uri, tmp_path, embedder), admin_token="")
    with TestClient(app) as client:
        deadline = time.monotonic() + 20
        while client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        answer = client.post("/ask", json={"question": QUESTIONS[0]})
        assert answer.status_code == 200
        expected = builder.ask(QUESTIONS[0]).to_dict()
        got = answer.json()
        assert (got["answer"], got["citations"]) == (expected["answer"], expected["citations"])
        document = client.get(f"/documents/{SEED_DOC}")
        assert document.status_code == 200
        assert document.json()["text"] == builder.document(SEED_DOC).text
        assert client.get("/documents/kiwi.txt").json()["chunks"] >= 1


@pytest.mark.model
def test_seed_answers_identical_on_faiss_and_on_two_milvus_servers(
    milvus_uri, docs, tmp_path, real_embedder
) -> None:
    uri = milvus_uri()
    faiss = Assistant(Settings(docs_dir=docs, index_dir=tmp_path / "index"), real_embedder,
                      FaissStore(tmp_path / "index"), reload_interval=0.0)  # fmt: skip
    faiss.refresh()
    builder = Assistant(Settings(docs_dir=docs, store=uri), real_embedder, reload_interval=0.0)
    builder.refresh()
    expected = _answers(faiss)
    assert sum(bool(a["citations"]) for a in expected) >= 3
    assert _answers(builder) == expected
    assert _answers(_stateless(uri, tmp_path, real_embedder)) == expected
    preloaded = _stateless(uri, tmp_path, real_embedder, preload=True)
    _preloaded(preloaded)
    assert _answers(preloaded) == expected


def test_lexical_ranking_matches_faiss(milvus_uri, tmp_path) -> None:
    """Same terms, same k1 and b, same IDF: Milvus's BM25 is bm25s's Lucene BM25 times
    (k1 + 1) (bm25s leaves that constant factor out), for every chunk; dense scores agree."""
    seed = (SEEDS / SEED_DOC).read_text(encoding="utf-8")
    updates = [update(SEED_DOC, seed), update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)]
    faiss, milvus = FaissStore(tmp_path / "index"), MilvusStore.from_uri(milvus_uri())
    for store in (faiss, milvus):
        apply(store, updates)
    f, m = faiss.open(), milvus.open()
    for question in [*QUESTIONS, "kiwi birds of New Zealand", "China islands Japan"]:
        by_faiss = {h.chunk_id: h.score for h in f.lexical_search(question, 100)}
        by_milvus = {h.chunk_id: h.score for h in m.lexical_search(question, 100)}
        assert by_milvus.keys() == by_faiss.keys(), question
        for chunk_id, score in by_faiss.items():
            assert by_milvus[chunk_id] == pytest.approx(2.2 * score, rel=1e-4), question
        vector = FakeEmbedder().encode([question])[0]
        dense_f, dense_m = f.dense_search(vector, 10), m.dense_search(vector, 10)
        assert [h.score for h in dense_m] == pytest.approx([h.score for h in dense_f], abs=1e-5)


def _versions_seen(uri: str) -> set[str]:
    """Which kiwi texts a fresh reader sees: 'old', 'new' or both, through every read path."""
    snap = MilvusStore.from_uri(uri).open()
    seen = set()
    hits = snap.lexical_search("kiwi aardvark zeppelin stoats burrows flightless", 50)
    hits += snap.dense_search(FakeEmbedder().encode(["kiwi birds"])[0], 50)
    for hit in hits:
        text = snap.chunk(hit.chunk_id).text
        seen |= {"old" for w in ("aardvark", "burrows", "egg") if w in text}
        seen |= {"new" for w in ("zeppelin", "stoats", "Conservation") if w in text}
    document = snap.document("kiwi.txt").text
    seen.add("old" if document == KIWI else "new")
    return seen


def test_a_changed_document_is_never_mixed(milvus_uri, monkeypatch) -> None:
    uri = milvus_uri()
    store = MilvusStore.from_uri(uri)
    apply(store, [update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)])
    assert _versions_seen(uri) == {"old"}
    before = store.open()
    moments: dict[str, set[str]] = {}
    check_lock, retire = MilvusStore._check_lock, MilvusStore._retire

    def at_switch(self: MilvusStore) -> None:  # new rows written, head not yet moved
        moments["written"] = _versions_seen(uri)
        check_lock(self)

    def at_retire(self: MilvusStore, head) -> None:  # type: ignore[no-untyped-def]
        moments["switched"] = _versions_seen(uri)  # head moved, old rows not yet deleted
        moments["previous snapshot"] = {
            "old" if before.document("kiwi.txt").text == KIWI else "new"
        }
        retire(self, head)

    monkeypatch.setattr(MilvusStore, "_check_lock", at_switch)
    monkeypatch.setattr(MilvusStore, "_retire", at_retire)
    apply(store, [update("kiwi.txt", KIWI_V2)])
    assert moments == {"written": {"old"}, "switched": {"new"}, "previous snapshot": {"old"}}
    assert _versions_seen(uri) == {"new"}


def test_crash_after_the_switch_is_finished_by_the_next_build(milvus_uri, monkeypatch) -> None:
    uri = milvus_uri()
    store = MilvusStore.from_uri(uri)
    apply(store, [update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)])

    def crash(self: MilvusStore, head) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(MilvusStore, "_retire", crash)
        with pytest.raises(RuntimeError):
            apply(store, [update("kiwi.txt", KIWI_V2)], deletes=["islands.txt"])
    assert _versions_seen(uri) == {"new"}  # committed; the old rows are filtered out
    assert MilvusStore.from_uri(uri).open().doc_ids() == ["kiwi.txt"]
    chunks = f"{store.target.name}_g1_chunks"
    stale = store.client.query(chunks, filter="born >= 0", output_fields=["count(*)"])
    assert stale[0]["count(*)"] > store.open().chunk_count  # old rows still stored
    apply(store, [update("islands.txt", ISLANDS)])  # the next build deletes them
    rows = store.client.query(chunks, filter="born >= 0", output_fields=["count(*)"])
    assert rows[0]["count(*)"] == store.open().chunk_count


def test_lock_is_renewed_while_held_and_taken_over_when_expired(milvus_uri) -> None:
    uri = milvus_uri()
    target = MilvusTarget.parse(uri)
    holder = MilvusStore(target, lock_ttl=0.6, lock_settle=0.02)
    other = MilvusStore(target, lock_timeout=1.5, lock_ttl=0.6, lock_settle=0.02)
    with holder.lock(), pytest.raises(IndexProblem, match="another build"), other.lock():
        pass  # 1.5 s is 2.5 ttl: only renewal keeps the holder's lease alive that long
    holder._write("lock", {"owner": "crashed-host:1:x", "expires": time.time() - 1}, "lock")
    with other.lock():  # an expired lease from a crashed builder is taken over
        assert other._read("lock")["owner"] != "crashed-host:1:x"
    assert other._read("lock") is None


def test_uri_names_server_collection_and_token(monkeypatch) -> None:
    monkeypatch.delenv("QA_MILVUS_TOKEN", raising=False)
    plain = MilvusTarget.parse("milvus://db.example:19531/team_docs")
    assert (plain.uri, plain.name, plain.token) == ("http://db.example:19531", "team_docs", "")
    secured = MilvusTarget.parse("milvus://alice:s%40cret@db.example/qa?secure=true&grace=0")
    assert (secured.uri, secured.token, secured.grace) == ("https://db.example:19530",
                                                           "alice:s@cret", 0.0)  # fmt: skip
    monkeypatch.setenv("QA_MILVUS_TOKEN", "root:Milvus")
    assert MilvusTarget.parse("milvus://h:1/qa").token == "root:Milvus"
    for bad in ("milvus://h:1/bad-name", "http://h:1/qa", "milvus:///qa"):
        with pytest.raises(ValueError):
            MilvusTarget.parse(bad)
    monkeypatch.delenv("QA_MILVUS_CACHE_MB", raising=False)
    assert plain.cache_mb == 512 and MilvusTarget.parse("milvus://h/qa?cache_mb=64").cache_mb == 64
    monkeypatch.setenv("QA_MILVUS_CACHE_MB", "0.5")
    assert MilvusTarget.parse("milvus://h:1/qa").cache_mb == 0.5
    for bad in ("x", "-1"):
        with pytest.raises(ValueError, match="cache_mb"):
            MilvusTarget.parse(f"milvus://h:1/qa?cache_mb={bad}")
    store = open_store(Settings(store="milvus://127.0.0.1:19530/qa"))
    assert isinstance(store, MilvusStore) and store.target.name == "qa"
    with pytest.raises(ValueError, match="milvus://"):
        open_store(Settings(store="elastic"))


def test_unreachable_server_is_a_clear_index_problem() -> None:
    from tests.support.milvus_fixture import free_port

    store = MilvusStore.from_uri(f"milvus://127.0.0.1:{free_port()}/qa")
    with pytest.raises(MilvusUnavailable, match="127.0.0.1"):
        store.version()


def test_hnsw_index_for_large_collections(milvus_uri) -> None:
    store = MilvusStore.from_uri(milvus_uri(index="hnsw"))
    kiwi, islands = update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)
    apply(store, [kiwi, islands])
    described = store.client.describe_index(f"{store.target.name}_g1_chunks", "vector")
    assert described["index_type"] == "HNSW"
    hits = store.open().dense_search(islands.chunk_vectors[1], 3)
    assert hits[0].chunk_id == "islands.txt#1"
    with pytest.raises(ValueError, match="flat or hnsw"):
        MilvusTarget.parse("milvus://h:1/qa?index=ivf")


def test_long_texts_and_odd_doc_ids_round_trip(milvus_uri) -> None:
    store = MilvusStore.from_uri(milvus_uri())
    long_text = "Long Text\n\n" + " ".join(
        f"Sentence number {i} is ünïcode ✓." for i in range(1500)
    )
    odd = 'dir/quote "and" back\\slash ü.txt'
    apply(store, [update(odd, long_text), update("kiwi.txt", KIWI)])
    snap = store.open()
    assert len(long_text) > 2 * 16_000
    assert snap.document(odd).text == long_text
    assert snap.chunk(f"{odd}#3").text in long_text
    assert snap.doc_ids() == sorted([odd, "kiwi.txt"])
    apply(store, deletes=[odd])
    assert store.open().doc_ids() == ["kiwi.txt"]


def test_missing_collections_make_the_next_refresh_rebuild(milvus_uri, seed_docs) -> None:
    from qa.indexer import refresh
    from qa.stores.base import IndexCorrupt

    store = MilvusStore.from_uri(milvus_uri())
    refresh(seed_docs, store, FakeEmbedder())
    store.client.drop_collection(f"{store.target.name}_g1_documents")
    with pytest.raises(IndexCorrupt):
        store.state()
    report = refresh(seed_docs, store, FakeEmbedder())
    assert report.rebuilt and report.documents == 2
    assert store.open().doc_ids() == ["japan-new-zealand-information-sharing.txt", "kiwi.txt"]


def test_collections_released_by_a_server_restart_are_loaded_again(milvus_uri, seed_docs):  # type: ignore[no-untyped-def]
    """A restarted milvus-lite server holds every collection released: a new builder's
    `state()` and a reader's `open()` load what they read."""
    from qa.indexer import refresh

    uri = milvus_uri()
    store = MilvusStore.from_uri(uri)
    refresh(seed_docs, store, FakeEmbedder())
    for name in store.client.list_collections():
        if name.startswith(f"{store.target.name}_g"):
            store.client.release_collection(name)
    assert set(MilvusStore.from_uri(uri).state().hashes) == {SEED_DOC, "kiwi.txt"}  # type: ignore[union-attr]
    assert MilvusStore.from_uri(uri).open().doc_ids() == [SEED_DOC, "kiwi.txt"]


def test_an_index_of_another_layout_is_rebuilt(milvus_uri, seed_docs) -> None:
    from qa.indexer import refresh
    from qa.stores.base import IndexCorrupt
    from qa.stores.milvus_store import SCHEMA

    store = MilvusStore.from_uri(milvus_uri())
    refresh(seed_docs, store, FakeEmbedder())
    head = store._head()
    store._write("head", {**head.__dict__, "schema": SCHEMA - 1}, "head")
    with pytest.raises(IndexCorrupt, match="another version"):
        store.open()
    report = refresh(seed_docs, store, FakeEmbedder())
    assert report.rebuilt and store.open().version.startswith("2.")


def test_a_head_from_a_later_version_is_read_and_its_version_decides(milvus_uri, seed_docs) -> None:
    from qa.indexer import refresh

    store = MilvusStore.from_uri(milvus_uri())
    refresh(seed_docs, store, FakeEmbedder())
    head = store._head()
    later = {**head.__dict__, "qa_version": "99.0.0", "field_added_later": [1, 2]}
    store._write("head", later, "head")
    assert store.state().built_by == "99.0.0"  # not "damaged": unknown fields are left out
    assert store.open().built_by == "99.0.0"
    report = refresh(seed_docs, store, FakeEmbedder())
    assert report.rebuilt and "another major version" in report.reason
    assert store.state().built_by == qa.__version__


# Reader-only: an answering process started without --docs never writes to the shared store.


def _five_documents(folder: Path) -> Path:
    """The seed article, kiwi, islands and two more short documents in `folder`."""
    folder.mkdir(parents=True)
    shutil.copy(SEEDS / SEED_DOC, folder / SEED_DOC)
    (folder / "kiwi.txt").write_text(KIWI)
    (folder / "islands.md").write_text(ISLANDS)
    (folder / "tui.txt").write_text("Tui\n\nThe tui is a loud songbird of New Zealand forests.")
    (folder / "kauri.txt").write_text("Kauri\n\nKauri trees grow slowly and live for centuries.")
    return folder


@pytest.fixture
def shared(milvus_uri, tmp_path, monkeypatch) -> tuple[str, MilvusStore]:  # type: ignore[no-untyped-def]
    """A store built from five documents, and a working directory whose `seeds/` holds only
    one (the wrong directory of the issue), with no QA_DOCS_DIR set."""
    uri = milvus_uri()
    builder = Settings(docs_dir=_five_documents(tmp_path / "library"), store=uri)
    Assistant(builder, FakeEmbedder(), reload_interval=0.0).refresh()
    workdir = tmp_path / "elsewhere"
    (workdir / "seeds").mkdir(parents=True)
    (workdir / "seeds" / "lonely.txt").write_text("Lonely\n\nThis folder holds one document.")
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("QA_DOCS_DIR", raising=False)
    monkeypatch.delenv("QA_STORE", raising=False)
    store = MilvusStore(MilvusTarget.parse(uri))
    assert store.open().document_count == 5
    return uri, store


def test_reader_only_server_leaves_the_shared_store_untouched(shared) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qa.web.app import create_app

    uri, store = shared
    version, state = store.version(), store.state()
    settings = Settings.from_env(store=uri, threshold=0.05)
    assert not settings.role().builder
    app = create_app(Assistant(settings, FakeEmbedder(), reload_interval=0.0), admin_token="")
    local = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50000)}
    with TestClient(app, **local) as client:
        deadline = time.monotonic() + 20
        while client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        health = client.get("/health").json()
        assert (health["mode"], health["documents"]) == ("reader-only", 5)
        assert uri.split("?")[0] in health["docs"] and "grace" not in health["store"]
        assert health["cache"]["of"] == health["chunks"] and health["cache"]["budget_mib"] > 0
        answer = client.post("/ask", json={"question": "Where do kiwis live?"})
        assert answer.status_code == 200 and answer.json()["citations"]
        assert "reader-only" in client.get("/").text

        refused = client.post("/index/rebuild")
        assert refused.status_code == 409
        assert "reader-only" in refused.json()["detail"]
        assert "qa index --docs DIR --store milvus://" in refused.json()["detail"]
    reader = MilvusStore(MilvusTarget.parse(uri))
    assert (reader.version(), reader.state()) == (version, state)
    assert reader.open().document_count == 5


def test_qa_ask_on_a_shared_store_answers_without_indexing(shared, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    import qa.pipeline
    from qa.cli import main

    monkeypatch.setattr(qa.pipeline, "SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())
    uri, store = shared
    version = store.version()
    result = CliRunner().invoke(
        main, ["ask", "-", "--store", uri, "--json"], input="Where do kiwis live?\n"
    )
    assert result.exit_code == 0, result.output
    assert store.version() == version and store.open().document_count == 5

    # Naming the folder makes it a builder; the guard then stops the wrong folder (4 of 5 is
    # not more than 5 documents, so grow the index first).
    more = Path("more")
    more.mkdir()
    for n in range(6):
        (more / f"n{n}.txt").write_text(f"Note {n}\n\nNumber {n}.")
    library = Path.cwd().parent / "library"
    for path in library.iterdir():
        shutil.copy(path, more / path.name)
    built = CliRunner().invoke(main, ["index", "--docs", "more", "--store", uri])
    assert built.exit_code == 0, built.output
    version = store.version()
    refused = CliRunner().invoke(main, ["ask", "Kiwi?", "--docs", "seeds", "--store", uri])
    assert refused.exit_code == 2
    assert "refusing to remove 11 of the 11 indexed documents" in refused.output
    assert "seeds" in refused.output and "--allow-removals" in refused.output
    assert store.version() == version and store.open().document_count == 11


def test_a_question_costs_two_searches_and_two_reads_at_once(milvus_uri, seed_docs) -> None:  # type: ignore[no-untyped-def]
    """Round trips per question: both searches (sent at once; hits without vectors) and, at
    once, one batched read of the sentences and one of the vectors of the passages used;
    documents, and the layout (pages, headings) of a cited one, are read once per snapshot."""
    from tests.support.milvus_latency import CountingClient

    uri = milvus_uri()
    assistant = Assistant(Settings(docs_dir=seed_docs, store=uri), FakeEmbedder())
    assistant.refresh()
    snapshot = assistant.snapshot()
    counting = CountingClient(snapshot._client)  # type: ignore[attr-defined]
    snapshot._client = counting  # type: ignore[attr-defined]
    assistant.ask(QUESTIONS[0])
    # + the cited document's layout, + the chunk after the quote's, for its context (there is
    # none: the quote ends the document; known absent from then on)
    assert (counting.calls["search"], counting.calls["query"]) == (2, 4)
    assistant.ask(QUESTIONS[0])  # every chunk and layout it needs is cached now
    assert (counting.calls["search"], counting.calls["query"]) == (4, 4)
    assert snapshot.document(SEED_DOC) == snapshot.document(SEED_DOC)
    assert counting.calls["query"] == 5


def test_a_build_flushes_what_it_wrote_and_a_refused_flush_fails_nothing(  # type: ignore[no-untyped-def]
    milvus_uri, seed_docs, monkeypatch
) -> None:
    """Flushed rows sit in sealed segments that milvus-lite searches with an index; a flush a
    cluster refuses (rate limit) only costs speed, never the commit."""
    from qa.indexer import refresh
    from tests.support.milvus_latency import CountingClient

    store = MilvusStore.from_uri(milvus_uri())
    counting = CountingClient(store.client)
    store._client_obj = counting  # type: ignore[attr-defined]
    refresh(seed_docs, store, FakeEmbedder())
    assert counting.calls["flush"] == 3  # chunks, sentences, documents

    def refuse(name: str, **kwargs: object) -> None:
        raise RuntimeError("flush rate limit exceeded")

    monkeypatch.setattr(counting._client, "flush", refuse)  # type: ignore[attr-defined]
    (seed_docs / "kiwi.txt").write_text(KIWI_V2)
    report = refresh(seed_docs, store, FakeEmbedder())
    assert report.updated == 1 and counting.calls["flush"] == 6
    snapshot = store.open()
    assert snapshot.document_count == 2
    assert snapshot.document("kiwi.txt").text == KIWI_V2  # type: ignore[union-attr]


def test_the_chunk_cache_is_bounded_by_bytes(milvus_uri, seed_docs) -> None:  # type: ignore[no-untyped-def]
    """A snapshot keeps built chunks up to its budget in bytes (`?cache_mb=`), dropping the
    least recently used; a chunk it dropped is read again; one that does not fit is not
    preloaded, and a budget of 0 caches nothing."""
    from tests.support.milvus_latency import CountingClient

    uri = milvus_uri()
    Assistant(Settings(docs_dir=seed_docs, store=uri), FakeEmbedder()).refresh()
    whole = MilvusStore.from_uri(uri).open()
    assert whole.preload() == whole.chunk_count >= 3
    ids = list(whole._cache._chunks)  # type: ignore[attr-defined]
    total = sum(chunk_bytes(chunk) for chunk in whole.chunks(ids))
    assert whole._cache.bytes == total  # type: ignore[attr-defined]
    state = whole.cache  # what /health shows
    assert state["chunks"] == state["of"] == len(ids) and state["complete"]
    assert state["budget_mib"] == 512 and 0 < state["mib"] * (1 << 20) < 2 * whole.cache_bytes

    small = MilvusStore.from_uri(f"{uri}&cache_mb={(total - 1) / (1 << 20)}").open()
    assert small.preload() == len(ids) - 1  # the collection does not fit: no ids-only search
    assert not small._complete and small._cache.bytes <= total - 1  # type: ignore[attr-defined]
    assert small.cache["chunks"] == len(ids) - 1 and not small.cache["complete"]
    counting = CountingClient(small._client)  # type: ignore[attr-defined]
    small._client = counting  # type: ignore[attr-defined]

    def read(snapshot: MilvusSnapshot, chunk_ids: list[str]) -> int:
        """Read `chunk_ids` (checked against the whole snapshot's); out: queries so far."""
        assert _texts(snapshot.chunks(chunk_ids)) == _texts(whole.chunks(chunk_ids))
        return counting.calls["query"]

    assert read(small, ids[1:]) == 0
    assert read(small, ids[:1]) == 2  # its row, then its sentences
    assert read(small, ids[2:]) == 2
    assert read(small, ids[1:2]) == 4  # dropped for ids[0]: the least recently used then
    assert small._cache.bytes <= total - 1  # type: ignore[attr-defined]

    uncached = MilvusStore.from_uri(f"{uri}&cache_mb=0").open()
    counting._client = uncached._client  # type: ignore[attr-defined]
    uncached._client = counting  # type: ignore[attr-defined]
    assert uncached.preload() == 0 and read(uncached, ids) == 6 and read(uncached, ids) == 8
    assert len(uncached._cache) == 0  # type: ignore[attr-defined]
    assert uncached.cache == {"chunks": 0, "of": len(ids), "complete": False, "mib": 0.0,
                              "budget_mib": 0.0}  # fmt: skip


def _texts(chunks: list) -> list[tuple]:  # type: ignore[type-arg]
    """What a chunk holds, comparable (numpy vectors as lists)."""
    return [
        (c.chunk_id, c.text, c.start, c.vector.tolist(),
         [(s.text, s.start, s.vector.tolist()) for s in c.sentences])
        for c in chunks
    ]  # fmt: skip


def test_a_preloaded_snapshot_answers_with_one_search_and_no_reads(  # type: ignore[no-untyped-def]
    milvus_uri, seed_docs, tmp_path
) -> None:
    """`Assistant(preload=True)` (servers) fills a new snapshot's cache in the background;
    then the dense search runs over the cached vectors (the same hits and scores as Milvus's),
    and a question costs its BM25 search, which returns chunk ids only, and no query."""
    from tests.support.milvus_latency import CountingClient

    uri = milvus_uri()
    builder = Assistant(Settings(docs_dir=seed_docs, store=uri), FakeEmbedder())
    builder.refresh()
    expected = _answers(builder)
    reader = _stateless(uri, tmp_path, FakeEmbedder(), preload=True)
    snapshot = _preloaded(reader)
    counting = CountingClient(snapshot._client)  # type: ignore[attr-defined]
    snapshot._client = counting  # type: ignore[attr-defined]
    assert _answers(reader) == expected
    assert counting.calls["search"] == len(QUESTIONS)
    assert counting.calls["query"] == 0 and counting.calls["query_iterator"] == 0
    remote = builder.snapshot()
    for question in QUESTIONS:
        vector = FakeEmbedder().encode_query(question)
        here, there = snapshot.dense_search(vector, 50), remote.dense_search(vector, 50)
        assert [h.chunk_id for h in here] == [h.chunk_id for h in there]
        assert [h.score for h in here] == pytest.approx([h.score for h in there], abs=1e-5)
    assert counting.calls["search"] == len(QUESTIONS)
