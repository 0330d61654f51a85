"""`qa train reader` stays alive: a 2-layer cut trains for a few steps on a tiny SQuAD slice,
resumes, and exports to an int8 ONNX folder that `qa.reader.Reader` loads and runs."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, replace
from pathlib import Path

import click
import numpy as np
import pytest

from qa.reader import Reader, Window
from qa.tools.train_reader import (
    Examples,
    TrainConfig,
    export_reader,
    listwise_loss,
    mask_overlap,
    onnx_weights,
    read_squad,
    token_span,
    train,
    training_order,
)

FACTS = [
    ("Paris", "France", "the Seine"),
    ("Rome", "Italy", "the Tiber"),
    ("Berlin", "Germany", "the Spree"),
    ("Madrid", "Spain", "the Manzanares"),
    ("Vienna", "Austria", "the Danube"),
]


def _tiny_squad(path: Path) -> Path:
    """Five one-paragraph articles, three questions each."""
    data = []
    for city, country, river in FACTS:
        context = (
            f"{city} is a large city. It is the capital of {country}. "
            f"The river that crosses it is {river}. Many tourists visit it every year."
        )
        qas = [
            (f"What is the capital of {country}?", city),
            (f"Which river crosses {city}?", river),
            (f"Of which country is {city} the capital?", country),
        ]
        data.append({
            "title": city,
            "paragraphs": [{
                "context": context,
                "qas": [
                    {"id": f"{city}{i}", "question": q,
                     "answers": [{"text": a, "answer_start": context.rindex(a)}]}
                    for i, (q, a) in enumerate(qas)
                ],
            }],
        })  # fmt: skip
    with gzip.open(path, "wt") as f:
        json.dump({"data": data, "version": "1.1"}, f)
    return path


def test_read_squad_finds_answer_sentences(tmp_path: Path) -> None:
    titles, sentences, questions, article_of = read_squad(_tiny_squad(tmp_path / "t.json.gz"))
    assert titles[0] == "Paris" and len(sentences) == 20 and len(questions) == 15
    q = questions[1]
    a, b = q.answer
    assert sentences[q.sentence].text[a:b] == "the Seine"
    assert sentences[q.sentence].previous == "It is the capital of France."
    assert article_of[-1] == 4


def test_token_span() -> None:
    offsets = [(0, 3), (4, 8), (9, 12)]
    assert token_span(offsets, (4, 12)) == (1, 2)
    assert token_span(offsets, (9, 20)) is None  # cut off by truncation


def _tiny_config(tmp_path: Path) -> TrainConfig:
    """A 2-layer, 48-token run over the tiny SQuAD file, batches of 4, one article held out."""
    data = _tiny_squad(tmp_path / "t.json.gz")
    return TrainConfig(str(data), layers=2, max_length=48, questions=12, negatives=2, batch=4,
                       valid_questions=3, held_out=1)  # fmt: skip


def _first_run(tmp_path: Path) -> tuple[TrainConfig, Path]:
    """The tiny config and a run trained with it for 2 steps (in `tmp_path / "first"`)."""
    config = _tiny_config(tmp_path)
    first = tmp_path / "first"
    train(config, first, max_steps=2, progress=False)
    return config, first


@pytest.mark.model
def test_train_a_few_steps_resume_and_export(tmp_path: Path) -> None:
    config = _tiny_config(tmp_path)
    run = tmp_path / "run"
    figures = train(config, run, max_steps=2, progress=False)
    assert set(figures) == {
        "sentence@1", "span_em", "span_f1", "swap_accuracy", "negation_accuracy",
        "selqa_sentence@1",
    }  # fmt: skip
    assert figures["selqa_sentence@1"] is None  # no SelQA slice without --selqa
    assert (run / "model.pt").is_file() and (run / "data.npz").is_file()
    again = train(config, run, max_steps=3, progress=False)  # resumes at step 2
    with pytest.raises(click.ClickException, match="other settings"):
        train(replace(config, loss="listwise"), run, max_steps=4, progress=False)
    assert "sentence@1" in again
    folder = export_reader(run, tmp_path / "reader")
    reader = Reader(folder)
    scores = reader.score(
        "Which river crosses Vienna?",
        [Window("The river that crosses it is the Danube.", "It is the capital.", "Vienna"),
         Window("Vienna is a large city.", "", "Vienna")],
    )  # fmt: skip
    assert scores.relevance.shape == (2,) and np.isfinite(scores.relevance).all()
    span = scores.spans[0]
    assert span is not None and 0 <= span.start < span.end <= 40
    assert "sha256" in (folder / "README.md").read_text()
    assert _float_weight_matmuls(folder / "reader.int8.onnx") == []


def _float_weight_matmuls(path: Path) -> list[str]:
    """The MatMul nodes of an ONNX file that still multiply by a float weight matrix."""
    import onnx

    graph = onnx.load(str(path)).graph
    matrices = {w.name for w in graph.initializer if len(w.dims) == 2}
    return [n.name for n in graph.node
            if n.op_type == "MatMul" and any(i in matrices for i in n.input)]  # fmt: skip


@pytest.mark.model
def test_warm_start_from_a_finished_run(tmp_path: Path) -> None:
    import torch

    config, first = _first_run(tmp_path)
    second = tmp_path / "second"
    # lr 0: the weights stay the loaded ones (look-alikes, the loss and masking change only the
    # data and the gradients)
    warm = replace(config, init=str(first), lr=0.0, swapped=1.0, loss="listwise", mask_overlap=1.0)
    train(warm, second, max_steps=1, progress=False)
    before = torch.load(first / "model.pt", weights_only=True)
    after = torch.load(second / "model.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((second / "config.json").read_text())["init"] == str(first)
    with pytest.raises(click.ClickException, match="another architecture"):
        train(replace(config, layers=1, init=str(first)), tmp_path / "third", max_steps=1,
              progress=False)  # fmt: skip
    with pytest.raises(click.ClickException, match="no model.pt"):
        train(replace(config, init=str(tmp_path)), tmp_path / "fourth", max_steps=1,
              progress=False)  # fmt: skip


@pytest.mark.model
def test_warm_start_from_an_exported_reader(tmp_path: Path) -> None:
    """A run can start from an exported (int8) reader folder: its weights come back within
    int8's rounding of the run that was exported, every parameter of the graph accounted for."""
    import torch

    config, first = _first_run(tmp_path)
    folder = export_reader(first, tmp_path / "reader")
    recovered = onnx_weights(folder / "reader.int8.onnx")
    original = torch.load(first / "model.pt", weights_only=True)
    assert set(recovered) == {k for k in original if ".pooler." not in k}
    for name, weight in recovered.items():
        expected = original[name].numpy()
        assert weight.shape == expected.shape, name
        # per channel, 7-bit range: each weight is within half a step (max |w| / 63) of its own
        assert np.abs(weight - expected).max() <= np.abs(expected).max() / 120 + 1e-6, name
    second = tmp_path / "second"
    train(replace(config, init=str(folder), lr=0.0), second, max_steps=1, progress=False)
    after = torch.load(second / "model.pt", weights_only=True)
    assert all(np.array_equal(after[k].numpy(), w) for k, w in recovered.items())
    with pytest.raises(click.ClickException, match="another architecture"):
        train(replace(config, layers=1, init=str(folder)), tmp_path / "third", max_steps=1,
              progress=False)  # fmt: skip


