"""Incremental refresh: counts, reuse of stored vectors, deletes, model changes, failures."""

from pathlib import Path

import pytest

from qa.documents import READER_REVISIONS, reader_revisions
from qa.indexer import DocsFolderError, refresh
from qa.stores.faiss_store import FaissStore
from tests.support.fakes import FakeEmbedder


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    write(docs, "alpha.txt", "Alpha facts. The alpha river is long.")
    write(docs, "beta.md", "# Beta\n\nBeta is a letter. It follows alpha.")
    write(docs, "gamma.html", "<title>Gamma</title><p>Gamma rays are energetic.</p>")
    return docs


def counts(report):
    return (report.documents, report.added, report.updated, report.removed, report.unchanged)


def test_first_build_adds_everything_and_second_embeds_nothing(folder, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    first = refresh(folder, store, embedder)
    assert counts(first) == (3, 3, 0, 0, 0)
    assert first.embedded == first.chunks > 0
    encoded = embedder.encoded
    second = refresh(folder, store, embedder)
    assert counts(second) == (3, 0, 0, 0, 3)
    assert second.embedded == 0 and second.chunks == first.chunks
    assert embedder.encoded == encoded  # nothing re-encoded
    assert store.version() == store.version()


def test_change_and_delete_are_counted_and_only_the_changed_document_is_embedded(folder, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    refresh(folder, store, embedder)
    write(folder, "alpha.txt", "Alpha facts changed. A brand new sentence about otters.")
    (folder / "gamma.html").unlink()
    write(folder, "sub/delta.txt", "Delta is a new document.")
    report = refresh(folder, store, embedder)
    assert counts(report) == (3, 1, 1, 1, 1)
    snapshot = store.open()
    assert (
        report.embedded
        == snapshot.document("alpha.txt").chunks + snapshot.document("sub/delta.txt").chunks
    )
    assert snapshot.doc_ids() == ["alpha.txt", "beta.md", "sub/delta.txt"]
    assert "otters" in snapshot.document("alpha.txt").text
    assert all(not hit.chunk_id.startswith("gamma") for hit in snapshot.lexical_search("gamma", 10))


def test_unchanged_documents_keep_their_stored_vectors(folder, tmp_path):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    refresh(folder, store, embedder)
    before = store.open()
    beta = before.chunk("beta.md#0")
    write(folder, "alpha.txt", "Completely different alpha text.")
    refresh(folder, store, embedder)
    after = store.open()
    assert after.version != before.version
    assert (after.chunk("beta.md#0").vector == beta.vector).all()
    assert after.chunk("beta.md#0").text == beta.text


def test_a_file_that_turns_bad_is_removed_and_listed(folder, tmp_path):
    store = FaissStore(tmp_path / "index")
    refresh(folder, store, FakeEmbedder())
    (folder / "beta.md").write_bytes(b"\xff\xfe broken")
    report = refresh(folder, store, FakeEmbedder())
    assert report.removed == 1
    assert [s["path"] for s in report.skipped] == ["beta.md"]
    assert "beta.md" not in store.open().doc_ids()


def test_another_model_forces_a_full_rebuild(folder, tmp_path):
    store = FaissStore(tmp_path / "index")
    refresh(folder, store, FakeEmbedder())
    other = FakeEmbedder()
    other.name = "another-model"
    report = refresh(folder, store, other)
    assert report.rebuilt and "another-model" in report.reason
    assert counts(report) == (3, 0, 3, 0, 0)
    assert report.embedded == report.chunks
    assert store.open().model == "another-model"


def test_failure_in_the_middle_of_a_build_leaves_the_old_index_untouched(folder, tmp_path):
    store = FaissStore(tmp_path / "index")
    refresh(folder, store, FakeEmbedder())
    version, before = store.version(), store.open()

    class Exploding(FakeEmbedder):
        def encode(self, texts, progress=False):
            raise RuntimeError("disk on fire")

    write(folder, "alpha.txt", "New alpha text that will never be indexed.")
    with pytest.raises(RuntimeError, match="disk on fire"):
        refresh(folder, store, Exploding())
    assert store.version() == version
    after = store.open()
    assert after.document("alpha.txt").text == before.document("alpha.txt").text
    report = refresh(folder, store, FakeEmbedder())
    assert report.updated == 1


def test_missing_or_empty_docs_folder_is_a_clear_error(tmp_path):
    store = FaissStore(tmp_path / "index")
    with pytest.raises(DocsFolderError, match="does not exist"):
        refresh(tmp_path / "nope", store, FakeEmbedder())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocsFolderError, match="no documents"):
        refresh(tmp_path / "empty", store, FakeEmbedder())


def test_progress_reports_each_stage_in_order(folder, tmp_path):
    seen = []
    refresh(folder, FaissStore(tmp_path / "index"), FakeEmbedder(), on_progress=seen.append)
    stages = [p.stage for p in seen]
    order = ["reading", "chunking", "embedding", "writing"]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == order
    reading = [p for p in seen if p.stage == "reading" and p.total]
    assert reading[0].total == 3
    embedding = [p for p in seen if p.stage == "embedding"]
    assert embedding[-1].done == embedding[-1].total > 0
    assert embedding[-1].describe() == f"embedding {embedding[-1].total} of {embedding[-1].total}"


def test_embedding_progress_comes_in_steps_for_large_builds(folder, tmp_path, monkeypatch):
    import qa.indexer

    monkeypatch.setattr(qa.indexer, "EMBED_STEP", 2)
    seen = []
    embedder = FakeEmbedder()
    report = refresh(folder, FaissStore(tmp_path / "index"), embedder, on_progress=seen.append)
    done = [p.done for p in seen if p.stage == "embedding"]
    assert done == sorted(done) and len(done) > 3 and done[-1] > 0
    assert report.embedded == report.chunks  # the steps add up to the same index


def test_expected_removals_do_not_trip_the_removal_guard(tmp_path):
    from qa.indexer import TooManyRemovals

    docs = tmp_path / "docs"
    for n in range(8):
        write(docs, f"d{n}.txt", f"Document number {n} talks about topic {n}.")
    store = FaissStore(tmp_path / "index")
    refresh(docs, store, FakeEmbedder())
    gone = {f"d{n}.txt" for n in range(6)}
    for doc_id in gone:
        (docs / doc_id).unlink()
    with pytest.raises(TooManyRemovals):
        refresh(docs, store, FakeEmbedder())
    report = refresh(docs, store, FakeEmbedder(), expected_removals=frozenset(gone))
    assert report.removed == 6 and report.documents == 2


def test_documents_read_by_an_older_text_reader_are_read_again_once(folder, tmp_path, monkeypatch):
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    refresh(folder, store, embedder)
    beta = store.open().chunk("beta.md#0")
    encoded = embedder.encoded
    monkeypatch.setitem(READER_REVISIONS, ".html", READER_REVISIONS.get(".html", 1) + 1)
    report = refresh(folder, store, embedder)
    assert counts(report) == (3, 0, 1, 0, 2)
    assert report.reason == "re-read 1 .html document: a newer text reader"
    assert not report.rebuilt and report.embedded == store.open().document("gamma.html").chunks
    assert embedder.encoded > encoded
    assert (store.open().chunk("beta.md#0").vector == beta.vector).all()
    assert store.state().readers[".html"] == READER_REVISIONS[".html"]
    again = refresh(folder, store, embedder)
    assert counts(again) == (3, 0, 0, 0, 3) and again.reason == ""


def _pdf(path: Path, text: str) -> None:
    from reportlab.pdfgen import canvas as pdfcanvas

    canvas = pdfcanvas.Canvas(str(path))
    canvas.drawString(72, 700, text)
    canvas.save()


def test_an_index_that_records_no_readers_reads_its_pdfs_and_html_again(folder, tmp_path):
    import json

    _pdf(folder / "plant.pdf", "The plant opened in 1921 beside the river.")
    store, embedder = FaissStore(tmp_path / "index"), FakeEmbedder()
    refresh(folder, store, embedder)
    manifest = tmp_path / "index" / (tmp_path / "index" / "CURRENT").read_text().strip()
    manifest = manifest / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["readers"]  # as written before readers were recorded (release 0.2.0)
    manifest.write_text(json.dumps(data))
    assert store.state().readers is None
    report = refresh(folder, store, embedder)
    assert counts(report) == (4, 0, 2, 0, 2)  # plant.pdf and gamma.html: readers after 0.2.0
    assert report.reason == "re-read 1 .html document, 1 .pdf document: a newer text reader"
    assert "1921" in store.open().document("plant.pdf").text
    assert store.state().readers == reader_revisions()
