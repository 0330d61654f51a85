"""One suite every `ChunkStore` must pass; it runs against FAISS and against a real Milvus.

Each test gets a `backend` (FAISS in a temporary folder, or Milvus on a `milvus-lite server`
with a collection of its own) and checks behaviour only through the `ChunkStore` / `Snapshot`
protocols, `qa.indexer.refresh` and `Assistant`, so a third backend plugs in by adding one
entry to `BACKENDS`.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

import qa.stores.faiss_store
import qa.stores.milvus_store
from qa.chunking import ChunkingOptions, chunk_document
from qa.config import Settings
from qa.documents import READER_REVISIONS, reader_revisions
from qa.indexer import TooManyRemovals, refresh
from qa.layout import NO_LAYOUT, DocumentLayout
from qa.pipeline import Assistant
from qa.stores.base import ChunkStore, DocumentUpdate, IndexMissing, IndexProblem
from qa.stores.faiss_store import FaissStore
from qa.stores.milvus_store import MilvusStore, MilvusTarget
from tests.support import milvus_fixture
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder
from tests.support.helpers import write_paged_pdf

# The Milvus server and URI fixtures, registered for this module.
milvus_server = milvus_fixture.milvus_server
milvus_uri = milvus_fixture.milvus_uri

KIWI = (
    "Kiwi Birds\n\nKiwis are flightless birds that live only in New Zealand. "
    "They sleep in burrows during the day and forage for worms at night. "
    "A kiwi egg is very large compared with the body of the mother. "
    "The aardvark is not related to the kiwi at all."
)
KIWI_V2 = (
    "Kiwi Birds\n\nKiwis are flightless birds of New Zealand. "
    "Conservation groups protect them from stoats and from dogs. "
    "A zeppelin once flew over a kiwi sanctuary."
)
ISLANDS = (
    "Disputed Islands\n\nThe Senkaku Islands are controlled by Japan but claimed by China. "
    "Chinese coast guard ships often sail near the islands. "
    "Fishing boats from Taiwan also visit the surrounding waters."
)
OPTIONS = ChunkingOptions(max_tokens=24)


@dataclass
class Backend:
    """How to make, reopen and crash a store of one kind."""

    name: str
    make: Callable[[], ChunkStore]
    reopen: Callable[[ChunkStore], ChunkStore]
    crash_at_switch: tuple[object, str]  # attribute patched to raise just before the switch


BACKENDS = ["faiss", "milvus"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "faiss":
        counter = iter(range(1000))
        return Backend(
            "faiss",
            make=lambda: FaissStore(tmp_path / f"index{next(counter)}"),
            reopen=lambda store: FaissStore(store.path),  # type: ignore[attr-defined]
            crash_at_switch=(qa.stores.faiss_store, "_atomic_write"),
        )
    make_uri = request.getfixturevalue("milvus_uri")

    def make_milvus(uri: str | None = None) -> MilvusStore:
        return MilvusStore(MilvusTarget.parse(uri or make_uri()), lock_settle=0.02)

    return Backend(
        "milvus",
        make=make_milvus,
        reopen=lambda store: make_milvus(_uri_of(store)),  # type: ignore[arg-type]
        crash_at_switch=(MilvusStore, "_check_lock"),
    )


def _uri_of(store: MilvusStore) -> str:
    host = store.target.uri.split("://", 1)[1]
    return f"milvus://{host}/{store.target.name}?grace=0"


def update(doc_id: str, text: str, embedder: FakeEmbedder | None = None) -> DocumentUpdate:
    """A `DocumentUpdate` for `text`, chunked small and embedded by the fake embedder."""
    embedder = embedder or FakeEmbedder()
    sentences, chunks = chunk_document(text, embedder.count_tokens, OPTIONS)
    sentence_vectors = embedder.encode([text[s.start : s.end] for s in sentences])
    chunk_vectors = embedder.encode([text[c.start : c.end] for c in chunks])
    title = text.split("\n", 1)[0]
    sha = hashlib.sha256(text.encode()).hexdigest()
    return DocumentUpdate(doc_id, title, sha, text, sentences, chunks, sentence_vectors,
                          chunk_vectors)  # fmt: skip


def apply(store: ChunkStore, updates=(), deletes=(), reset=False) -> None:  # type: ignore[no-untyped-def]
    store.apply(FakeEmbedder.name, FakeEmbedder.dim, list(updates), list(deletes), reset)


def all_chunks(snapshot) -> list:  # type: ignore[no-untyped-def]
    """Every chunk of a snapshot, read through the protocol."""
    out = []
    for doc_id in snapshot.doc_ids():
        count = snapshot.document(doc_id).chunks
        out += [snapshot.chunk(f"{doc_id}#{n}") for n in range(count)]
    return out


# --- the protocol, directly ------------------------------------------------------------------


def test_empty_store_has_no_state_and_cannot_open(backend: Backend) -> None:
    store = backend.make()
    assert store.version() is None
    assert store.state() is None
    with pytest.raises(IndexMissing):
        store.open()


def test_added_documents_read_back_exactly(backend: Backend) -> None:
    store = backend.make()
    kiwi, islands = update("birds/kiwi.txt", KIWI), update("islands.md", ISLANDS)
    apply(store, [kiwi, islands])
    state = store.state()
    assert state is not None and (state.model, state.dim) == (FakeEmbedder.name, 64)
    assert state.hashes == {"birds/kiwi.txt": kiwi.sha256, "islands.md": islands.sha256}
    assert state.chunks == {"birds/kiwi.txt": len(kiwi.chunks), "islands.md": len(islands.chunks)}
    snap = store.open()
    assert snap.version == store.version()
    assert snap.doc_ids() == ["birds/kiwi.txt", "islands.md"]
    assert (snap.document_count, snap.chunk_count) == (2, len(kiwi.chunks) + len(islands.chunks))
    info = snap.document("birds/kiwi.txt")
    assert (info.title, info.sha256, info.text, info.chunks) == (
        "Kiwi Birds", kiwi.sha256, KIWI, len(kiwi.chunks))  # fmt: skip
    assert snap.document("nope.txt") is None
    for n, span in enumerate(kiwi.chunks):
        chunk = snap.chunk(f"birds/kiwi.txt#{n}")
        assert (chunk.doc_id, chunk.title, chunk.start, chunk.end) == (
            "birds/kiwi.txt", "Kiwi Birds", span.start, span.end)  # fmt: skip
        assert chunk.text == KIWI[span.start : span.end]
        np.testing.assert_allclose(chunk.vector, kiwi.chunk_vectors[n], atol=1e-6)
        assert len(chunk.sentences) == span.last - span.first
        for sentence, i in zip(chunk.sentences, range(span.first, span.last), strict=True):
            expected = kiwi.sentences[i]
            assert (sentence.start, sentence.end) == (expected.start, expected.end)
            assert sentence.text == KIWI[expected.start : expected.end]
            np.testing.assert_allclose(sentence.vector, kiwi.sentence_vectors[i], atol=1e-6)
    with pytest.raises(KeyError):
        snap.chunk(f"birds/kiwi.txt#{len(kiwi.chunks)}")


def test_layouts_read_back_and_survive_other_documents_changing(backend: Backend) -> None:
    store = backend.make()
    pages, sections = (0, 30, 30, 90), ((0, "Kiwi Birds"), (12, 'Héllo "quoted"'))
    kiwi = replace(update("kiwi.pdf", KIWI), pages=pages, sections=sections)
    apply(store, [kiwi, update("islands.md", ISLANDS)])
    snap = store.open()
    assert snap.layout("kiwi.pdf") == DocumentLayout(pages, sections)
    assert snap.layout("islands.md") == NO_LAYOUT  # stored without one: none
    assert snap.layout("nope.pdf") == NO_LAYOUT
    assert snap.document("kiwi.pdf").text == KIWI  # the layout rows are not text
    apply(store, [update("islands.md", ISLANDS + " More.")])
    again = backend.reopen(store).open()
    assert again.layout("kiwi.pdf") == DocumentLayout(pages, sections)  # unchanged: kept
    assert again.doc_ids() == ["islands.md", "kiwi.pdf"]
    apply(store, [update("kiwi.pdf", KIWI)])  # replaced by a version without pages
    assert store.open().layout("kiwi.pdf") == NO_LAYOUT


def test_dense_search_finds_a_chunk_by_its_own_vector(backend: Backend) -> None:
    store = backend.make()
    kiwi, islands = update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)
    apply(store, [kiwi, islands])
    snap = store.open()
    hits = snap.dense_search(islands.chunk_vectors[1], 3)
    assert hits[0].chunk_id == "islands.txt#1"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(snap.dense_search(islands.chunk_vectors[1], 100)) == snap.chunk_count


def test_lexical_search_is_bm25_over_stemmed_terms(backend: Backend) -> None:
    store = backend.make()
    apply(store, [update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)])
    snap = store.open()
    hits = snap.lexical_search("Which islands does Japan control?", 10)
    assert hits and hits[0].chunk_id.startswith("islands.txt#")
    assert all(h.score > 0 for h in hits)
    assert {h.chunk_id.split("#")[0] for h in hits} == {"islands.txt"}
    aardvark = [h.chunk_id for h in snap.lexical_search("aardvarks", 10)]  # stemmed to match
    assert len(aardvark) == 1 and "aardvark" in snap.chunk(aardvark[0]).text
    assert snap.lexical_search("the of and", 10) == []  # stop words only
    assert snap.lexical_search("xylophone", 10) == []


def test_replace_switches_the_whole_document(backend: Backend) -> None:
    store = backend.make()
    apply(store, [update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)])
    before = store.version()
    new = update("kiwi.txt", KIWI_V2)
    apply(store, [new])
    assert store.version() != before
    snap = store.open()
    assert snap.document("kiwi.txt").text == KIWI_V2
    assert store.state().chunks["kiwi.txt"] == len(new.chunks)
    texts = [c.text for c in all_chunks(snap)]
    assert not any("aardvark" in t for t in texts)
    assert snap.lexical_search("aardvark", 10) == []
    assert [snap.chunk(h.chunk_id).doc_id for h in snap.lexical_search("zeppelin", 10)] == [
        "kiwi.txt"
    ]
    assert snap.chunk_count == len(texts)
    assert len(snap.dense_search(new.chunk_vectors[0], 100)) == snap.chunk_count


def test_delete_removes_the_document_everywhere(backend: Backend) -> None:
    store = backend.make()
    kiwi = update("kiwi.txt", KIWI)
    apply(store, [kiwi, update("islands.txt", ISLANDS)])
    apply(store, deletes=["kiwi.txt"])
    snap = store.open()
    assert snap.doc_ids() == ["islands.txt"]
    assert snap.document("kiwi.txt") is None
    assert set(store.state().hashes) == {"islands.txt"}
    assert snap.lexical_search("kiwi flightless birds", 10) == []
    dense = snap.dense_search(kiwi.chunk_vectors[0], 100)
    assert dense and all(h.chunk_id.startswith("islands.txt#") for h in dense)
    with pytest.raises(KeyError):
        snap.chunk("kiwi.txt#0")


def test_reset_keeps_only_the_new_documents(backend: Backend) -> None:
    store = backend.make()
    apply(store, [update("kiwi.txt", KIWI)])
    apply(store, [update("islands.txt", ISLANDS)], reset=True)
    snap = store.open()
    assert snap.doc_ids() == ["islands.txt"]
    assert snap.lexical_search("kiwi", 10) == []


def test_reopened_store_sees_the_committed_state(backend: Backend) -> None:
    store = backend.make()
    apply(store, [update("kiwi.txt", KIWI), update("islands.txt", ISLANDS)])
    again = backend.reopen(store)
    assert again.version() == store.version()
    assert again.state() == store.state()
    first, second = store.open(), again.open()
    assert first.doc_ids() == second.doc_ids()
    assert [c.text for c in all_chunks(first)] == [c.text for c in all_chunks(second)]


def test_a_second_builder_waits_for_the_lock(backend: Backend) -> None:
    store = backend.make()
    other = backend.reopen(store)
    other.lock_timeout = 0.3  # type: ignore[attr-defined]
    with store.lock(), pytest.raises(IndexProblem), other.lock():
        pass
    with other.lock():  # released: free again
        pass


# --- through the indexer and the assistant ---------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "birds").mkdir(parents=True)
    shutil.copy(SEEDS / SEED_DOC, docs / SEED_DOC)
    (docs / "birds" / "kiwi.txt").write_text(KIWI)
    (docs / "islands.md").write_text(ISLANDS)
    return docs


def test_refresh_adds_updates_deletes_and_skips_unchanged(backend: Backend, folder: Path) -> None:
    store, embedder = backend.make(), FakeEmbedder()
    first = refresh(folder, store, embedder, OPTIONS)
    assert (first.added, first.documents, first.embedded) == (3, 3, first.chunks)
    again = refresh(folder, store, embedder, OPTIONS)
    assert (again.unchanged, again.embedded) == (3, 0)
    (folder / "birds" / "kiwi.txt").write_text(KIWI_V2)
    (folder / "islands.md").unlink()
    changed = refresh(folder, store, embedder, OPTIONS)
    assert (changed.updated, changed.removed, changed.unchanged) == (1, 1, 1)
    snap = store.open()
    assert snap.doc_ids() == ["birds/kiwi.txt", SEED_DOC]
    assert snap.chunk_count == changed.chunks == sum(store.state().chunks.values())
    assert snap.document("birds/kiwi.txt").text == KIWI_V2


def test_assistant_answers_with_exact_citations(backend: Backend, folder: Path) -> None:
    settings = Settings(docs_dir=folder, index_dir=folder.parent / "unused")
    assistant = Assistant(settings, FakeEmbedder(), backend.make(), reload_interval=0.0)
    assistant.refresh()
    result = assistant.ask("When did Luxon take office?")
    assert result.passages
    assert any(p.doc_id == SEED_DOC for p in result.passages)
    for citation in result.citations:
        text = assistant.document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.quote


def test_citations_carry_the_page_and_section_through_the_store(
    backend: Backend, tmp_path: Path
) -> None:
    docs = tmp_path / "paged"
    docs.mkdir()
    write_paged_pdf(docs / "report.pdf", [
        ["Quarterly report of the hydro plant."],
        ["The turbines were serviced in March by the crew."],
        ["The reservoir held 80 million cubic metres in June."],
    ])  # fmt: skip
    (docs / "guide.md").write_text("# Guide\n\n## Feeding\n\nKiwis forage for worms at night.\n")
    settings = Settings(docs_dir=docs, index_dir=tmp_path / "unused", threshold=0.0)
    assistant = Assistant(settings, FakeEmbedder(), backend.make(), reload_interval=0.0)
    assistant.refresh()
    for question, doc_id, page, section in [
        ("How much water did the reservoir hold in June?", "report.pdf", 3, None),
        ("When did kiwis forage for worms?", "guide.md", None, "Feeding"),
    ]:
        first = assistant.ask(question).citations[0]
        assert (first.doc_id, first.page, first.section) == (doc_id, page, section)
        assert assistant.document(doc_id).text[first.start : first.end] == first.quote


def test_model_change_rebuilds_everything(backend: Backend, folder: Path) -> None:
    store = backend.make()
    refresh(folder, store, FakeEmbedder(), OPTIONS)

    class OtherModel(FakeEmbedder):
        name = "fake-other-64"

    report = refresh(folder, store, OtherModel(), OPTIONS)
    assert report.rebuilt and "model" in report.reason
    assert report.embedded == report.chunks
    assert store.state().model == "fake-other-64"
    assert store.open().document_count == 3


def test_a_commit_records_the_package_version_that_wrote_it(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.make()
    module = qa.stores.faiss_store if backend.name == "faiss" else qa.stores.milvus_store
    monkeypatch.setattr(module, "package_version", lambda: "7.1.0")
    apply(store, [update("kiwi.txt", KIWI)])
    assert store.state().built_by == "7.1.0"  # type: ignore[union-attr]
    monkeypatch.setattr(module, "package_version", lambda: "7.2.0")
    apply(store, [update("islands.txt", ISLANDS)])  # incremental: the last writer's version
    reopened = backend.reopen(store)
    assert reopened.state().built_by == "7.2.0"  # type: ignore[union-attr]
    assert reopened.open().built_by == "7.2.0"


def test_a_commit_records_the_text_readers_and_a_newer_one_reads_its_format_again(
    backend: Backend, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.make()
    refresh(folder, store, FakeEmbedder(), OPTIONS)
    assert store.state().readers == reader_revisions()  # type: ignore[union-attr]
    monkeypatch.setitem(READER_REVISIONS, ".txt", 5)
    report = refresh(folder, backend.reopen(store), FakeEmbedder(), OPTIONS)
    assert (report.updated, report.unchanged) == (2, 1) and "2 .txt documents" in report.reason
    reopened = backend.reopen(store)
    assert reopened.state().readers[".txt"] == 5  # type: ignore[union-attr]
    assert refresh(folder, reopened, FakeEmbedder(), OPTIONS).updated == 0


def test_crash_before_the_switch_keeps_the_old_state(
    backend: Backend, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, embedder = backend.make(), FakeEmbedder()
    refresh(folder, store, embedder, OPTIONS)
    version, state = store.version(), store.state()
    (folder / "birds" / "kiwi.txt").write_text(KIWI_V2)
    (folder / "islands.md").unlink()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(*backend.crash_at_switch, crash)
        with pytest.raises(RuntimeError, match="power cut"):
            refresh(folder, store, embedder, OPTIONS)

    reader = backend.reopen(store)
    assert (reader.version(), reader.state()) == (version, state)
    snap = reader.open()
    assert snap.document("birds/kiwi.txt").text == KIWI
    assert snap.document("islands.md").text == ISLANDS
    assert snap.lexical_search("zeppelin", 10) == []  # the half-written version stays unseen
    assert len(snap.lexical_search("aardvark", 10)) == 1

    report = refresh(folder, store, embedder, OPTIONS)
    assert (report.updated, report.removed) == (1, 1)
    snap = backend.reopen(store).open()
    assert snap.doc_ids() == ["birds/kiwi.txt", SEED_DOC]
    assert len(snap.lexical_search("zeppelin", 10)) == 1  # once: no leftover copy
    assert snap.lexical_search("aardvark", 10) == []
    assert snap.chunk_count == report.chunks == len(all_chunks(snap))
    assert len(snap.dense_search(embedder.encode(["kiwi"])[0], 1000)) == snap.chunk_count


def _many(folder: Path, count: int) -> None:
    """`count` small documents in `folder` (which is created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"note{n:02d}.txt").write_text(f"Note {n}\n\nThe number {n} is written here.")


