"""Nothing is written outside the product's folders: `qa index`, `qa ask` and `qa serve` (one
question over HTTP, then SIGTERM), with the real model, run with HOME pointed at an empty
folder and QA_CACHE_DIR inside it; afterwards HOME holds QA_CACHE_DIR and nothing else.

What this catches: onnxruntime's telemetry (a device id and an event queue under
`~/.cache/Microsoft/DeveloperTools/`), and any library cache (Hugging Face, torch, spaCy,
matplotlib) that would land in HOME. onnxruntime keeps quiet on its own where it thinks it
runs in CI, so the variables it looks for are removed from the commands' environment: the
test must be able to fail there too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import SEED_DOC, SEEDS
from tests.support.live_server import free_port

pytestmark = [pytest.mark.model]

QA = Path(sys.executable).parent / "qa"
QUESTION = "When did Luxon take office?"
# onnxruntime 1.32 collects nothing when one of these is set (it takes them for CI).
CI_MARKERS = (
    "CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
    "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
    "ORT_RUNNING_UNIT_TESTS",
)  # fmt: skip
# Settings that would move a library's files away from HOME, or turn telemetry off for us.
MOVERS = (
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HF_HOME", "HF_HUB_CACHE",
    "TRANSFORMERS_CACHE", "SENTENCE_TRANSFORMERS_HOME", "TORCH_HOME", "MPLCONFIGDIR",
    "ORT_DISABLE_TELEMETRY", "HF_HUB_DISABLE_TELEMETRY",
)  # fmt: skip


def everything_under(home: Path, kept: Path) -> list[str]:
    """Every path under `home` but `kept` and what is inside it, relative to `home`."""
    found = []
    for path in sorted(home.rglob("*")):
        if path == kept or kept in path.parents:
            continue
        found.append(path.relative_to(home).as_posix())
    return found


def test_index_ask_and_serve_write_nothing_in_home_but_the_cache(tmp_path: Path) -> None:
    home, docs, index = tmp_path / "home", tmp_path / "docs", tmp_path / "index"
    cache = home / "qa-cache"
    home.mkdir()
    docs.mkdir()
    shutil.copy(SEEDS / SEED_DOC, docs / SEED_DOC)
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS + MOVERS}
    env.update(HOME=str(home), QA_CACHE_DIR=str(cache), QA_ADMIN_TOKEN="")
    folders = ["--docs", str(docs), "--index", str(index)]

    def run(*args: str) -> None:
        done = subprocess.run([str(QA), *args, *folders], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, f"qa {args[0]} failed:\n{done.stderr[-3000:]}"

    run("index")
    run("ask", QUESTION)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(QA), "serve", *folders, "--port", str(port)], env=env,
                                  cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        answer = _ask_when_ready(f"http://127.0.0.1:{port}", server, log)
        assert answer["outcome"] in {"answer", "candidates"} and answer["citations"], answer
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    stray = everything_under(home, cache)
    assert stray == [], f"written under HOME outside QA_CACHE_DIR: {stray}"
    assert cache.is_dir()  # the cache did go where it was told (the ONNX export)


def _ask_when_ready(base: str, server: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"qa serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                answer: dict = httpx.get(f"{base}/ask", params={"q": QUESTION}, timeout=60).json()
                return answer
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"qa serve was not ready in 240 s:\n{log.read_text()[-3000:]}")
