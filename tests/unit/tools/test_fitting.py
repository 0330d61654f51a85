"""The fit's steps on hand-made questions: the ranking fit picks the signal that separates the
answering sentence within each question, the calibration and the threshold follow their rules."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from qa.answer import FEATURES, ScoringModel
from qa.cli import main
from qa.pipeline import load_scoring
from qa.reader import Cascade
from qa.tools import fitting
from qa.tools.reader_fit import Read
from qa.tools.trials import best_and_margin


def _question(rng: np.random.Generator, size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Candidates whose feature 0 marks the answer and feature 1 is noise that is larger on
    average for every candidate of some questions (a pointwise fit would lean on it)."""
    x = rng.normal(size=(size, 2))
    y = np.zeros(size)
    gold = int(rng.integers(size))
    x[gold, 0] += 2.0
    y[gold] = 1.0
    x[:, 1] += rng.normal() * 3
    return x, y


def test_fit_ranking_weights_the_feature_that_separates_within_a_question() -> None:
    rng = np.random.default_rng(0)
    groups = [(*_question(rng), 1.0) for _ in range(200)]
    w = fitting.fit_ranking(groups)
    assert w[0] > 1.0 and abs(w[1]) < 0.2 * w[0]
    top1 = np.mean([y[int(np.argmax(x @ w))] for x, y, _ in groups])
    assert top1 > 0.6


def test_fit_ranking_follows_the_weights_of_the_questions() -> None:
    rng = np.random.default_rng(1)
    a = [(*_question(rng), 1.0) for _ in range(100)]
    b = [(x[:, ::-1].copy(), y, 1.0) for x, y, _ in [(*_question(rng), 1.0) for _ in range(100)]]
    light = fitting.fit_ranking(a + [(x, y, 0.1) for x, y, _ in b])
    heavy = fitting.fit_ranking(a + [(x, y, 10.0) for x, y, _ in b])
    assert light[0] > light[1] and heavy[1] > heavy[0]


def _trial(matrix: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
    found = SimpleNamespace(matrix=matrix, sentences=list(range(len(labels))))
    return SimpleNamespace(found=found, labels=labels)


def test_fit_scorer_keeps_every_feature_and_makes_the_score_a_logit() -> None:
    rng = np.random.default_rng(2)
    ranking = []
    for _ in range(150):
        x, y = _question(rng)
        matrix = np.zeros((len(y), len(FEATURES)))
        matrix[:, FEATURES.index("dense")] = x[:, 0]
        matrix[:, FEATURES.index("overlap")] = x[:, 1]
        ranking.append((_trial(matrix, y), 1.0))
    model, about = fitting.fit_scorer(ranking)  # type: ignore[arg-type]
    assert model.features == FEATURES and about["train_sentence1"] > 0.6
    scores = np.concatenate([model.scores(t.found.matrix) for t, _ in ranking])
    labels = np.concatenate([t.labels for t, _ in ranking])
    # Platt scaling: the mean predicted probability matches the share of positives.
    assert abs(np.mean(1 / (1 + np.exp(-scores))) - labels.mean()) < 0.03


def test_calibrate_counts_a_question_whose_answer_is_not_indexed_as_wrong() -> None:
    model = ScoringModel(("dense",), (1.0,), 0.0, calibration=(0.0, 0.0),
                         calibration_inputs=("best_score", "margin"))  # fmt: skip
    reads = []
    inside = []
    for k in range(40):
        matrix = np.zeros((2, len(FEATURES)))
        matrix[:, FEATURES.index("dense")] = [1.0 + k % 2, 0.0]
        labels = np.array([1.0, 0.0])
        trial = _trial(matrix, labels)
        scores = model.scores(matrix)
        reads.append(Read(trial, np.zeros(0, dtype=int), scores, np.zeros(0), []))  # type: ignore[arg-type]
        inside.append(k % 2 == 1)  # the higher best scores are the answerable ones
    weights, _ = fitting.calibrate(reads, Cascade(candidates=0), model, inside)
    assert weights[0] > 0  # a higher best score means more likely right


def test_best_and_margin() -> None:
    assert best_and_margin(np.array([0.5, 2.0, 1.0])) == (2.0, 1.0, 1)
    assert best_and_margin(np.zeros(0))[2] == -1


@pytest.mark.model
def test_fit_command_writes_a_model_and_the_readers_cascade(
    eval_cache, squad_train_slice, tydi_slice, wikiqa_slice, tmp_path
):
    from qa.reader import CONFIG_FILE, Reader, reader_folder

    folder = tmp_path / "reader"
    shutil.copytree(reader_folder(None), folder)
    output = tmp_path / "scoring.json"
    args = ["eval", "fit", "--squad-train", str(squad_train_slice), "--tydi", str(tydi_slice),
            "--wikiqa", str(wikiqa_slice), "--reader", str(folder),
            "--output", str(output)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["written"] == [str(output), str(folder / CONFIG_FILE)]
    model = ScoringModel.from_file(output)
    assert model.features == FEATURES and 0.0 <= model.threshold <= model.upper <= 1.0
    bands = summary["bands"]
    assert (bands["threshold"], bands["answer_threshold"]) == (model.threshold, model.upper)
    assert set(bands["sets"]) == {"wikiqa_train", "tydi_half0", "squad_train_half_indexed"}
    assert summary["data"]["squad_train_questions"] == 32  # 4 articles x 2 paragraphs x 4
    cascade = Reader(folder).cascade
    assert 1 <= cascade.candidates <= 3 and cascade.calibration is not None
    fitted = json.loads((folder / CONFIG_FILE).read_text())["cascade"]["fitted"]
    assert fitted["command"].startswith("qa eval fit") and fitted["grid"]
    # --bands-only: the scorer, cascade and calibration as shipped, only the cut points anew.
    only = tmp_path / "bands.json"
    cascade_before = (folder / CONFIG_FILE).read_text()
    result = CliRunner().invoke(main, [*args[:-1], str(only), "--bands-only"])
    assert result.exit_code == 0, result.output
    shipped, refitted = load_scoring(), ScoringModel.from_file(only)
    assert refitted.weights == shipped.weights and refitted.calibration == shipped.calibration
    assert (folder / CONFIG_FILE).read_text() == cascade_before
    about = json.loads(only.read_text())["fitted"]
    assert about["bands"]["command"].endswith("--bands-only") and "threshold" not in about
    assert about["bands"]["threshold"] == refitted.threshold


def _band_set(confidence: list[float], answerable: list[bool], first: list[float],
              other: list[float]) -> fitting.BandSet:  # fmt: skip
    return fitting.BandSet(confidence, answerable, first, other)


def test_choose_bands_meets_each_sets_targets_and_keeps_most_of_the_coverage() -> None:
    # 20 answerable questions: confident ones right; unsure ones right among the candidates.
    confidence = [0.9 + i / 200 for i in range(10)] + [0.3 + i / 50 for i in range(10)]
    sure = _band_set(confidence, [True] * 20, [1.0] * 10 + [0.0] * 10, [1.0] * 20)
    # 10 questions without an answer, as confident as the unsure ones.
    lacking = _band_set([0.3 + i / 20 for i in range(10)], [False] * 10, [0.0] * 10, [0.0] * 10)
    lower, upper, about = fitting.choose_bands({"sure": sure, "lacking": lacking})
    assert 0.75 < upper <= 0.9  # the lowest that keeps unanswered ones at most 8% answered
    assert lacking.figures(lower, upper)["answer_without_answer"] <= fitting.FALSE_ANSWER_CEILING
    assert sure.figures(lower, upper)["answer_precision"] >= fitting.PRECISION_FLOOR
    # All 20 are covered without a none; keeping 95% of that drops one unsure question at most.
    assert sure.figures(0.0, upper)["coverage"] == 1.0
    assert lower == pytest.approx(0.3 + 1 / 50)
    assert about["sets"]["sure"]["coverage"] == pytest.approx(0.95)


def test_a_fit_sees_only_the_rows_the_product_may_quote() -> None:
    from qa.answer import Candidates
    from qa.tools.trials import Trial, quotable_rows

    matrix = np.arange(3 * len(FEATURES), dtype=float).reshape(3, -1)
    texts = ["a", "# h", "c"]
    found = Candidates(texts, ["t"] * 3, [0, 0, 0], [frozenset()] * 3, matrix, [[0, 1, 2]],  # type: ignore[arg-type]
                       ["", "a", "# h"], [True, False, True], [-1, -1, -1])  # fmt: skip
    trial = Trial(None, np.zeros(2), [], found, np.array([0.0, 1.0, 1.0]), 0.0)  # type: ignore[arg-type]
    kept = quotable_rows(trial)
    assert kept.found.sentences == ["a", "c"] and kept.labels.tolist() == [0.0, 1.0]
    assert kept.found.matrix.tolist() == matrix[[0, 2]].tolist()
    assert kept.found.previous == ["", "# h"] and all(kept.found.quotable)
    assert quotable_rows(kept) is kept
