"""Offline question answering over a folder of documents.

The Python API (docs/python-api.md):

    from qa import Assistant

    with Assistant.open("seeds") as assistant:
        print(assistant.ask("What will Japan and New Zealand share?").answer)

`import qa` stays cheap: the names below are imported from their modules on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (torch, faiss) that spin while waiting for each other are several times slower on a
# busy 2-core machine (docs/performance.md, "Figures behind the code"). Waiting passively costs next
# to nothing when the machine is idle. It must be set before torch or faiss is imported; a value set
# by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# No library telemetry and no files outside the product's folders (see qa/offline.py): it
# must happen before onnxruntime is imported, which reads its setting once, at import.
from qa import offline  # noqa: E402

offline.apply()

if TYPE_CHECKING:
    from qa.answer import Answer, Citation
    from qa.assistant import Assistant, ReadOnlyStore
    from qa.indexer import DocsFolderError, IndexReport, Progress, TooManyRemovals
    from qa.stores.base import DocumentInfo, IndexProblem
    from qa.version import __version__

# name -> the module that defines it
_EXPORTS = {
    "Assistant": "qa.assistant",
    "ReadOnlyStore": "qa.assistant",
    "Answer": "qa.answer",
    "Citation": "qa.answer",
    "IndexReport": "qa.indexer",
    "Progress": "qa.indexer",
    "DocsFolderError": "qa.indexer",
    "TooManyRemovals": "qa.indexer",
    "DocumentInfo": "qa.stores.base",
    "IndexProblem": "qa.stores.base",
    "__version__": "qa.version",
}
__all__ = [  # the stable names (semver); the same as _EXPORTS' keys
    "Answer",
    "Assistant",
    "Citation",
    "DocsFolderError",
    "DocumentInfo",
    "IndexProblem",
    "IndexReport",
    "Progress",
    "ReadOnlyStore",
    "TooManyRemovals",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """The public names, imported from their modules when first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
