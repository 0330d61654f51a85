"""The product's import graph, read from its source: which `qa` module imports which.

In: the `qa` package folder. Out: `modules()` (every module's dotted name) and `graph()`
({module: set of qa modules it imports}, counting imports inside functions too, since a lazy
import is still a dependency). `python -m tests.support.imports` prints the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "qa"


def modules() -> list[str]:
    """Every module of the `qa` package, packages' `__init__` included, as dotted names."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def graph() -> dict[str, set[str]]:
    """{module: the qa modules it imports}; `from qa.x import y` counts as `qa.x.y` when
    `qa.x.y` is a module, else as `qa.x`."""
    known = set(modules())
    edges: dict[str, set[str]] = {}
    for name in known:
        path = _path_of(name)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        edges[name] = {_owner(t, known) for t in targets if _owner(t, known)} - {name}
    return edges


def _owner(target: str, known: set[str]) -> str:
    """The qa module `target` names: itself, or its longest known prefix; '' if not qa."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known and candidate != "qa":
            return candidate
    return ""


def _path_of(name: str) -> Path:
    base = PACKAGE.parent.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


if __name__ == "__main__":
    for module, imported in sorted(graph().items()):
        print(f"{module} -> {', '.join(sorted(imported)) or '-'}")
