"""The checkout's entry point: `python server.py` serves the page and the API.

It does what `qa serve` does with the settings from the environment (`QA_DOCS_DIR`,
`QA_INDEX_DIR`, `QA_STORE`, ...): build the app over `./seeds` and `./index`, run it on
http://127.0.0.1:8000. The app itself lives in `qa.web.app`; this file is not installed.
"""

from __future__ import annotations

from qa.config import Settings
from qa.web.app import create_app, run

__all__ = ["create_app", "main"]


def main() -> None:
    """Serve with the environment's settings on 127.0.0.1:8000 until interrupted."""
    run(Settings.from_env())


if __name__ == "__main__":
    main()
