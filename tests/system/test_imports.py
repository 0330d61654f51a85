"""The architecture as imports: no cycles, the engine never imports the web wing or the tools,
the web wing never imports the tools, only the `qa` command imports upward (lazily, to start
the server or a tool), and every module imports on its own."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from graphlib import CycleError, TopologicalSorter

import pytest

from tests.support.fakes import ROOT
from tests.support.imports import graph, modules


def layer(module: str) -> str:
    """entry (the `qa` command, which starts the server and the tools), web, tools or engine."""
    if module == "qa.cli":
        return "entry"
    if module.startswith("qa.web"):
        return "web"
    if module.startswith("qa.tools"):
        return "tools"
    return "engine"


def test_the_import_graph_has_no_cycles() -> None:
    try:
        list(TopologicalSorter(graph()).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [("engine", "web"), ("engine", "tools"), ("engine", "entry"), ("web", "tools"),
     ("web", "entry"), ("tools", "web"), ("tools", "entry")],
)  # fmt: skip
def test_layers_import_only_downward(importer: str, forbidden: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(module) == importer and layer(target) == forbidden
    )
    assert not wrong


def test_the_graph_sees_lazy_imports() -> None:
    """A check on the checker: `qa.cli` imports the web app only inside `qa serve`."""
    assert "qa.web.app" in graph()["qa.cli"]


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    def try_import(module: str) -> tuple[str, str]:
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return module, "" if result.returncode == 0 else result.stderr[-600:]

    with ThreadPoolExecutor(4) as pool:
        failures = {m: err for m, err in pool.map(try_import, modules()) if err}
    assert not failures


def test_every_module_of_the_engine_and_the_web_wing_has_a_test_module() -> None:
    """qa/x.py -> tests/unit/test_x.py, qa/stores/x.py -> tests/unit/stores/test_x.py,
    qa/web/x.py -> tests/web/test_x.py (package __init__ files aside)."""
    places = {"qa": "tests/unit", "qa.stores": "tests/unit/stores", "qa.web": "tests/web"}
    names = modules()
    packages = {m for m in names if any(other.startswith(f"{m}.") for other in names)}
    missing = []
    for module in names:
        package, _, name = module.rpartition(".")
        if package in places and module not in packages:
            test = ROOT / places[package] / f"test_{name}.py"
            if not test.is_file():
                missing.append(f"{module}: {test.relative_to(ROOT)}")
    assert not missing
