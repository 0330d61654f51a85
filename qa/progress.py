"""The one progress bar of the long `qa eval` commands.

In: an iterable, a label, whether to show it (and its length when it has none). Out: the same
items, with a tqdm bar on stderr while they are consumed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def progress_bar(items: Iterable, label: str, show: bool, total: int | None = None):  # type: ignore[no-untyped-def]
    """`items` with a tqdm bar on stderr when `show`; `total` for a generator."""
    from tqdm import tqdm

    return tqdm(items, desc=label, total=total, file=sys.stderr, disable=not show, leave=False)
