"""The project's trained reader: scores (question, candidate sentence) pairs with onnxruntime.

In: a model folder (`reader.int8.onnx`, `tokenizer.json`, `reader.json`; made by
`qa train export-reader`), the question and candidate windows (the sentence, the sentence
before it and the document title). Out: `Reader.score(question, windows)` -> `ReaderScores`:
per window a relevance logit (does this sentence answer the question?) and the best short
answer span inside the sentence (character offsets into the sentence) with its probability.

One input per window, the same layout as in training (`encode_windows`):
`[CLS] question [SEP] sentence [SEP] title : previous sentence [SEP]`, cut to the model's
length (the question to `MAX_QUESTION` tokens first, then the context, then the sentence).
Spans are only looked for among the sentence's tokens. The folder is chosen by `QA_READER`:
a path, or `off`; by default the folder shipped in the package (`qa/reader_model/`) when present.
The process answering questions never imports torch.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_FILE = "reader.int8.onnx"
CONFIG_FILE = "reader.json"
TOKENIZER_FILE = "tokenizer.json"
MAX_QUESTION = 24  # question tokens kept
MAX_TITLE = 10  # title tokens kept in the context
MAX_SPAN = 30  # longest short answer, in tokens
PACKAGED = Path(__file__).parent / "reader_model"


@dataclass(frozen=True)
class Window:
    """One candidate: the sentence, the sentence before it ('' when none) and its title."""

    sentence: str
    previous: str
    title: str


@dataclass
class Encoded:
    """Model inputs for some windows, padded to the longest. `offsets[i, t]`: the character
    range of token t in window i's sentence, (-1, -1) for tokens outside the sentence."""

    input_ids: np.ndarray  # (n, length) int64
    attention_mask: np.ndarray  # (n, length) int64
    token_type_ids: np.ndarray  # (n, length) int64
    offsets: np.ndarray  # (n, length, 2) int64


@dataclass(frozen=True)
class Pieces:
    """A text's tokens (no special tokens) and their character offsets."""

    ids: list[int]
    offsets: list[tuple[int, int]]


