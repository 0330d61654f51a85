"""What one file may cost a build: time and memory to extract and chunk it, and how far a
zip-based file (DOCX) may inflate.

In: environment variables `QA_FILE_SECONDS` (default 60), `QA_FILE_MEMORY_MB` (1024),
`QA_MAX_UNZIPPED_MB` (100) and `QA_MAX_ZIP_RATIO` (100), or keyword values. Out: a frozen
`FileBudget`; a bad value raises ValueError with the variable's name. `qa.file_worker`
enforces the time and memory, `qa.safe_archive` the inflation; a file over any of them is
skipped with its reason and the build goes on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV = {
    "seconds": "QA_FILE_SECONDS",
    "memory_mb": "QA_FILE_MEMORY_MB",
    "unzipped_mb": "QA_MAX_UNZIPPED_MB",
    "zip_ratio": "QA_MAX_ZIP_RATIO",
}


@dataclass(frozen=True)
class FileBudget:
    """Per file: `seconds` of wall-clock time and `memory_mb` of memory (beyond what the
    worker holds before it starts on the file) to extract and chunk it; a zip-based file may
    inflate to `unzipped_mb` in all and to `zip_ratio` times its size."""

    seconds: float = 60.0
    memory_mb: float = 1024.0
    unzipped_mb: float = 100.0
    zip_ratio: float = 100.0

    def __post_init__(self) -> None:
        for name, variable in ENV.items():
            if not getattr(self, name) > 0:
                raise ValueError(f"{variable} must be > 0, got {getattr(self, name)}")

    @property
    def unzipped_bytes(self) -> int:
        return int(self.unzipped_mb * 1024 * 1024)

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_mb * 1024 * 1024)

    def over_time(self) -> str:
        """The skip reason of a file that took too long."""
        return f"extraction took longer than {self.seconds:g} s (QA_FILE_SECONDS)"

    def over_memory(self) -> str:
        """The skip reason of a file that needed too much memory."""
        return f"extraction needed more than {self.memory_mb:g} MB (QA_FILE_MEMORY_MB)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FileBudget:
        """The defaults, with each variable of `ENV` that is set and not empty."""
        values: dict[str, float] = {}
        for name, variable in ENV.items():
            raw = env.get(variable, "").strip()
            if raw:
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise ValueError(f"{variable} must be a number, got {raw!r}") from None
        return cls(**values)
