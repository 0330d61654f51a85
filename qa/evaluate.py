"""`qa eval`: measure the product on public benchmarks (SQuAD, BEIR). Being built (issue 4)."""

from __future__ import annotations

import click


@click.group("eval")
def eval_group() -> None:
    """Measure answer quality on SQuAD v1.1 or a BEIR dataset, next to BM25 and dense baselines."""
