"""Offline question answering over a folder of documents."""

import os

# OpenMP threads (torch, faiss) that spin while waiting for each other are 3-5x slower on a
# busy 2-core machine (measured: one question 96-489 ms instead of 17 ms; a batch 9.1 s instead
# of 2.9 s). Waiting passively costs next to nothing when the machine is idle. It must be set
# before torch or faiss is imported; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
