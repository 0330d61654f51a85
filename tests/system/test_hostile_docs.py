"""A hostile docs folder: every bad file is skipped with a reason, the build completes, and
memory stays bounded (the build runs in its own process so its peak RSS can be read)."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.support.fakes import ROOT, SEED_DOC, SEEDS
from tests.support.helpers import entity_bomb_html, write_entity_bomb_docx, write_zip_bomb_docx
from tests.support.live_server import start_server


def hostile_folder(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    (docs / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    (docs / "zero.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (docs / "invalid-utf8.md").write_bytes(b"# Title\n\nCaf\xe9 \xff\xfe broken")
    with open(docs / "huge.txt", "wb") as out:  # 50 MB, over the default 20 MB limit
        line = b"All work and no play makes a very long file. " * 20 + b"\n"
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            out.write(line)
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%garbage")
    (docs / "nested.html").write_text("<div>" * 50000 + "Deep inside text." + "</div>" * 50000)
    (docs / "name with spaces é ü 漢字.md").write_text("# Spaced\n\nA file with a hard name.")
    (root / "secret.txt").write_text("Secret text outside the docs folder.")
    os.symlink(root / "secret.txt", docs / "link-out.txt")
    os.symlink(root, docs / "dir-link-out")
    return docs


def test_hostile_folder_builds_skips_bad_files_and_stays_small(tmp_path):
    docs = hostile_folder(tmp_path)
    script = (
        "import json, sys; from pathlib import Path; from qa.stores.faiss_store import FaissStore; "
        "from qa.indexer import refresh; from tests.support.fakes import FakeEmbedder; "
        "r = refresh(Path(sys.argv[1]), FaissStore(Path(sys.argv[2])), FakeEmbedder()); "
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark over exec.
        "status = open('/proc/self/status').read(); "
        "peak = int(status.split('VmHWM:')[1].split()[0]); "
        "print(json.dumps({**r.to_dict(), 'peak_kb': peak}))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(docs), str(tmp_path / "index")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    peak_mb = report["peak_kb"] / 1024
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["zero.txt"] == "empty file"
    assert "binary" in skipped["binary.txt"]
    assert "UTF-8" in skipped["invalid-utf8.md"]
    assert "too large" in skipped["huge.txt"]
    assert "PDF" in skipped["corrupt.pdf"]
    assert "outside" in skipped["link-out.txt"]
    assert report["documents"] == 3  # the seed, the nested HTML and the oddly named file
    assert not any("secret" in path or "dir-link-out" in path for path in skipped)
    from qa.stores.faiss_store import FaissStore

    snapshot = FaissStore(tmp_path / "index").open()
    assert snapshot.doc_ids() == sorted([SEED_DOC, "nested.html", "name with spaces é ü 漢字.md"])
    assert snapshot.document("nested.html").text == "Deep inside text."
    assert all("Secret" not in (snapshot.document(d).text) for d in snapshot.doc_ids())
    assert peak_mb < 400, f"build peaked at {peak_mb:.0f} MB"


def looping_pdf() -> bytes:
    """A PDF whose page tree holds itself among its kids, with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 712 Td (Loop text) Tj ET\nendstream",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def blank_pdf(path: Path, pages: int) -> None:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(612, 792)
    document.save(path)
    document.close()


def hostile_files(docs: Path) -> None:
    """The files of issue 32 that a build must survive, beside the seed article."""
    words = " ".join(f"word{i % 997}" for i in range(400_000))  # ~3.5 MB, no line break
    (docs / "one-line.txt").write_text(words)
    (docs / "deep.html").write_text("<div>" * 100_000 + "Deep text." + "</div>" * 100_000)
    write_zip_bomb_docx(docs / "zip-bomb.docx", 120)
    write_entity_bomb_docx(docs / "laughs.docx")
    (docs / "laughs.html").write_text(entity_bomb_html())
    blank_pdf(docs / "blank-pages.pdf", 3000)
    (docs / "looping.pdf").write_bytes(looping_pdf())
    (docs / "changing.txt").write_text("It changes while it is read. " * 1000)
    (docs / "zz-deleted.txt").write_text("This file is deleted while the build runs.")
    os.symlink(docs / "loop-b.txt", docs / "loop-a.txt")
    os.symlink(docs / "loop-a.txt", docs / "loop-b.txt")


