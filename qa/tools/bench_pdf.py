"""`qa bench`'s `pdf` part: how fast PDFs are read and indexed, and where a build's time goes.

In: a folder of PDFs (default `../shared/eval/pdfs/`) and optionally a page count N. Out: a dict
with `extract` (every PDF extracted in this process: pages, seconds, pages/s, the slowest
files) and `build` (a fresh `qa index --json` process on the folder: wall seconds, the
report's per-phase `timings` and each phase's `shares` of the process's wall time, `startup`
being the part outside the refresh: interpreter and imports). With N, the build runs on the
PDFs repeated under other names (hard links, or copies where links fail) until the folder
holds at least N pages: issue 31's "1,000 pages within 10 minutes" check (`within_target`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from qa.tools.bench_base import BenchConfig

PDFS_DEFAULT = Path("../shared/eval/pdfs")
TARGET_PAGES = 1000
TARGET_SECONDS = 600.0  # 1,000 pages within 10 minutes


def page_count(path: Path) -> int:
    """The number of pages of a PDF (0 when it cannot be read)."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(path)
    except Exception:  # noqa: BLE001 - a broken file counts no pages; the build skips it
        return 0
    try:
        return len(document)
    finally:
        document.close()


def pdfs_of(folder: Path) -> list[Path]:
    """The PDFs directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())


def repeated_folder(source: Path, target: Path, pages: int) -> tuple[Path, int]:
    """`target` holding `source`'s PDFs as `copyK-NAME` (K = 1, 2, ...) until they add up to at
    least `pages` pages; reused when already so. Returns the folder and its page count."""
    files = [(p, page_count(p)) for p in pdfs_of(source)]
    if sum(n for _, n in files) == 0:
        raise ValueError(f"no readable PDF in {source}")
    wanted: list[tuple[Path, str]] = []
    total, copy = 0, 0
    while total < pages:
        copy += 1
        for path, count in files:
            if total >= pages:
                break
            wanted.append((path, f"copy{copy}-{path.name}"))
            total += count
    target.mkdir(parents=True, exist_ok=True)
    names = {name for _, name in wanted}
    for stale in target.iterdir():
        if stale.name not in names:
            stale.unlink()
    for path, name in wanted:
        link = target / name
        if not link.exists():
            try:
                os.link(path, link)
            except OSError:
                shutil.copyfile(path, link)
    return target, total


def bench_extract(folder: Path) -> dict:
    """Every PDF of `folder` extracted in this process, as the indexer reads it."""
    from qa.documents import ExtractionError, load, scan

    sources, _ = scan(folder)
    per_file, pages, failed = [], 0, []
    started = time.perf_counter()
    for source in sources:
        if source.path.suffix.lower() != ".pdf":
            continue
        began = time.perf_counter()
        try:
            document = load(source)
        except ExtractionError as exc:
            failed.append({"doc_id": source.doc_id, "reason": str(exc)})
            continue
        count = len(document.pages) or page_count(source.path)
        pages += count
        per_file.append((time.perf_counter() - began, count, source.doc_id))
    seconds = time.perf_counter() - started
    slowest = sorted(per_file, reverse=True)[:3]
    return {
        "files": len(per_file),
        "pages": pages,
        "seconds": round(seconds, 3),
        "pages_per_second": round(pages / seconds, 2) if seconds else None,
        "seconds_per_page": round(seconds / pages, 4) if pages else None,
        "slowest": [{"doc_id": d, "pages": n, "seconds": round(s, 3)} for s, n, d in slowest],
        "failed": failed,
    }


def bench_build_pdfs(config: BenchConfig, folder: Path, pages: int) -> dict:
    """A fresh `qa index --json` process on `folder` (a new index): its wall time, the
    report's phase timings and their shares of that time."""
    from qa.tools.bench_base import subprocess_index

    index = config.work / f"pdf-index-{folder.name}"
    shutil.rmtree(index, ignore_errors=True)
    run = (config.run_index or subprocess_index)(folder, index)
    shutil.rmtree(index, ignore_errors=True)
    timings = dict(run.report.get("timings") or {})
    timings["startup"] = round(max(run.seconds - float(run.report["seconds"]), 0.0), 3)
    return {
        "pages": pages,
        "seconds": run.seconds,
        "pages_per_second": round(pages / run.seconds, 2) if run.seconds else None,
        "seconds_per_1000_pages": round(run.seconds / pages * TARGET_PAGES, 1) if pages else None,
        "documents": run.report["documents"],
        "chunks": run.report["chunks"],
        "peak_rss_mb": run.peak_rss_mb,
        "in_process_seconds": run.report["seconds"],
        "timings": timings,
        "shares": {k: round(v / run.seconds, 4) for k, v in timings.items()} if run.seconds else {},
        "skipped": run.report.get("skipped", []),
    }


def bench_pdf(config: BenchConfig) -> dict:
    """The part: extraction on the folder itself, then a build on it, or with
    `config.pdf_pages` on the folder repeated to that many pages (the target's check)."""
    source = config.pdfs or PDFS_DEFAULT
    if not source.is_dir():
        raise ValueError(f"PDF folder {source} not found; pass --pdfs DIR")
    config.log(f"pdf: extracting every PDF of {source}...")
    result: dict = {"folder": str(source), "extract": bench_extract(source)}
    folder, pages = source, result["extract"]["pages"]
    if config.pdf_pages:
        folder, pages = repeated_folder(
            source, config.work / f"pdfs-{config.pdf_pages}", config.pdf_pages
        )
        result["repeated_to_pages"] = pages
    config.log(f"pdf: building an index of {pages} pages ({folder})...")
    build = bench_build_pdfs(config, folder, pages)
    result["build"] = build
    if pages >= TARGET_PAGES:
        result["within_target"] = build["seconds"] / pages * TARGET_PAGES <= TARGET_SECONDS
    return result


def pdf_lines(part: dict) -> list[str]:
    """The part as lines of `qa bench`'s table."""
    extract, build = part["extract"], part["build"]
    lines = [
        f"PDF extraction: {extract['pages']} pages in {extract['seconds']:.1f} s "
        f"({extract['pages_per_second']} pages/s)",
        f"PDF build: {build['pages']} pages in {build['seconds']:.1f} s "
        f"({build['seconds_per_1000_pages']} s per 1,000 pages; target {TARGET_SECONDS:.0f})",
    ]
    shares = ", ".join(f"{k} {v:.0%}" for k, v in build["shares"].items())
    lines.append(f"  build time: {shares}")
    return lines


def pdf_targets(part: dict) -> list[tuple[str, float, float, str]]:
    """Issue 31's targets as (name, value, limit, unit): extraction under 10% of the build,
    and (on a folder of 1,000 pages or more) the build within 10 minutes per 1,000 pages."""
    build = part["build"]
    rows = [("PDF build: extraction share", build["shares"].get("extracting", 0.0), 0.10, "")]
    if build["pages"] >= TARGET_PAGES:
        rows.append(("PDF build: s per 1,000 pages", build["seconds_per_1000_pages"],
                     TARGET_SECONDS, "s"))  # fmt: skip
    return rows
