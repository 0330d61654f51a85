"""No library telemetry (qa/offline.py): the variables are set before any import, and a value
the user set wins."""

from __future__ import annotations

import os
import subprocess
import sys

from qa import offline


def test_apply_sets_what_the_user_did_not(monkeypatch) -> None:
    for name in offline.QUIET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "0")  # the user's choice
    offline.apply()
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "0"


def test_importing_qa_turns_telemetry_off_before_onnxruntime_is_imported() -> None:
    env = {k: v for k, v in os.environ.items() if k not in offline.QUIET}
    code = (
        "import os, sys, qa; assert 'onnxruntime' not in sys.modules; "
        "print(os.environ['ORT_DISABLE_TELEMETRY'], os.environ['HF_HUB_DISABLE_TELEMETRY'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]


def test_the_onnxruntime_it_returns_can_make_sessions() -> None:
    assert hasattr(offline.onnxruntime(), "InferenceSession")