def tokenize(tokenizer, texts: list[str]) -> list[Pieces]:  # type: ignore[no-untyped-def]
    """`texts` as word pieces, without special tokens, truncation or padding."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [Pieces(list(e.ids), [tuple(o) for o in e.offsets]) for e in encodings]


@dataclass(frozen=True)
class Specials:
    """The ids of the tokens the layout adds."""

    cls: int
    sep: int
    pad: int
    colon: int


def specials_of(tokenizer) -> Specials:  # type: ignore[no-untyped-def]
    """`[CLS]`, `[SEP]`, `[PAD]` and `:` of a BERT word-piece tokenizer."""
    return Specials(
        tokenizer.token_to_id("[CLS]"),
        tokenizer.token_to_id("[SEP]"),
        tokenizer.token_to_id("[PAD]"),
        tokenizer.token_to_id(":"),
    )


def layout(
    question: Pieces,
    sentence: Pieces,
    title: Pieces,
    previous: Pieces,
    specials: Specials,
    max_length: int,
) -> tuple[list[int], list[int], int, int]:
    """One window's tokens. Out: (ids, type ids, index of the sentence's first token, number of
    sentence tokens kept). The question keeps `MAX_QUESTION` tokens, the sentence what fits,
    the context (title, `:`, the end of the previous sentence) the rest."""
    q = question.ids[:MAX_QUESTION]
    room = max_length - 4 - len(q)
    s = sentence.ids[: max(0, room)]
    left = room - len(s)
    context: list[int] = []
    if left >= 3:
        context = [*title.ids[:MAX_TITLE], specials.colon]
        if len(context) > left:
            context = context[-left:]
        tail = left - len(context)
        if tail > 0 and previous.ids:
            context += previous.ids[-tail:]
    ids = [specials.cls, *q, specials.sep, *s, specials.sep, *context, specials.sep]
    types = [0] * (len(q) + 2) + [1] * (len(s) + len(context) + 2)
    return ids, types, len(q) + 2, len(s)


def pad_rows(
    rows: list[list[int]], types: list[list[int]], pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, attention mask, type ids) padded to the longest row."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    kinds = np.zeros((len(rows), width), dtype=np.int64)
    for i, (row, kind) in enumerate(zip(rows, types, strict=True)):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
        kinds[i, : len(row)] = kind
    return ids, mask, kinds


def encode_windows(  # type: ignore[no-untyped-def]
    tokenizer, question: str, windows: list[Window], max_length: int
) -> Encoded:
    """The model inputs of `windows` for `question` (see the module's docstring)."""
    specials = specials_of(tokenizer)
    texts = [question]
    for w in windows:
        texts += [w.sentence, w.title, w.previous]
    pieces = tokenize(tokenizer, texts)
    rows, types, spans = [], [], []
    for i in range(len(windows)):
        sentence, title, previous = pieces[1 + 3 * i : 4 + 3 * i]
        row, kind, first, count = layout(pieces[0], sentence, title, previous, specials, max_length)
        rows.append(row)
        types.append(kind)
        spans.append((first, sentence.offsets[:count]))
    ids, mask, kinds = pad_rows(rows, types, specials.pad)
    offsets = np.full((*ids.shape, 2), -1, dtype=np.int64)
    for i, (first, kept) in enumerate(spans):
        if kept:
            offsets[i, first : first + len(kept)] = kept
    return Encoded(ids, mask, kinds, offsets)


@dataclass(frozen=True)
class Span:
    """A short answer inside a window's sentence: `sentence[start:end]`, its probability."""

    start: int
    end: int
    probability: float


@dataclass(frozen=True)
class ReaderScores:
    """Per window: the relevance logit and the best span (None when the sentence is empty)."""

    relevance: np.ndarray  # (n,) float64
    spans: list[Span | None]


def best_spans(start: np.ndarray, end: np.ndarray, offsets: np.ndarray) -> list[Span | None]:
    """The most probable span of each row, among its sentence tokens (`offsets` >= 0), at most
    `MAX_SPAN` tokens; probability = p(start) * p(end) under softmaxes over those tokens."""
    inside = offsets[:, :, 0] >= 0
    found: list[Span | None] = []
    for i in range(start.shape[0]):
        positions = np.flatnonzero(inside[i])
        if positions.size == 0:
            found.append(None)
            continue
        p_start = _softmax(start[i, positions])
        p_end = _softmax(end[i, positions])
        pair = np.triu(np.outer(p_start, p_end))
        pair = np.tril(pair, MAX_SPAN - 1)
        a, b = np.unravel_index(int(np.argmax(pair)), pair.shape)
        found.append(
            Span(
                int(offsets[i, positions[a], 0]),
                int(offsets[i, positions[b], 1]),
                float(pair[a, b]),
            )
        )
    return found


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@dataclass(frozen=True)
class Cascade:
    """How the reader joins the cheap sentence score (fitted by `qa eval fit`).

    The `candidates` best sentences by the cheap score are read (only the best, for its short
    answer, when the cheap score is sure: its margin over the runner-up above `gate`; when
    `graded`, only those within `gate` of the best, so a clear runner-up is read without the
    distant third); their
    score becomes cheap + `weight` * (reader logit - `offset`). `calibration` (when given)
    replaces the scoring model's confidence calibration, over the same inputs but the combined
    scores. The reader's span becomes the short answer when its probability is at least
    `span_floor`."""

    candidates: int = 4
    weight: float = 1.0
    offset: float = 0.0
    span_floor: float = 0.3
    calibration: tuple[float, ...] | None = None
    calibration_bias: float = 0.0
    gate: float | None = None  # None: always read `candidates`
    graded: bool = False

    def depth(self, cheap: np.ndarray, top: np.ndarray) -> int:
        """How many of `top` (rows by descending `cheap` score) to read."""
        if self.gate is None or len(top) < 2:
            return self.candidates
        if self.graded:
            close = cheap[top[: self.candidates]] >= cheap[top[0]] - self.gate
            return max(min(1, self.candidates), int(np.count_nonzero(close)))
        sure = cheap[top[0]] - cheap[top[1]] > self.gate
        return min(1, self.candidates) if sure else self.candidates

    @classmethod
    def from_dict(cls, data: dict) -> Cascade:
        calibration = data.get("calibration")
        return cls(
            int(data.get("candidates", 4)),
            float(data.get("weight", 1.0)),
            float(data.get("offset", 0.0)),
            float(data.get("span_floor", 0.3)),
            tuple(float(w) for w in calibration) if calibration else None,
            float(data.get("calibration_bias", 0.0)),
            float(data["gate"]) if data.get("gate") is not None else None,
            bool(data.get("graded", False)),
        )


@dataclass(frozen=True)
class ReaderConfig:
    """What `reader.json` says: the input length, the layer count, the cascade's settings."""

    max_length: int
    layers: int
    input_names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
    cascade: Cascade = Cascade()

    @classmethod
    def load(cls, folder: Path) -> ReaderConfig:
        data = json.loads((folder / CONFIG_FILE).read_text())
        return cls(
            int(data["max_length"]),
            int(data["layers"]),
            tuple(data["input_names"]),
            Cascade.from_dict(data.get("cascade", {})),
        )


class Reader:
    """One onnxruntime session over a reader folder; safe to share across threads."""

    def __init__(self, folder: Path, threads: int = 1, cascade: Cascade | None = None) -> None:
        self.folder = Path(folder)
        self.config = ReaderConfig.load(self.folder)
        self.cascade = cascade or self.config.cascade
        self.threads = threads

    @cached_property
    def session(self):  # type: ignore[no-untyped-def]
        from qa.onnx_encoder import cpu_session

        return cpu_session(self.folder / MODEL_FILE, self.threads)

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def score(self, question: str, windows: list[Window]) -> ReaderScores:
        """Relevance logits and best spans of `windows`, in one onnxruntime call."""
        if not windows:
            return ReaderScores(np.zeros(0), [])
        encoded = encode_windows(self.tokenizer, question, windows, self.config.max_length)
        feed = {name: getattr(encoded, name) for name in self.config.input_names}
        relevance, start, end = self.session.run(None, feed)
        return ReaderScores(
            relevance.astype(np.float64).reshape(-1), best_spans(start, end, encoded.offsets)
        )


def reader_folder(setting: str | None = None) -> Path | None:
    """The reader to use: `setting` (default: `QA_READER`) as a folder, None for `off`, else
    the packaged folder when it holds a model."""
    value = os.environ.get("QA_READER", "") if setting is None else setting
    if value.strip().lower() in ("off", "0", "none", "false"):
        return None
    if value.strip():
        return Path(value).expanduser()
    return PACKAGED if (PACKAGED / MODEL_FILE).is_file() else None


_LOADED: dict[Path, Reader] = {}


def load_reader(setting: str | None = None) -> Reader | None:
    """The reader chosen by `reader_folder`, loaded once per folder; None when off or absent.
    Raises FileNotFoundError when a folder was asked for and holds no reader."""
    folder = reader_folder(setting)
    if folder is None:
        return None
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(f"QA_READER: no {MODEL_FILE} in {folder}")
    reader = _LOADED.get(folder)
    if reader is None:
        reader = _LOADED[folder] = Reader(folder)
        _ = reader.session, reader.tokenizer
    return reader
