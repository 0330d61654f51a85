"""The documentation's Python examples run: every ```python block of README.md and docs/*.md,
with the real model, so an example that no longer works fails here.

Each block runs in a fresh namespace, in a temporary folder holding a copy of `seeds/`, with
`QA_INDEX_DIR` pointing at an index shared by all blocks (built once, refreshed by each block
that opens the seeds). A block opts out with a visible ```python no-run (one that needs a
Milvus server, say); few may.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.fakes import ROOT, SEEDS

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
OPT_OUT = "no-run"
MOST_OPT_OUTS = 3


@dataclass(frozen=True)
class Block:
    """A fenced code block: the page, the line its fence opens on, its info string, its code."""

    page: Path
    line: int
    info: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def python(self) -> bool:
        words = self.info.split()
        return bool(words) and words[0] in ("python", "py")

    @property
    def runs(self) -> bool:
        return self.python and OPT_OUT not in self.info.split()


def blocks(page: Path) -> list[Block]:
    """Every fenced block of `page` (a fence inside another is not looked for)."""
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m["info"].strip(), m["code"])
        for m in FENCE.finditer(text)
    ]


ALL = [block for page in PAGES for block in blocks(page)]
PYTHON = [block for block in ALL if block.runs]


def test_the_pages_have_examples_to_run() -> None:
    """A check on the collector: the README and the API page hold runnable blocks."""
    pages = {block.page.name for block in PYTHON}
    assert {"README.md", "python-api.md"} <= pages
    assert sum(block.page.name == "python-api.md" for block in PYTHON) >= 4


def test_few_blocks_opt_out() -> None:
    skipped = [block.name for block in ALL if block.python and not block.runs]
    assert len(skipped) <= MOST_OPT_OUTS, skipped


def test_the_collector_reads_fences_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n```python\nx = 1\n```\n\n```bash\nqa ask hi\n```\n\n"
        "```python no-run\nraise SystemExit\n```\n"
    )
    found = blocks(page)
    assert [(b.line, b.runs, b.code) for b in found] == [
        (3, True, "x = 1\n"), (7, False, "qa ask hi\n"), (11, False, "raise SystemExit\n"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs-index") / "index"


@pytest.mark.model
@pytest.mark.parametrize("block", PYTHON, ids=[block.name for block in PYTHON])
def test_the_example_runs(
    block: Block,
    tmp_path: Path,
    shared_index: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    for name in ("QA_DOCS_DIR", "QA_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QA_INDEX_DIR", str(shared_index))
    code = compile(block.code, block.name, "exec")
    exec(code, {"__name__": "__main__"})  # noqa: S102 - the documentation's own examples
    assert capsys.readouterr().out.strip(), f"{block.name} printed nothing"
