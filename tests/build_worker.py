"""A build run in its own process, for crash tests: `python -m tests.build_worker DOCS INDEX`.

Uses the fake embedder so the build is fast and its phases (scan, embed, write, switch) are
spread over time evenly enough for a kill to land in each of them.
"""

import sys
from pathlib import Path

from qa.faiss_store import FaissStore
from qa.indexer import refresh
from tests.conftest import FakeEmbedder

if __name__ == "__main__":
    report = refresh(Path(sys.argv[1]), FaissStore(Path(sys.argv[2])), FakeEmbedder())
    print(report.documents, flush=True)
