"""Offline question answering over a folder of documents."""

import os

# OpenMP threads (torch, faiss) that spin while waiting for each other are several times slower on a
# busy 2-core machine (docs/performance.md, "Figures behind the code"). Waiting passively costs next
# to nothing when the machine is idle. It must be set before torch or faiss is imported; a value set
# by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# No library telemetry and no files outside the product's folders (see qa/offline.py): it
# must happen before onnxruntime is imported, which reads its setting once, at import.
from qa import offline  # noqa: E402

offline.apply()
