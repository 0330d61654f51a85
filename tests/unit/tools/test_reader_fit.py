"""The cascade fit's grid on hand-made reads: the reader's logits decide among the candidates
read, the fewest candidates within the tolerance win."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from qa.reader import Cascade
from qa.tools.reader_fit import Read, chosen_depth, chosen_row, fit_grid, sentence_at_1


def _read(cheap: list[float], relevance: list[float], gold: int) -> Read:
    scores = np.array(cheap)
    labels = np.zeros(len(cheap))
    labels[gold] = 1.0
    top = np.argsort(-scores, kind="stable")
    trial = SimpleNamespace(labels=labels)
    return Read(trial, top, scores, np.array(relevance)[top], [None] * len(top))  # type: ignore[arg-type]


def test_the_reader_moves_the_gold_sentence_up_only_when_read() -> None:
    read = _read([3.0, 2.9, 1.0], [-4.0, 4.0, 9.0], gold=1)
    assert chosen_row(read, Cascade(candidates=0))[0] == 0  # off: the cheap score's best
    assert chosen_row(read, Cascade(candidates=2, weight=1.0))[0] == 1
    assert chosen_row(read, Cascade(candidates=2, weight=0.001))[0] == 0
    assert sentence_at_1([read], Cascade(candidates=2)) == 1.0


def test_fit_grid_prefers_fewer_candidates_at_equal_figures() -> None:
    reads = [_read([3.0, 2.9, 1.0], [-4.0, 4.0, 0.0], gold=1) for _ in range(3)]
    cascade, grid = fit_grid(reads, most=4)
    assert cascade.candidates == 2 and max(row.candidates for row in grid) == 4


def test_a_gate_reads_only_the_best_when_the_cheap_margin_is_wide() -> None:
    read = _read([5.0, 2.9, 1.0], [-4.0, 4.0, 9.0], gold=1)
    assert chosen_row(read, Cascade(candidates=2, weight=1.0))[0] == 1
    assert chosen_row(read, Cascade(candidates=2, weight=1.0, gate=1.0))[0] == 0
    assert chosen_row(read, Cascade(candidates=2, weight=1.0, gate=3.0))[0] == 1


def test_fit_grid_prefers_a_gate_that_reads_less_at_equal_figures() -> None:
    sure = [_read([9.0, 2.9, 1.0], [4.0, -4.0, 0.0], gold=0) for _ in range(3)]
    close = [_read([3.0, 2.9, 1.0], [-4.0, 4.0, 0.0], gold=1) for _ in range(3)]
    cascade, grid = fit_grid(sure + close, most=2)
    assert cascade.gate is not None and cascade.candidates == 2
    assert {row.gate for row in grid} >= {None, 1.0}


def test_fit_grid_keeps_within_the_read_budget() -> None:
    # the reader is right only on close calls, and reading them all is best but reads 2 a question
    reads = [_read([3.0, 2.9, 1.0], [-4.0, 4.0, 0.0], gold=1) for _ in range(3)] + [
        _read([3.0, 2.2, 1.0], [-4.0, 4.0, 0.0], gold=1)
    ]
    free, _ = fit_grid(reads, most=2)
    assert free.gate is None or free.gate > 0.8
    assert np.mean([chosen_depth(r, free) for r in reads]) == 2.0
    held, grid = fit_grid(reads, most=2, budget=1.8)
    assert np.mean([chosen_depth(r, held) for r in reads]) <= 1.8
    assert max(row.read for row in grid) == 2.0  # the grid still lists every setting


def test_a_graded_gate_reads_the_close_runners_up_and_skips_a_distant_one() -> None:
    read = _read([5.0, 4.6, 1.0], [-4.0, 4.0, 9.0], gold=1)
    step = Cascade(candidates=3, weight=1.0, gate=1.0)
    graded = Cascade(candidates=3, weight=1.0, gate=1.0, graded=True)
    assert chosen_depth(read, step) == 3 and chosen_row(read, step)[0] == 2
    assert chosen_depth(read, graded) == 2 and chosen_row(read, graded)[0] == 1
    sure = _read([9.0, 4.6, 1.0], [-4.0, 4.0, 9.0], gold=1)
    assert chosen_depth(sure, graded) == 1 and chosen_row(sure, graded)[0] == 0
    assert Cascade.from_dict({"candidates": 3, "gate": 1.0, "graded": True}) == replace(
        graded, weight=1.0, span_floor=0.3
    )


def test_fit_grid_picks_a_graded_gate_when_it_reads_less_at_equal_figures() -> None:
    # the gold is the close runner-up (a distant third need not be read), or a close third
    reads = [_read([5.0, 4.6, 1.0], [-4.0, 4.0, -4.0], gold=1) for _ in range(3)] + [
        _read([5.0, 4.8, 4.7], [-4.0, -4.0, 4.0], gold=2) for _ in range(3)
    ]
    cascade, grid = fit_grid(reads, most=3)
    assert np.mean([chosen_depth(r, cascade) for r in reads]) == 2.5
    assert cascade.graded and sentence_at_1(reads, cascade) == 1.0
    assert {row.graded for row in grid} == {False, True}


def test_fit_grid_keeps_the_median_question_within_its_read_budget() -> None:
    # reading the runner-up pays on half the questions; a graded gate reads 2 for the median one
    reads = [_read([5.0, 4.6, 1.0], [-4.0, 4.0, -4.0], gold=1) for _ in range(2)] + [
        _read([5.0, 4.0, 1.0], [4.0, -4.0, -4.0], gold=0) for _ in range(2)
    ]
    free, _ = fit_grid(reads, most=3)
    assert np.median([chosen_depth(r, free) for r in reads]) == 1.5
    held, grid = fit_grid(reads, most=3, median_budget=1)
    assert np.median([chosen_depth(r, held) for r in reads]) <= 1
    assert {row.median_read for row in grid} >= {1.0, 2.0}
