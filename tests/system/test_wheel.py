"""The product as a new user installs it: the wheel, installed (not editable) into a fresh
virtual environment, answers from a folder outside the checkout, on the CLI, the page and
`/ask`; the wheel carries its templates, static files and weights and no top-level `server` or
`web`; a missing data file is a clear error at start.

The new environment reuses the test environment's installed dependencies (a path entry, so
their `.pth` hooks, the checkout's editable install among them, stay off): offline, no
downloads. Uses the real model.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import ROOT, SEED_DOC, SEEDS

pytestmark = pytest.mark.model

QUESTION = "When did Luxon take office?"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (path,) = out.glob("qa_assistant-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed; dependencies from this one."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)}))
    (site / "reuse-test-env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder outside the checkout holding `docs/` with the seed article."""
    (tmp_path / "docs").mkdir()
    shutil.copy(SEEDS / SEED_DOC, tmp_path / "docs" / SEED_DOC)
    return tmp_path


def qa(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(venv / "bin" / "qa"), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_the_wheel_carries_its_data_and_no_top_level_server_or_web(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("qa_assistant-")}
    assert tops == {"qa"}
    needed = [
        "qa/scoring.json", "qa/webfiles/templates/answer.txt.j2",
        "qa/webfiles/templates/index.html", "qa/webfiles/static/style.css", "qa/web/app.py",
        "qa/stores/faiss_store.py", "qa/tools/evaluate.py", "qa/reader_model/reader.int8.onnx",
        "qa/reader_model/reader.json", "qa/reader_model/tokenizer.json",
    ]  # fmt: skip
    assert not [name for name in needed if name not in names]


def test_the_installed_version_is_the_wheels(venv: Path, wheel: Path, workdir: Path) -> None:
    """Outside the checkout the version comes from the installed metadata."""
    version = wheel.name.split("-")[1]
    shown = qa(venv, workdir, "--version")
    assert shown.returncode == 0 and shown.stdout == f"qa {version}\n"
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_installed_qa_indexes_and_answers_outside_the_checkout(
    venv: Path, workdir: Path
) -> None:
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import qa; print(qa.__file__)"],
        cwd=workdir, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert str(venv) in imported.stdout and str(ROOT) not in imported.stdout
    built = qa(venv, workdir, "index", "--docs", "docs", "--index", "idx", "--json")
    assert built.returncode == 0, built.stderr[-2000:]
    assert json.loads(built.stdout)["documents"] == 1
    asked = qa(venv, workdir, "ask", QUESTION, "--docs", "docs", "--index", "idx", "--json")
    assert asked.returncode == 0, asked.stderr[-2000:]
    answer = json.loads(asked.stdout)
    text = (workdir / "docs" / SEED_DOC).read_text(encoding="utf-8")
    assert answer["outcome"] in {"answer", "candidates"}
    assert "2023" in answer["citations"][0]["quote"]
    for citation in answer["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_the_installed_qa_serves_the_page_and_ask(venv: Path, workdir: Path) -> None:
    assert qa(venv, workdir, "index", "--docs", "docs", "--index", "idx").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen(
        [str(venv / "bin" / "qa"), "serve", "--docs", "docs", "--index", "idx", "--port",
         str(port)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed server never became ready"
            time.sleep(0.5)
        answer = httpx.post(f"{base}/ask", json={"question": QUESTION}, timeout=60).json()
        assert answer["outcome"] in {"answer", "candidates"} and answer["citations"]
        page = httpx.get(f"{base}/", params={"q": QUESTION}, timeout=60)
        assert page.status_code == 200 and answer["citations"][0]["quote"][:40] in page.text
        assert httpx.get(f"{base}/static/style.css", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("broken", ["webfiles/templates", "scoring.json"])
def test_a_missing_data_file_is_a_clear_error_at_start(
    venv: Path, workdir: Path, tmp_path: Path, broken: str
) -> None:
    copy = tmp_path / "broken-env"
    shutil.copytree(venv, copy, symlinks=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(copy), "platbase": str(copy)}))
    target = site / "qa" / broken
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    for command in (["ask", QUESTION], ["serve", "--port", "1"]):
        result = subprocess.run(
            [str(copy / "bin" / "python"), "-m", "qa.cli", *command, "--docs", "docs",
             "--index", "idx"],
            cwd=workdir, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr[-2000:]
        assert "reinstall" in result.stderr and "Traceback" not in result.stderr


def test_the_tools_run_from_the_installed_wheel_with_the_extra(venv: Path, workdir: Path) -> None:
    """`qa eval`, `qa bench` and `qa train` come from `qa.tools` inside the wheel (the test
    environment has the `eval` extra's packages)."""
    for command in (["eval", "--help"], ["bench", "--help"], ["train", "--help"]):
        result = qa(venv, workdir, *command)
        assert result.returncode == 0, result.stderr[-2000:]
    listed = qa(venv, workdir, "eval", "--help").stdout
    assert all(name in listed for name in ("squad", "beir", "fit"))
