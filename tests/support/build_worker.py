"""`qa index` in its own process with the fake embedder, for crash tests:

    python -m tests.support.build_worker DOCS INDEX

The fake embedder keeps the build fast, so its phases (scan, embed, write, switch) are spread
over time evenly enough for a kill or SIGTERM to land in each of them.
"""

import json
import subprocess
import sys
from pathlib import Path

import qa.pipeline
from qa.cli import main
from tests.support.fakes import ROOT, FakeEmbedder


def run_build(docs: Path, index: Path) -> dict:
    """Run this worker to completion in its own process; its `qa index --json` object."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.build_worker", str(docs), str(index)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    qa.pipeline.SentenceTransformerEmbedder = lambda name, **_: FakeEmbedder()  # type: ignore[assignment]
    main(["index", "--docs", sys.argv[1], "--index", sys.argv[2], "--json"])
