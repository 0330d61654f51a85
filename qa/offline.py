"""Keep the product's writes inside its own folders: no library telemetry, no stray caches.

In: the environment, before any third-party library is imported (`qa/__init__.py` calls
`apply()` first thing). Out: `apply()` sets the variables below unless the user set them;
`onnxruntime()` the onnxruntime module with its telemetry events off as well.

Measured on Linux (`tests/system/test_no_home_writes.py`, with an empty HOME): onnxruntime
1.32 writes a device id and an event queue under `~/.cache/Microsoft/DeveloperTools/` when
its environment is created, on import; `ORT_DISABLE_TELEMETRY=1` set before the import stops
that, while `onnxruntime.disable_telemetry_events()` alone does not (it runs too late).
"""

from __future__ import annotations

import os
from types import ModuleType

QUIET = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime: no device id, no event queue, no upload
    "HF_HUB_DISABLE_TELEMETRY": "1",  # huggingface_hub: no usage pings (also offline anyway)
}


def apply() -> None:
    """Set the variables of `QUIET` that the user has not set."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)


def onnxruntime() -> ModuleType:
    """The onnxruntime module, imported after `apply()`, with its telemetry events off."""
    apply()
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort
