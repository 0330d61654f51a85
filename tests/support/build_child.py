"""The server's build child (`qa.build_process`) with serve_worker's slow-downs applied:

    QA_FAKE_WRITE_DELAY=1.0 python -m tests.support.build_child   (request on stdin)

The fake embedder travels in the request; the slower index writes are set up here.
"""

import os

import qa.build_process
import qa.stores.faiss_store
from tests.support.fakes import slow_fsync

if __name__ == "__main__":
    write = float(os.environ.get("QA_FAKE_WRITE_DELAY", "0"))
    if write:
        qa.stores.faiss_store._fsync_file = slow_fsync(write)  # type: ignore[assignment]
    qa.build_process.main()
