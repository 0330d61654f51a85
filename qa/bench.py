"""`qa bench`: measure build, refresh, answer and HTTP costs against the model's own limit."""

from __future__ import annotations

import click


@click.command("bench")
def bench_command() -> None:
    """Benchmark the product against bare model encoding measured in the same run."""
    raise click.ClickException("not implemented yet")