def test_removal_guard_refuses_and_changes_nothing(backend: Backend, tmp_path: Path) -> None:
    folder, store, embedder = tmp_path / "many", backend.make(), FakeEmbedder()
    _many(folder, 10)
    refresh(folder, store, embedder, OPTIONS)
    version, state = store.version(), store.state()
    for path in sorted(folder.iterdir())[:6]:  # 6 of 10: more than half, and more than 5
        path.unlink()
    with pytest.raises(TooManyRemovals) as refused:
        refresh(folder, store, embedder, OPTIONS)
    assert (refused.value.removing, refused.value.indexed) == (6, 10)
    assert str(folder) in str(refused.value) and "--allow-removals" in str(refused.value)
    reader = backend.reopen(store)
    assert (reader.version(), reader.state()) == (version, state)
    assert reader.open().document_count == 10

    report = refresh(folder, store, embedder, OPTIONS, allow_removals=True)
    assert (report.removed, report.documents) == (6, 4)
    assert backend.reopen(store).open().document_count == 4


def test_removal_guard_lets_small_or_minority_removals_through(
    backend: Backend, tmp_path: Path
) -> None:
    store, embedder = backend.make(), FakeEmbedder()
    few = tmp_path / "few"
    _many(few, 5)
    refresh(few, store, embedder, OPTIONS)
    for path in sorted(few.iterdir())[:4]:  # 4 of 5: most, but not more than 5
        path.unlink()
    assert refresh(few, store, embedder, OPTIONS).removed == 4

    other, store = tmp_path / "other", backend.make()
    _many(other, 14)
    refresh(other, store, embedder, OPTIONS)
    for path in sorted(other.iterdir())[:7]:  # 7 of 14: exactly half is allowed
        path.unlink()
    assert refresh(other, store, embedder, OPTIONS).removed == 7
