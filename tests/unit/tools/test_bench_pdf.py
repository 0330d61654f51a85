"""`qa bench`'s pdf part (qa/tools/bench_pdf.py): the repeated folder, extraction figures, the
build's phase timings and shares, and its targets; with the fake embedder, in process."""

from __future__ import annotations

from pathlib import Path

from qa.tools.bench import _parts, table, targets
from qa.tools.bench_base import BenchConfig
from qa.tools.bench_pdf import bench_pdf, page_count, repeated_folder
from tests.support.fakes import FakeEmbedder
from tests.support.helpers import write_paged_pdf
from tests.unit.tools.test_bench import in_process_runner


def _pdfs(folder: Path) -> Path:
    folder.mkdir()
    write_paged_pdf(folder / "a.pdf", [["Alpha one."], ["Alpha two."], ["Alpha three."]])
    write_paged_pdf(folder / "b.pdf", [["Beta one."], ["Beta two."]])
    return folder


def test_repeated_folder_reaches_the_page_count_under_new_names(tmp_path: Path) -> None:
    source = _pdfs(tmp_path / "src")
    folder, pages = repeated_folder(source, tmp_path / "rep", 11)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["copy1-a.pdf", "copy1-b.pdf", "copy2-a.pdf", "copy2-b.pdf", "copy3-a.pdf"]
    assert pages == 13 == sum(page_count(p) for p in folder.iterdir())
    again, _ = repeated_folder(source, tmp_path / "rep", 4)  # reused, the extra ones gone
    assert sorted(p.name for p in again.iterdir()) == ["copy1-a.pdf", "copy1-b.pdf"]


def test_pdf_part_reports_pages_per_second_phases_and_targets(tmp_path: Path) -> None:
    source = _pdfs(tmp_path / "src")
    config = BenchConfig(
        docs=tmp_path, questions=[], work=tmp_path / "work", parts=frozenset({"pdf"}),
        run_index=in_process_runner(FakeEmbedder()), pdfs=source, pdf_pages=8,
    )  # fmt: skip
    part = bench_pdf(config)
    assert (part["extract"]["files"], part["extract"]["pages"]) == (2, 5)
    assert part["extract"]["pages_per_second"] > 0
    build = part["build"]
    assert part["repeated_to_pages"] == build["pages"] == 8 and build["documents"] == 3
    assert {"extracting", "chunking", "embedding", "writing", "startup"} <= set(build["timings"])
    assert 0.5 < sum(build["shares"].values()) <= 1.01
    names = [t["name"] for t in targets({"pdf": part})]
    assert names == ["PDF build: extraction share"]
    lines = table({"machine": {"cpus": 1, "cpu_model": "x", "memory_gb": 1,
                               "load_average": 0}, "pdf": part, "targets": []})  # fmt: skip
    assert "pages/s" in lines and "extracting" in lines


def test_pdf_options_alone_select_only_the_pdf_part() -> None:
    assert _parts(None, None, pdf=True) == {"pdf"}
    assert _parts("build,pdf", None, pdf=True) == {"build", "pdf"}
    assert _parts(None, None) == BenchConfig.parts