def _examples(labels: list[int], groups: list[int]) -> Examples:
    n = len(labels)
    zeros = np.zeros(n, np.int16)
    return Examples(np.zeros((n, 4), np.int32), np.zeros((n, 4), np.int8), zeros + 4,
                    np.array(labels, np.float32), zeros - 100, zeros - 100, zeros, zeros,
                    np.array(groups, np.int32))  # fmt: skip


def test_listwise_order_keeps_each_questions_windows_together(tmp_path: Path) -> None:
    examples = _examples([1, 0, 0, 1, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 2, 2, 2, 2, 9])
    config = TrainConfig("x", epochs=2, loss="listwise")
    order = training_order(examples, config)
    assert sorted(order.tolist()) == sorted(list(range(10)) * 2)
    for epoch in (order[:10], order[10:]):
        groups = examples.groups[epoch]
        runs = [g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
        assert sorted(runs) == [0, 1, 2, 9]  # each group contiguous
    pointwise = training_order(examples, replace(config, loss="pointwise"))
    assert sorted(pointwise.tolist()) == sorted(list(range(10)) * 2)


def test_listwise_loss_is_the_softmax_cross_entropy_of_each_group() -> None:
    import torch

    relevance = torch.tensor([2.0, 0.0, 1.0, 0.5, -1.0, 3.0])
    labels = np.array([1, 0, 0, 0, 1, 0], np.float32)  # group 7 has no positive: left out
    groups = np.array([5, 5, 3, 3, 3, 7])
    expected = (
        (torch.logsumexp(relevance[:2], 0) - 2.0) + (torch.logsumexp(relevance[2:5], 0) + 1.0)
    ) / 2
    assert torch.isclose(listwise_loss(relevance, labels, groups), expected)
    assert float(listwise_loss(relevance[:1], labels[:1], groups[:1])) == 0.0


def test_examples_built_before_groups_load_with_them(tmp_path: Path) -> None:
    examples = _examples([1, 0, 0, 1, 0], [0, 0, 0, 1, 1])
    fields = {k: v for k, v in asdict(examples).items() if k != "groups"}
    np.savez_compressed(tmp_path / "old.npz", **fields)
    assert Examples.load(tmp_path / "old.npz").groups.tolist() == [0, 0, 0, 1, 1]


def test_mask_overlap_hides_shared_question_words_alike_in_each_window_of_a_question() -> None:
    # [CLS]=1 question [SEP]=2 window [SEP] padding 0; the question's words are 7, 8, 9
    ids = np.array([
        [1, 7, 8, 9, 2, 7, 5, 8, 2],  # question 0: its windows hold 7 and 8 (not 9)
        [1, 7, 8, 9, 2, 6, 2, 0, 0],
        [1, 7, 8, 9, 2, 9, 2, 0, 0],  # question 1: only 9 is shared
    ])  # fmt: skip
    types = np.array([[0] * 5 + [1] * 4, [0] * 5 + [1] * 2 + [0] * 2, [0] * 5 + [1] * 2 + [0] * 2])
    firsts = np.array([5, 5, 5])
    groups = np.array([0, 0, 1])
    rng = np.random.default_rng(0)
    out = mask_overlap(ids, types, firsts, groups, 1.0, 4, rng)
    assert out[0].tolist() == [1, 4, 4, 9, 2, 7, 5, 8, 2]  # windows untouched
    assert out[1].tolist() == [1, 4, 4, 9, 2, 6, 2, 0, 0]  # same words as its group's first
    assert out[2].tolist() == [1, 7, 8, 4, 2, 9, 2, 0, 0]
    assert ids[0, 1] == 7  # the input is not changed
    assert (mask_overlap(ids, types, firsts, groups, 0.0, 4, rng) == ids).all()
    halves = [mask_overlap(ids, types, firsts, groups, 0.5, 4, np.random.default_rng(seed))
              for seed in range(40)]  # fmt: skip
    masked = {tuple(h[0, 1:3] == 4) for h in halves}
    assert masked == {(False, False), (False, True), (True, False), (True, True)}
    assert all((h[0, 1:4] == h[1, 1:4]).all() for h in halves)


@pytest.mark.model
def test_narrow_ffn_over_every_unit_changes_nothing() -> None:
    import torch

    from qa.tools.train_reader import model_path, narrow_ffn, reader_module

    torch.manual_seed(0)
    model = reader_module(model_path(), 2).eval()
    ids = torch.tensor([[101, 2054, 2003, 1996, 3007, 102, 3000, 2003, 1996, 3007, 102]])
    mask, types = torch.ones_like(ids), torch.tensor([[0] * 6 + [1] * 5])
    with torch.no_grad():
        before = model(ids, mask, types)
        narrow_ffn(model, [list(range(1536))[::-1]] * 2)  # every unit, in another order
        after = model(ids, mask, types)
    for old, new in zip(before, after, strict=True):
        assert torch.allclose(old, new, atol=1e-5)


@pytest.mark.model
def test_prune_ffn_drops_the_units_that_add_nothing() -> None:
    import torch

    from qa.tools.train_reader import ffn_width, model_path, prune_ffn, reader_module

    model = reader_module(model_path(), 1)
    silent = [3, 700, 1500]
    with torch.no_grad():
        model.encoder.encoder.layer[0].output.dense.weight[:, silent] = 0.0
    ids = torch.tensor([[101, 2054, 2003, 1996, 3007, 102, 3000, 2003, 102, 0]])
    mask = (ids > 0).long()
    kept_weight = model.encoder.encoder.layer[0].intermediate.dense.weight.clone()
    prune_ffn(model, 1533, [(ids, mask, torch.zeros_like(ids))])
    assert ffn_width(model) == 1533
    narrowed = model.encoder.encoder.layer[0].intermediate.dense.weight
    expected = [u for u in range(1536) if u not in silent]
    assert torch.equal(narrowed, kept_weight[expected])


def test_distill_loss_of_a_student_that_matches_its_teacher_is_the_teachers_entropy() -> None:
    import torch
    import torch.nn.functional as F

    from qa.tools.train_reader import distill_loss

    torch.manual_seed(0)
    outputs = (torch.randn(4), torch.randn(4, 7), torch.randn(4, 7))
    inside = torch.zeros(4, 7, dtype=torch.bool)
    inside[:, 2:6] = True
    groups = np.array([0, 0, 1, 1])
    same = distill_loss(outputs, outputs, inside, groups)
    p = torch.sigmoid(outputs[0])
    entropy = F.binary_cross_entropy(p, p)
    assert torch.isclose(same, entropy, atol=1e-6)
    other = (outputs[0].flip(0), outputs[1].flip(1), outputs[2])
    assert float(distill_loss(other, outputs, inside, groups)) > float(same) + 0.01


@pytest.mark.model
def test_a_pruned_distilled_run_trains_exports_and_warm_starts(tmp_path: Path) -> None:
    import torch

    config, first = _first_run(tmp_path)
    pruned = tmp_path / "pruned"
    small = replace(config, init=str(first), ffn=96, teacher=str(first), loss="listwise")
    figures = train(small, pruned, max_steps=2, progress=False)
    assert 0.0 <= figures["sentence@1"] <= 1.0
    state = torch.load(pruned / "model.pt", weights_only=True)
    up = state["encoder.encoder.layer.0.intermediate.dense.weight"]
    assert tuple(up.shape) == (96, 384)
    train(small, pruned, max_steps=3, progress=False)  # resumes into the narrow shape
    folder = export_reader(pruned, tmp_path / "reader")
    assert json.loads((folder / "reader.json").read_text())["ffn"] == 96
    scores = Reader(folder).score(
        "Which river crosses Vienna?",
        [Window("The river that crosses it is the Danube.", "It is the capital.", "Vienna")],
    )  # fmt: skip
    assert np.isfinite(scores.relevance).all()
    again = tmp_path / "again"  # from the exported narrow reader, lr 0: its weights kept
    train(replace(config, init=str(folder), ffn=96, lr=0.0), again, max_steps=1, progress=False)
    after = torch.load(again / "model.pt", weights_only=True)
    recovered = onnx_weights(folder / "reader.int8.onnx")
    assert all(np.array_equal(after[k].numpy(), w) for k, w in recovered.items())
    with pytest.raises(click.ClickException, match="wider"):
        train(replace(config, init=str(folder), ffn=200), tmp_path / "wide", max_steps=1,
              progress=False)  # fmt: skip
