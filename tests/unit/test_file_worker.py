"""The file worker: each file read and chunked in a worker process within its time and memory
budget; one over it is skipped with its reason and the next file is read by a new worker."""

import hashlib
import time
from pathlib import Path

from qa.chunking import ChunkingOptions, chunk_document
from qa.documents import SourceFile
from qa.file_budget import FileBudget
from qa.file_worker import Extracted, FileWorker
from tests.support.fakes import HostileCounter


def source(folder: Path, name: str, text: str) -> SourceFile:
    path = folder / name
    path.write_text(text)
    data = path.read_bytes()
    return SourceFile(name, path, hashlib.sha256(data).hexdigest(), len(data))


def test_files_are_extracted_and_chunked_as_in_process(tmp_path):
    counter = HostileCounter()
    text = "The tea was hot. The cup was blue.\n\nA second paragraph here."
    with FileWorker(FileBudget(), ChunkingOptions(), counter) as worker:
        results = [worker.read(source(tmp_path, f"f{i}.txt", text)) for i in range(20)]
    assert all(isinstance(r, Extracted) for r in results)
    first = results[0]
    assert isinstance(first, Extracted)
    assert first.document.text == text
    assert first.pieces == chunk_document(text, counter, ChunkingOptions())


def test_a_file_over_its_time_or_memory_is_skipped_and_the_next_is_read(tmp_path):
    budget = FileBudget(seconds=3, memory_mb=256)
    files = [
        source(tmp_path, "slow.txt", "This one hangs. SLEEPFOREVER"),
        source(tmp_path, "fine.txt", "A plain sentence."),
        source(tmp_path, "hog.txt", "This one eats memory. EATMEMORY"),
        source(tmp_path, "crash.txt", "This one crashes. KILLME"),
        source(tmp_path, "last.txt", "The last sentence."),
    ]
    with FileWorker(budget, ChunkingOptions(), HostileCounter()) as worker:
        started = time.monotonic()
        results = {f.doc_id: worker.read(f) for f in files}
        took = time.monotonic() - started
    assert results["slow.txt"] == "extraction took longer than 3 s (QA_FILE_SECONDS)"
    assert results["hog.txt"] == "extraction needed more than 256 MB (QA_FILE_MEMORY_MB)"
    assert "SIGKILL" in results["crash.txt"]
    for name in ("fine.txt", "last.txt"):
        assert isinstance(results[name], Extracted), results[name]
    assert took < 30


def test_a_file_that_changed_or_vanished_since_the_scan_is_skipped(tmp_path):
    changed = source(tmp_path, "changed.txt", "The first version.")
    (tmp_path / "changed.txt").write_text("The second version, longer.")
    gone = source(tmp_path, "gone.txt", "Soon deleted.")
    (tmp_path / "gone.txt").unlink()
    with FileWorker(FileBudget(), ChunkingOptions(), None) as worker:
        assert "changed while" in str(worker.read(changed))
        assert "cannot read file" in str(worker.read(gone))


def test_an_upload_is_parsed_apart_within_its_budget(tmp_path):
    from qa.file_worker import check_content
    from tests.support.helpers import write_docx

    write_docx(tmp_path / "memo.docx", "Memo", ["A paragraph."])
    assert check_content("memo.docx", (tmp_path / "memo.docx").read_bytes()) is None
    assert "cannot parse PDF" in str(check_content("bad.pdf", b"%PDF-1.7 garbage"))
    deep = ("<div>" * 200_000 + "Deep." + "</div>" * 200_000).encode()
    slow = check_content("deep.html", deep, budget=FileBudget(seconds=0.01))
    assert slow == "extraction took longer than 0.01 s (QA_FILE_SECONDS)"
