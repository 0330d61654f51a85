"""The environment of a build's helper processes (qa/child_env.py): they import what this
process imports, whatever their working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qa.child_env import child_env


def test_this_process_import_path_comes_first_and_an_inherited_one_last(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    env = child_env(EXTRA="1")
    paths = env["PYTHONPATH"].split(os.pathsep)
    assert paths[-1] == "/somewhere/else" and env["EXTRA"] == "1"
    here = [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)]
    assert paths[: len(here)] == here


def test_a_child_in_another_folder_imports_the_test_support_modules(tmp_path: Path) -> None:
    """The file worker's token counter can be a test fake: the child must find `tests`."""
    code = "import tests.support.fakes as f; print(f.SEED_DOC)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=child_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".txt")