def tree(root: Path) -> set[str]:
    """Every path under `root` but the docs folder, the index folder and the docs' .trash."""
    keep = ("docs", "index")
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.relative_to(root).parts[0] not in keep}  # fmt: skip


def test_a_server_survives_a_hostile_build_and_answers_throughout(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    env = {"QA_FILE_SECONDS": "20", "QA_FILE_MEMORY_MB": "768"}
    server = start_server(docs, tmp_path / "index", env=env)
    try:
        wait_ready(server.url)
        hostile_files(docs)
        before = tree(tmp_path)
        stop, errors, answered = threading.Event(), [], [0]
        asking = threading.Thread(target=hammer, args=(server.url, stop, errors, answered))
        changing = threading.Thread(target=keep_changing, args=(docs / "changing.txt", stop))
        asking.start()
        changing.start()
        deleting = threading.Thread(target=delete_once_reading, args=(server.url, docs))
        deleting.start()
        started = time.monotonic()
        response = httpx.post(server.url + "/index/rebuild", timeout=300)
        took = time.monotonic() - started
        stop.set()
        for thread in (asking, changing, deleting):
            thread.join(30)
        assert response.status_code == 200, response.text
        report = response.json()
        skipped = {s["path"]: s["reason"] for s in report["skipped"]}
        print_table(report, skipped, took)
        print(f"/ask during the build: {answered[0]} answered, {len(errors)} errors")
        assert "unpacks to" in skipped["zip-bomb.docx"]
        assert "entities" in skipped["laughs.docx"] and "entities" in skipped["laughs.html"]
        assert skipped["blank-pages.pdf"] == "no text found in file"
        assert "PDF" in skipped["looping.pdf"]
        assert "cannot follow" in skipped["loop-a.txt"] and "cannot follow" in skipped["loop-b.txt"]
        indexed = set(httpx.get(server.url + "/documents", timeout=10).text.split('"doc_id"'))
        assert any("one-line.txt" in part for part in indexed)
        assert any("deep.html" in part for part in indexed)
        assert not errors, errors[:3]
        assert answered[0] > 0
        assert tree(tmp_path) == before, "written outside the docs and index folders"
        status = httpx.get(server.url + "/health", timeout=10).json()
        assert status["status"] == "ok"
        assert server_rss_mb(server.process.pid) < 600
        assert not torch_loaded(server.process.pid)
    finally:
        server.stop()


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(url + "/health", timeout=5).json()["status"] != "ok":
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.2)


def hammer(url: str, stop: threading.Event, errors: list, answered: list) -> None:
    """Ask questions until `stop`; every reply that is not a 200 is an error."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            try:
                reply = client.post(url + "/ask", json={"question": "When did Luxon take office?"})
                if reply.status_code != 200:
                    errors.append(f"{reply.status_code} {reply.text[:200]}")
                else:
                    answered[0] += 1
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            time.sleep(0.05)


def keep_changing(path: Path, stop: threading.Event) -> None:
    """Rewrite `path` again and again until `stop` (a file that changes while it is read)."""
    n = 0
    while not stop.is_set():
        n += 1
        path.write_text(f"Version {n}. " + "It changes while it is read. " * 1000)
        time.sleep(0.01)


def delete_once_reading(url: str, docs: Path) -> None:
    """Delete zz-deleted.txt once the build is reading files (it comes last)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if httpx.get(url + "/index/status", timeout=5).json()["stage"] == "reading":
            break
        time.sleep(0.02)
    (docs / "zz-deleted.txt").unlink()


def server_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def torch_loaded(pid: int) -> bool:
    """Whether process `pid` has torch's libraries mapped (it imported torch)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def print_table(report: dict, skipped: dict[str, str], took: float) -> None:
    """The hostile-file table, in the test's output (pytest -s shows it)."""
    print(f"\nbuild took {took:.1f} s; {report['documents']} documents, {report['chunks']} chunks")
    for path, reason in sorted(skipped.items()):
        print(f"  skipped  {path}: {reason}")
    print("  (every other file indexed)")
