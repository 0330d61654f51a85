"""`qa serve` in its own process with the fake embedder, for load and shutdown tests:

    python -m tests.support.serve_worker DOCS INDEX PORT [--watch]

Everything but the model is the real product: the click CLI, `qa.web.app.run`, uvicorn, the
`qa` pipeline and the FAISS store. For tests that must land a signal inside some step,
environment variables slow steps down (seconds): `QA_FAKE_BUILD_DELAY` per batch encode (a
build), `QA_FAKE_QUERY_DELAY` per single-text encode (a question), `QA_FAKE_WRITE_DELAY` per
index file flushed to disk (writing a generation).
"""

import os
import sys

import qa.build_process
import qa.pipeline
import qa.stores.faiss_store
from qa.cli import main
from tests.support.fakes import SlowFakeEmbedder, slow_fsync

if __name__ == "__main__":
    build = float(os.environ.get("QA_FAKE_BUILD_DELAY", "0"))
    query = float(os.environ.get("QA_FAKE_QUERY_DELAY", "0"))
    write = float(os.environ.get("QA_FAKE_WRITE_DELAY", "0"))
    qa.pipeline.SentenceTransformerEmbedder = lambda name, **_: SlowFakeEmbedder(build, query)  # type: ignore[assignment]
    if write:
        qa.stores.faiss_store._fsync_file = slow_fsync(write)  # type: ignore[assignment]
    # The server's builds run in a child process: the same slow-downs there.
    qa.build_process.ChildBuild.command = (sys.executable, "-m", "tests.support.build_child")
    docs, index, port, *rest = sys.argv[1:]
    main(["serve", "--docs", docs, "--index", index, "--port", port, *rest])
