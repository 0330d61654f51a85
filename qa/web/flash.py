"""What a form post did, kept for the page it redirects to (post/redirect/get).

In: the result of a library form (what was saved, refused or removed; an error). Out:
`FLASHES.put(result)` -> a random key for the redirect's query string (`/library?done=KEY`),
and `FLASHES.get(key)` -> that result, for `FLASH_SECONDS`, or None. A reload of the
redirected page shows the result again and posts nothing. Kept in this process's memory,
at most `MAX_FLASHES` (the oldest go first); the key is unguessable, so only the browser
that posted sees the result.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

FLASH_SECONDS = 600.0
MAX_FLASHES = 500


class Flashes:
    """Results of form posts by random key, each for `seconds`; thread-safe."""

    def __init__(
        self,
        seconds: float = FLASH_SECONDS,
        limit: int = MAX_FLASHES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.limit, self.clock = seconds, limit, clock
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, result: dict[str, Any]) -> str:
        """Keep `result`; returns its key (URL-safe, 22 characters)."""
        key = secrets.token_urlsafe(16)
        with self._lock:
            now = self.clock()
            while self._items and (
                len(self._items) >= self.limit or next(iter(self._items.values()))[0] <= now
            ):
                self._items.popitem(last=False)
            self._items[key] = (now + self.seconds, result)
        return key

    def get(self, key: str | None) -> dict[str, Any] | None:
        """The result kept as `key`, or None when unknown or expired."""
        if not key:
            return None
        with self._lock:
            item = self._items.get(key)
        if item is None or item[0] <= self.clock():
            return None
        return item[1]


FLASHES = Flashes()
