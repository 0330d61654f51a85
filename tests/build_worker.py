"""`qa index` in its own process with the fake embedder, for crash tests:

    python -m tests.build_worker DOCS INDEX

The fake embedder keeps the build fast, so its phases (scan, embed, write, switch) are spread
over time evenly enough for a kill or SIGTERM to land in each of them.
"""

import sys

import qa.pipeline
from qa.cli import main
from tests.conftest import FakeEmbedder

if __name__ == "__main__":
    qa.pipeline.SentenceTransformerEmbedder = lambda name: FakeEmbedder()  # type: ignore[assignment]
    main(["index", "--docs", sys.argv[1], "--index", sys.argv[2], "--json"])
