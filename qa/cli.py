"""The `qa` command: a thin click layer over `qa.assistant.Assistant` (the Python API) and
`qa.pipeline.Assistant` under it.

    qa --version

    qa index [--docs DIR] [--index DIR] [--json]
    qa ask QUESTION|- [--docs DIR] [--index DIR] [--top-k N] [--json]
    qa serve [--docs DIR] [--index DIR] [--host 127.0.0.1] [--port 8000] [--watch]

Every expected failure (missing docs folder, unreadable index, bad question, model missing)
prints one `error: ...` line on stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from qa.config import MAX_TOP_K, Settings


def _friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the product's expected exceptions into one line on stderr and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qa.assistant import ReadOnlyStore
        from qa.embedding import ModelError
        from qa.indexer import DocsFolderError, TooManyRemovals
        from qa.resources import PackageDataError
        from qa.stores.base import IndexProblem

        try:
            return command(*args, **kwargs)
        except (
            DocsFolderError, IndexProblem, ModelError, PackageDataError, ReadOnlyStore,
            TooManyRemovals, ValueError,
        ) as exc:  # fmt: skip
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; the index is unchanged", err=True)
            sys.exit(130)

    return wrapper


def _store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command shares: where documents and the index live."""
    options = [
        click.option("--docs", "docs_dir", type=click.Path(path_type=Path), default=None,
                     help="Documents folder (env QA_DOCS_DIR, default ./seeds)."),
        click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
                     help="Index folder (env QA_INDEX_DIR, default ./index)."),
        click.option("--store", default=None,
                     help="Where chunks live: faiss (default, in --index) or "
                          "milvus://HOST:PORT/COLLECTION (env QA_STORE)."),
        click.option("--allow-removals", is_flag=True, default=None,
                     help="Let a refresh remove more than half of the indexed documents."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _assistant(docs_dir: Path | None, index_dir: Path | None, store: str | None, **extra: Any):  # type: ignore[no-untyped-def]
    from qa.pipeline import Assistant

    return Assistant(_settings(docs_dir, index_dir, store, **extra))


def _settings(
    docs_dir: Path | None, index_dir: Path | None, store: str | None, **extra: Any
) -> Settings:
    """The environment's settings with the command's flags on top (None: not given)."""
    return Settings.from_env(docs_dir=docs_dir, index_dir=index_dir, store=store, **extra)


class _LazyGroup(click.Group):
    """Imports the heavier commands (`eval`, `bench`, `train`) only when they run, so `qa index`
    with nothing to do starts fast."""

    lazy = {
        "eval": "qa.tools.evaluate:eval_group",
        "bench": "qa.tools.bench:bench_command",
        "train": "qa.tools.train_reader:train_group",
    }
    # What the `eval` extra installs; the base install answers and indexes without it.
    extra_modules = ("matplotlib", "aiohttp", "psutil", "httpx", "sklearn", "scipy")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            missing = [m for m in self.extra_modules if importlib.util.find_spec(m) is None]
            if missing:
                raise click.ClickException(
                    f"`qa {name}` needs the evaluation tools, which the base install leaves "
                    f"out ({', '.join(missing)} missing): pip install 'qa-assistant[eval]'"
                )
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


class StagePrinter:
    """Shows a refresh's stages on a terminal's stderr, one line rewritten in place:
    `reading 3 of 10`, `chunking`, `embedding 256 of 1024`, `writing` (what the page's
    progress bar shows)."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, progress: Any) -> None:
        click.echo(f"\r{progress.describe():<40}", nl=False, err=True)
        self.shown = True

    def finish(self) -> None:
        """End the line a terminal was shown."""
        if self.shown:
            click.echo("\r" + " " * 40 + "\r", nl=False, err=True)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`qa --version`: `qa 0.2.0` (the package's version, `qa.version`), then exit."""
    if not value or ctx.resilient_parsing:
        return
    from qa.version import __version__

    click.echo(f"qa {__version__}")
    ctx.exit()


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and exit.")  # fmt: skip
def main() -> None:
    """Answer questions about a folder of documents with cited, verbatim quotes. Offline."""
    signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so a half-written index generation is cleaned up."""
    raise KeyboardInterrupt


@main.command("index")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_friendly_errors
def index_command(
    docs_dir: Path | None,
    index_dir: Path | None,
    store: str | None,
    allow_removals: bool | None,
    as_json: bool,
) -> None:
    """Bring the index up to date with the documents folder (incremental)."""
    assistant = _assistant(docs_dir, index_dir, store, allow_removals=allow_removals)
    stages = StagePrinter() if not as_json and sys.stderr.isatty() else None
    report = assistant.refresh(switch=False, on_progress=stages)
    if stages is not None:
        stages.finish()
    if report.embedded:  # the model is loaded anyway: export the question encoder now
        getattr(assistant.embedder, "prepare_queries", lambda: None)()
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    click.echo(
        f"{report.documents} documents, {report.chunks} chunks: {report.added} added, "
        f"{report.updated} updated, {report.removed} removed, {report.unchanged} unchanged; "
        f"{report.embedded} chunks embedded in {report.seconds:.1f} s"
    )
    if report.reason:
        click.echo(report.reason)
    for skipped in report.skipped:
        click.echo(f"skipped {skipped['path']}: {skipped['reason']}")


@main.command("ask")
@click.argument("question")
@_store_options
@click.option(
    "--top-k",
    type=click.IntRange(1, MAX_TOP_K),
    default=None,
    help="Passages to retrieve (1..20, default 5).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option(
    "--context",
    "with_context",
    is_flag=True,
    help="Print each quote in its context: the sentence before and after it, the quote in «».",
)
@_friendly_errors
def ask_command(
    question: str,
    docs_dir: Path | None,
    index_dir: Path | None,
    store: str | None,
    allow_removals: bool | None,
    top_k: int | None,
    as_json: bool,
    with_context: bool,
) -> None:
    """Answer QUESTION; with `-`, answer one question per line of standard input.

    The local FAISS index is brought up to date first; a shared store (milvus://) only when
    --docs or QA_DOCS_DIR names the folder, else it is answered from as it is."""
    settings = _settings(docs_dir, index_dir, store, top_k=top_k, allow_removals=allow_removals)
    from qa.assistant import Assistant

    assistant = Assistant.from_settings(settings)  # brought up to date, as the API's open()
    for skipped in assistant.last_report.skipped if assistant.last_report else []:
        click.echo(f"skipped {skipped['path']}: {skipped['reason']}", err=True)
    if question != "-":
        result = assistant.ask(question, settings.top_k)
        click.echo(
            json.dumps(result.to_dict(), ensure_ascii=False)
            if as_json
            else _format(result, with_context)
        )
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = assistant.ask(line, settings.top_k)
        except ValueError as exc:
            error = {"question": line.strip(), "error": str(exc)}
            click.echo(json.dumps(error, ensure_ascii=False) if as_json else f"error: {exc}\n")
            continue
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            click.echo(_format(result, with_context) + "\n")


def _format(result, with_context: bool = False) -> str:  # type: ignore[no-untyped-def]
    """A readable answer: the quote(s) (with `candidates`: each with its confidence), then
    numbered sources with their offsets and, `with_context`, each quote in its context."""
    from qa.answer import confidence_words
    from qa.layout import page_label

    outcome = getattr(result, "outcome", "answer" if result.answered else "none")
    if outcome == "none" or not result.citations:
        return f"{result.answer}\n(confidence {result.confidence:.2f})"
    lines = [result.answer, ""]
    if outcome == "candidates":
        lines.append("These passages may answer it:")
        for c in result.citations:
            lines.append(f"  [{c.n}] {c.quote} (confidence {c.confidence:.2f})")
    else:
        short = getattr(result, "short_answer", None)
        if short:
            lines.append(f"short answer: {short.text}")
        lines.append(f"confidence {result.confidence:.2f} ({confidence_words(result.confidence)})")
    lines += ["", "Sources:"]
    for c in result.citations:
        where = [page_label(c.doc_id, c.page)] if c.page else []
        where += [f"section {c.section!r}"] if c.section else []
        where.append(f"characters {c.start}-{c.end}")
        lines.append(f"  [{c.n}] {c.title} ({c.doc_id}, {', '.join(where)})")
        if with_context:
            if getattr(c, "header", None):
                lines.append(f"      table header: {c.header}")
            lines.append(f"      {_in_context(c)}")
    return "\n".join(lines)


def _in_context(citation) -> str:  # type: ignore[no-untyped-def]
    """The citation's context on one line, the quote between « and »."""
    context, lo = citation.context, citation.start - citation.context_start
    hi = lo + len(citation.quote)
    return " ".join(f"{context[:lo]}«{context[lo:hi]}»{context[hi:]}".split())


@main.command("serve")
@_store_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--watch", is_flag=True, help="Rebuild the index when documents change.")
@_friendly_errors
def serve_command(
    docs_dir: Path | None,
    index_dir: Path | None,
    store: str | None,
    allow_removals: bool | None,
    host: str,
    port: int,
    watch: bool,
) -> None:
    """Bring the index up to date (a shared store: only with --docs or --watch), then serve
    the web page and the HTTP API."""
    from qa.web.app import run

    settings = _settings(docs_dir, index_dir, store, allow_removals=allow_removals)
    run(settings, host=host, port=port, watch=watch)


if __name__ == "__main__":
    main()
