"""Debian's Chromium for the browser tests: where it is, the flags it runs with on this closed
network, and the module-scoped `browser` fixture (registered in tests/conftest.py). Never
`playwright install`: Playwright drives the system's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import require_system_tool

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the test module; missing Chromium fails under CI."""
    require_system_tool(
        CHROMIUM.exists(), f"{CHROMIUM} is missing; install it with `apt-get install chromium`"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
