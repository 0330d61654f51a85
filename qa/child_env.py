"""The environment of the helper processes a build starts (`qa.build_process`,
`qa.file_worker`, `qa.build_helper`).

In: this process's environment and `sys.path`, and extra variables. Out: the child's
environment, whose `PYTHONPATH` starts with this process's `sys.path`, so the child imports the
same modules and can unpickle whatever this process sends it (a token counter, an embedder),
whatever its working folder: what `multiprocessing`'s spawn does for its children.
"""

from __future__ import annotations

import os
import sys


def child_env(**extra: str) -> dict[str, str]:
    """`os.environ` plus `extra`, with this process's import path first on `PYTHONPATH`."""
    paths = [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)]
    inherited = os.environ.get("PYTHONPATH")
    if inherited:
        paths.append(inherited)
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(paths)}
