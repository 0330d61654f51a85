"""The documentation's links: every relative link and image in the README, `docs/` and the
model card points to a file that exists, and every `#anchor` to a heading of the Markdown file
it names (GitHub's heading slugs). Offline and fast: web links are not followed; links inside
code and inside HTML comments (the placeholders filled at merge) are not links."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.fakes import ROOT

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
COMMENT = re.compile(r"<!--.*?-->", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def pages(root: Path = ROOT) -> list[Path]:
    """The Markdown a user reads: the README (and changelog), docs/, the model card."""
    found = [root / name for name in ("README.md", "CHANGELOG.md") if (root / name).is_file()]
    found += sorted((root / "docs").rglob("*.md"))
    found += sorted((root / "qa").rglob("README.md"))
    return found


def prose(markdown: str) -> str:
    """`markdown` without fenced code, inline code and HTML comments."""
    return INLINE_CODE.sub("", COMMENT.sub("", FENCE.sub("", markdown)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor in `markdown`, with GitHub's -1, -2 for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", COMMENT.sub("", markdown))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The links of `page` that point nowhere, each as 'target: why'."""
    text = prose(page.read_text(encoding="utf-8"))
    problems = []
    for target in LINK.findall(text) + HTML_LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        file = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif root.resolve() not in file.parents and file != root.resolve():
            problems.append(f"{target}: outside the repository")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text("utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {file.name}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_image_of_the_documentation_exists(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_and_the_docs_map_are_checked() -> None:
    checked = {p.relative_to(ROOT).as_posix() for p in pages()}
    assert {
        "README.md",
        "docs/README.md",
        "docs/quality.md",
        "qa/reader_model/README.md",
    } <= checked


def test_the_checker_finds_missing_files_images_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Set up `qa` (fast!)\n\nText.\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/guide.md) [ok](docs/guide.md#set-up-qa-fast) [ok](#top-part) "
        "[web](https://example.org/x.md)\n\n# Top part\n\n"
        "[gone](docs/missing.md) ![img](docs/images/none.png) [bad](docs/guide.md#nope) "
        "[self](#nowhere)\n\n`[code](docs/x.md)`\n\n```\n[fenced](docs/y.md)\n```\n"
        "<!-- [comment](docs/z.md) -->\n"
    )
    assert broken_links(page, tmp_path) == [
        "docs/missing.md: no such file",
        "docs/images/none.png: no such file",
        "docs/guide.md#nope: no heading #nope in guide.md",
        "#nowhere: no heading #nowhere in README.md",
    ]


def test_repeated_headings_get_numbered_anchors() -> None:
    assert anchors("# Tests\n\n## Tests\n\n### Tests\n") == {"tests", "tests-1", "tests-2"}
