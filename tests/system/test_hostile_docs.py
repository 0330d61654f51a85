"""A hostile docs folder: every bad file is skipped with a reason, the build completes, and
memory stays bounded (the build runs in its own process so its peak RSS can be read)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.fakes import ROOT, SEED_DOC, SEEDS


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
