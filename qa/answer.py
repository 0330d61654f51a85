"""Choose the sentences that answer a question and render them as a cited, verbatim answer.

In: the question, its vector and the retrieved `Passage`s (more than will be shown: their
sentences are all scored). Out: an `Answer`, the `/ask` and `qa ask --json` object.

Every distinct sentence of the passages gets the signals of `FEATURES` (dense similarity,
IDF-weighted word overlap, the passage's ranks, whether it names the kind of thing the question
asks for, ...). `ScoringModel` combines them with weights fitted on SQuAD train and TyDi
(`qa eval fit`, a conditional logit, saved in `qa/scoring.json`) into a per-sentence score;
the best prose sentence is quoted (headings, list fragments, references and boilerplate never
are, see `qa.sentence_kinds`), with the sentence before it when that one names its subject
("It ..."), and a second only when it adds question words the first lacks. The passages are
re-ordered by their best sentence, whose score (as a 0..1 logistic) becomes theirs.
`confidence` is a calibrated probability that the quoted sentence answers the question (a second
logistic fit on the best score, its margin over the runner-up and a few features of the best
sentence). It decides the outcome between two fitted cut points: from `answer_threshold` the
quote is the answer (`answer`); from `threshold` up to it, the best sentences of up to
`MAX_CANDIDATES` different passages are shown as passages that may answer (`candidates`, each
with its own confidence, from the scores already computed: no further reader call); below, the
documents do not answer (`none`). Every quote comes with its context (`qa.context`). The
short answer (a date, a number, a name...) comes from `qa.short_answer`. The answer text comes
from the Jinja2 template `web/templates/answer.txt.j2` (installed as `qa/webfiles/templates/`),
the one place to change its wording.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.context import ChunkFetcher, quote_context
from qa.layout import DocumentLayout
from qa.lexical import content_words, term_weights, token_set, weighted_overlap
from qa.reader import Cascade, Reader, Span, Window
from qa.resources import template_dir
from qa.retrieval import Passage
from qa.sentence_kinds import in_table, quotable, refers_back
from qa.short_answer import (
    MENTION_CACHE,
    ShortAnswer,
    find_short_answer,
    holds_type_lower,
    prepare,
    question_type,
)
from qa.stores.base import StoredChunk, StoredSentence

# The signals computed for every candidate sentence, in column order.
FEATURES: tuple[str, ...] = (
    "dense",  # cosine of question and sentence vectors
    "dense_gap",  # dense minus the best dense among the candidates (<= 0)
    "passage_dense",  # cosine of question and the best passage holding the sentence
    "overlap",  # IDF-weighted share of the question's words in the sentence
    "overlap_gap",  # overlap minus the best overlap among the candidates (<= 0)
    "window_overlap",  # the same over the sentence and its neighbours
    "context_coverage",  # the same over all retrieved passages of the sentence's document
    "context_rare",  # share of the question's two rarest words found in those passages
    "passage_rank",  # 1 / fused rank of the best passage holding the sentence
    "lexical_rank",  # 1 / BM25 rank of that passage (0: not found by BM25)
    "dense_rank",  # 1 / dense rank of that passage (0: not found by dense search)
    "type_match",  # the question asks for a date/number/person/place and the sentence has one
    "type_miss",  # it asks for one and the sentence has none
    "length",  # content words in the sentence / 40, at most 1
    "lead",  # 1 for the first sentence of its document (where summaries and definitions sit)
)


@dataclass(frozen=True)
class Citation:
    """A quoted sentence: `quote == text_of(doc_id)[start:end]`. Its context is the quote with
    at most one sentence of the same block either side (`qa.context`):
    `context == text_of(doc_id)[context_start:context_end]`, which contains the quote (left at
    -1 / '', they default to the quote itself). `confidence`: the calibrated probability that
    this quote answers the question (None: not computed). A quote that is a table's row
    names its table's header row: `header == text_of(doc_id)[header_start:header_end]`
    (None when it is no row or its header is not known)."""

    n: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    page: int | None = None  # 1-based page (PDF) or slide (PPTX) of the quote's start, see `locate`
    section: str | None = None  # the nearest heading before the quote, when there is one
    context_start: int = -1
    context_end: int = -1
    context: str = ""
    confidence: float | None = None
    header: str | None = None
    header_start: int | None = None
    header_end: int | None = None

    def __post_init__(self) -> None:
        if self.context_start < 0 or self.context_end < 0:
            object.__setattr__(self, "context_start", self.start)
            object.__setattr__(self, "context_end", self.end)
            object.__setattr__(self, "context", self.quote)


def locate(citations: list[Citation], layout_of: Callable[[str], DocumentLayout]) -> list[Citation]:
    """`citations` with the `page` and `section` of each quote's start, from its document's
    stored layout (`layout_of(doc_id)`, e.g. `Snapshot.layout`)."""
    out = []
    for c in citations:
        layout = layout_of(c.doc_id)
        out.append(replace(c, page=layout.page(c.start), section=layout.section(c.start)))
    return out


@dataclass(frozen=True)
class PassageOut:
    """A retrieved passage as reported to the user."""

    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


# What an answer is: one quote the product is sure of, up to `MAX_CANDIDATES` quotes from
# different passages that may answer, or none (see `outcome_of`).
OUTCOMES = ("answer", "candidates", "none")
MAX_CANDIDATES = 3


@dataclass
class Answer:
    """The answer object of the HTTP and CLI contracts (plus `short_answer`, may be None, and
    `outcome`, one of `OUTCOMES`; `answered` is true exactly for `answer`)."""

    question: str
    answered: bool
    answer: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    passages: list[PassageOut] = field(default_factory=list)
    took_ms: float = 0.0
    short_answer: ShortAnswer | None = None
    outcome: str = "answer"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoringModel:
    """Sentence score = weights . features + bias (a logit); confidence = sigmoid(calibration .
    (best score, margin over the runner-up) + calibration bias). Below `threshold` the outcome
    is `none`; at or above `answer_threshold` (None: `threshold`) it is `answer`; between them,
    `candidates`."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    calibration: tuple[float, ...] = (1.0, 0.0)
    calibration_bias: float = 0.0
    threshold: float = 0.5
    calibration_inputs: tuple[str, ...] = ("best_score", "margin")
    answer_threshold: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in 0..1, got {self.threshold}")
        if self.answer_threshold is not None and not 0.0 <= self.answer_threshold <= 1.0:
            raise ValueError(f"answer threshold must be in 0..1, got {self.answer_threshold}")
        if len(self.features) != len(self.weights):
            raise ValueError("scoring model: features and weights differ in count")
        if len(self.calibration) != len(self.calibration_inputs):
            raise ValueError("scoring model: calibration inputs and weights differ in count")
        unknown = (set(self.features) | set(self.calibration_inputs[2:])) - set(FEATURES)
        if unknown or self.calibration_inputs[:2] != ("best_score", "margin"):
            raise ValueError(f"scoring model: unknown features {sorted(unknown)}")

    @classmethod
    def from_file(cls, path: Path) -> ScoringModel:
        """The model saved by `qa eval fit` (see `to_json`)."""
        data = json.loads(Path(path).read_text())
        return cls(
            tuple(data["features"]),
            tuple(float(w) for w in data["weights"]),
            float(data["bias"]),
            tuple(float(w) for w in data["calibration"]["weights"]),  # type: ignore[arg-type]
            float(data["calibration"]["bias"]),
            float(data["threshold"]),
            tuple(data["calibration"]["inputs"]),
            float(data["answer_threshold"]) if data.get("answer_threshold") is not None else None,
        )

    def to_json(self, about: dict) -> str:
        """The saved form, with `about` (how it was fitted) kept alongside."""
        return json.dumps(
            {
                "features": list(self.features),
                "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6),
                "calibration": {
                    "inputs": list(self.calibration_inputs),
                    "weights": [round(w, 6) for w in self.calibration],
                    "bias": round(self.calibration_bias, 6),
                },
                "threshold": round(self.threshold, 4),
                "answer_threshold": (
                    round(self.answer_threshold, 4) if self.answer_threshold is not None else None
                ),
                "fitted": about,
            },
            indent=2,
        )

    @property
    def upper(self) -> float:
        """The confidence from which the outcome is `answer` (never below `threshold`)."""
        if self.answer_threshold is None:
            return self.threshold
        return max(self.threshold, self.answer_threshold)

    def outcome_of(self, confidence: float) -> str:
        """`answer`, `candidates` or `none` for the first quote's `confidence`."""
        if confidence >= self.upper:
            return "answer"
        return "candidates" if confidence >= self.threshold else "none"

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The score (logit) of each row of a full `FEATURES` matrix."""
        columns = [FEATURES.index(name) for name in self.features]
        return matrix[:, columns] @ np.asarray(self.weights) + self.bias

    def calibration_row(self, best: float, margin: float, row: np.ndarray | None) -> list[float]:
        """The calibration inputs: best score, margin, then features of the best sentence."""
        extra = (
            [float(row[FEATURES.index(n)]) for n in self.calibration_inputs[2:]]
            if len(self.calibration_inputs) > 2 and row is not None
            else [0.0] * (len(self.calibration_inputs) - 2)
        )
        return [best, margin, *extra]

    def confidence(self, best: float, margin: float, row: np.ndarray | None = None) -> float:
        """Calibrated probability that the best-scored sentence (features `row`) is right."""
        values = self.calibration_row(best, margin, row)
        z = sum(w * x for w, x in zip(self.calibration, values, strict=True))
        return _sigmoid(z + self.calibration_bias)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Candidates:
    """The distinct sentences of some passages, their `FEATURES` matrix and best passage."""

    sentences: list[StoredSentence]
    titles: list[str]
    passage_of: list[int]  # index into the passages list of the best passage holding it
    words: list[frozenset[str]]  # the question words each sentence holds
    matrix: np.ndarray  # (len(sentences), len(FEATURES))
    members: list[list[int]]  # for each passage, the rows of the sentences it holds
    previous: list[str] = field(default_factory=list)  # the sentence before each ('' if none)
    quotable: list[bool] = field(default_factory=list)  # prose (`qa.sentence_kinds`); [] = all
    # The document start of the sentence before each when the quote must include it (it names
    # what this one refers back to, see `_antecedent_mask`), else -1; [] = none.
    antecedent: list[int] = field(default_factory=list)
    # The header row of each table row (see `_header_row`), else None; [] = none.
    headers: list[StoredSentence | None] = field(default_factory=list)


WARM_SENTENCES = MENTION_CACHE // 5  # as many as the per-sentence caches hold


def prepare_sentences(texts: list[str]) -> None:
    """Compute the question-independent signals of these stored sentences (their word sets and
    the typed spans they mention) once, when a snapshot is loaded, instead of the first time
    each one turns up as a candidate (which tripled the answerer's own time on new questions)."""
    for text in texts[:WARM_SENTENCES]:
        token_set(text)
        prepare(text)
        quotable(text)
        refers_back(text)


def candidates(question: str, vector: np.ndarray, passages: list[Passage]) -> Candidates:
    """Every distinct sentence of `passages` (best passage first) with its features.

    Word overlaps go through bit masks of the question's words: each sentence's mask is taken
    once (a set intersection), a window's or a document's is the OR of its sentences', and each
    distinct mask's overlap is computed once per question. Features of a passage or a document
    are computed once and spread to its sentences by indexing.

    Only prose may be quoted (`quotable`). A prose sentence that refers back to the prose
    sentence before it in the chunk ("It is ...") and lacks question words that one holds is
    scored with the union of both sentences' words, and its `antecedent` is that
    sentence's start."""
    weights = term_weights(question)
    terms = list(weights)
    bit_of = {term: 1 << bit for bit, term in enumerate(terms)}
    sentences: list[StoredSentence] = []
    passage_of: list[int] = []
    masks: list[int] = []  # the question words each sentence holds, as bits of `terms`
    window_masks: list[int] = []  # the same for the sentence and its neighbours
    lengths: list[int] = []  # content words in each sentence
    leads: list[float] = []  # 1.0 for a document's first sentence
    doc_masks: dict[str, int] = {}  # the same over every retrieved sentence of a document
    members: list[list[int]] = []
    previous: list[str] = []
    prose: list[bool] = []
    antecedents: list[int] = []
    headers: list[StoredSentence | None] = []
    row_of: dict[tuple[str, int], int] = {}
    for index, passage in enumerate(passages):
        chunk = passage.chunk
        words_in_chunk = [token_set(s.text) for s in chunk.sentences]
        held = [_mask(words, terms, bit_of) for words in words_in_chunk]
        doc_mask = doc_masks.get(chunk.doc_id, 0)
        for mask in held:
            doc_mask |= mask
        doc_masks[chunk.doc_id] = doc_mask
        padded = [0, *held, 0]
        rows: list[int] = []
        members.append(rows)
        for i, sentence in enumerate(chunk.sentences):
            key = (sentence.doc_id, sentence.start)
            row = row_of.get(key)
            if row is None:  # else the best passage holding it came first
                row = row_of[key] = len(sentences)
                sentences.append(sentence)
                passage_of.append(index)
                referent = _antecedent_mask(chunk, held, i) if i else 0
                header = _header_row(chunk, i)
                masks.append(held[i] | referent | (held[header] if header >= 0 else 0))
                antecedents.append(chunk.sentences[i - 1].start if referent else -1)
                prose.append(quotable(sentence.text))
                window_masks.append(padded[i] | padded[i + 1] | padded[i + 2])
                lengths.append(content_words(words_in_chunk[i]))
                leads.append(1.0 if i == 0 and chunk.chunk_id.endswith("#0") else 0.0)
                before = header if header >= 0 else i - 1
                previous.append(chunk.sentences[before].text if before >= 0 else "")
                headers.append(chunk.sentences[header] if header >= 0 else None)
            rows.append(row)
    if not sentences:
        return Candidates([], [], [], [], np.zeros((0, len(FEATURES))), members)
    share = _Shares(weights)
    overlap = np.array([share(mask) for mask in masks])
    # The same matrix as np.stack makes, in a third of the time.
    dense = np.concatenate([s.vector for s in sentences]).reshape(len(sentences), -1) @ vector
    matrix = np.empty((len(sentences), len(FEATURES)), dtype=np.float64)
    column = _COLUMN
    matrix[:, column["dense"]] = dense
    matrix[:, column["dense_gap"]] = dense - dense.max()
    matrix[:, column["overlap"]] = overlap
    matrix[:, column["overlap_gap"]] = overlap - overlap.max()
    matrix[:, column["window_overlap"]] = [share(mask) for mask in window_masks]
    rarest = _Shares(dict(sorted(weights.items(), key=lambda kv: -kv[1])[:2]), terms)
    context = {doc: (share(mask), rarest(mask)) for doc, mask in doc_masks.items()}
    per_passage = _passage_features(vector, passages, context)
    matrix[:, [column[name] for name in _PASSAGE_FEATURES]] = per_passage[passage_of]
    kind = question_type(question)
    if kind is None:
        matrix[:, column["type_match"]] = 0.0
        matrix[:, column["type_miss"]] = 0.0
    else:
        question_lower = question.lower()
        match = np.array([holds_type_lower(s.text, kind, question_lower) for s in sentences])
        matrix[:, column["type_match"]] = match
        matrix[:, column["type_miss"]] = 1.0 - match
    matrix[:, column["length"]] = np.minimum(1.0, np.array(lengths) / 40)
    matrix[:, column["lead"]] = leads
    titles = [passages[p].chunk.title for p in passage_of]
    words = [share.words(mask) for mask in masks]
    return Candidates(
        sentences,
        titles,
        passage_of,
        words,
        matrix,
        members,
        previous,
        prose,
        antecedents,
        headers,
    )


def _header_row(chunk: StoredChunk, i: int) -> int:
    """The index of the header row of the table whose row is sentence `i` of `chunk` (the
    first of the rows just before it in the chunk: "Cluster; Machines; Disk space" over
    "B; 227; 180 TB"), or -1: not a row, the first row, or the rows reach back to the start of
    a chunk that is not the document's first and the first of them gives figures (the table
    may start in the chunk before). A row is scored with its header's question words, and
    read with it."""
    sentences = chunk.sentences
    if i == 0 or not in_table(sentences[i].text) or not in_table(sentences[i - 1].text):
        return -1
    first = i - 1
    while first > 0 and in_table(sentences[first - 1].text):
        first -= 1
    if first == 0 and not chunk.chunk_id.endswith("#0") and quotable(sentences[0].text):
        return -1  # the table may start in the chunk before: a row with figures is no header
    return first


def _antecedent_mask(chunk: StoredChunk, held: list[int], i: int) -> int:
    """The question words (bits of `held`, one mask per sentence of `chunk`) that sentence `i`
    lacks and the sentence before it holds, when `i` refers back to it, both are prose and in
    the same block (no blank line between: a list item does not refer to the one before);
    else 0 (`i` > 0). Cheapest test first: most sentences lack nothing their neighbour has."""
    sentences = chunk.sentences
    missing = held[i - 1] & ~held[i]
    if not missing or not refers_back(sentences[i].text):
        return 0
    if not (quotable(sentences[i].text) and quotable(sentences[i - 1].text)):
        return 0
    between = chunk.text[sentences[i - 1].end - chunk.start : sentences[i].start - chunk.start]
    return 0 if "\n\n" in between else missing


def _mask(words: frozenset[str], terms: list[str], bit_of: dict[str, int]) -> int:
    """The bits of `terms` (bit i: `terms[i]`, as `bit_of` maps them) that `words` holds."""
    mask = 0
    for term in words.intersection(terms):
        mask |= bit_of[term]
    return mask


class _Shares:
    """`weighted_overlap(weights, words of mask)` for bit masks over `terms` (default: the keys
    of `weights`), each distinct mask computed once. Sums in the order of `weights`, as
    `weighted_overlap` does, so the floats are the same."""

    def __init__(self, weights: dict[str, float], terms: list[str] | None = None) -> None:
        self.weights = weights
        self.terms = list(weights) if terms is None else terms
        self.found: dict[int, float] = {}
        self.sets: dict[int, frozenset[str]] = {}

    def words(self, mask: int) -> frozenset[str]:
        """The terms whose bits are set in `mask`."""
        words = self.sets.get(mask)
        if words is None:
            words = self.sets[mask] = frozenset(
                t for bit, t in enumerate(self.terms) if mask >> bit & 1
            )
        return words

    def __call__(self, mask: int) -> float:
        value = self.found.get(mask)
        if value is None:
            value = self.found[mask] = weighted_overlap(self.weights, self.words(mask))
        return value


_COLUMN = {name: i for i, name in enumerate(FEATURES)}

# The features that are the same for every sentence of a passage, in `_passage_features` order.
_PASSAGE_FEATURES = (
    "passage_dense",
    "context_coverage",
    "context_rare",
    "passage_rank",
    "lexical_rank",
    "dense_rank",
)


def _passage_features(
    vector: np.ndarray, passages: list[Passage], context: dict[str, tuple[float, float]]
) -> np.ndarray:
    """One row of `_PASSAGE_FEATURES` per passage; `context`: doc_id -> its two context ones."""
    return np.array([
        (float(np.dot(vector, p.chunk.vector)), *context[p.chunk.doc_id], 1.0 / p.rank,
         1.0 / p.lexical_rank if p.lexical_rank else 0.0,
         1.0 / p.dense_rank if p.dense_rank else 0.0)
        for p in passages
    ], dtype=np.float64)  # fmt: skip


@dataclass(frozen=True)
class Judged:
    """What the answerer makes of one question's candidates, before it words an answer."""

    found: Candidates
    scores: np.ndarray  # each row's score (with the reader's, when read); -inf: not quotable
    order: list[int]  # the quotable rows, best first
    spans: dict[int, Span | None]  # the reader's short answer span of each row it read
    model: ScoringModel  # with the calibration in use (the reader's cascade's, when read)
    confidence: float  # that the first row answers (0.0: no quotable row)


def judge(
    question: str,
    vector: np.ndarray,
    passages: list[Passage],
    model: ScoringModel,
    found: Candidates | None = None,
    reader: Reader | None = None,
) -> Judged:
    """Score the sentences of `passages` (with `reader`: the cascade, see `rescore`) and rank
    the quotable ones. `found`: the candidates of these passages when already computed."""
    found = found if found is not None else candidates(question, vector, passages)
    scores = only_quotable(found, model.scores(found.matrix) if found.sentences else np.zeros(0))
    spans: dict[int, Span | None] = {}
    if reader is not None and np.isfinite(scores).any():
        scores, spans = rescore(question, found, scores, reader)
        model = with_calibration(model, reader.cascade)
    # Best first; ties by document order. Plain floats sort much faster than numpy scalars.
    ranked = sorted(
        zip((-scores).tolist(), [s.doc_id for s in found.sentences],
            [s.start for s in found.sentences], range(len(scores)), strict=True)
    )  # fmt: skip
    order = [j for minus, *_, j in ranked if minus < math.inf]  # quotable rows only
    judged = Judged(found, scores, order, spans, model, 0.0)
    return replace(judged, confidence=row_confidence(judged, order[0])) if order else judged


def row_confidence(judged: Judged, j: int) -> float:
    """The calibrated probability that row `j` answers: the calibration of the first row, fed
    row `j`'s score, its margin over the best other row (negative below the first) and its
    features. For the first row it is the answer's confidence."""
    scores, order = judged.scores, judged.order
    margin = 0.0
    if len(order) > 1:
        margin = float(scores[j] - scores[order[1] if j == order[0] else order[0]])
    return judged.model.confidence(float(scores[j]), margin, judged.found.matrix[j])


def candidate_rows(
    order: list[int], found: Candidates, passages: list[Passage], limit: int = MAX_CANDIDATES
) -> list[int]:
    """The best rows of `order`, at most `limit`, each from another passage, none inside the
    passage of one taken before (chunks overlap: a neighbour chunk's sentence is the same
    text)."""
    rows: list[int] = []
    for j in order:
        sentence = found.sentences[j]
        taken = (passages[found.passage_of[k]].chunk for k in rows)
        if any(found.passage_of[k] == found.passage_of[j] or (
            c.doc_id == sentence.doc_id and c.start <= sentence.start < c.end) for k, c in
            zip(rows, taken, strict=True)):  # fmt: skip
            continue
        rows.append(j)
        if len(rows) >= limit:
            break
    return rows


def answer(
    question: str,
    vector: np.ndarray,
    passages: list[Passage],
    model: ScoringModel,
    max_sentences: int = 2,
    top_k: int | None = None,
    short: bool = True,
    found: Candidates | None = None,
    reader: Reader | None = None,
    fetch: ChunkFetcher | None = None,
) -> Answer:
    """Score the sentences of `passages` and build the cited answer, the candidates or the
    abstention (the outcome by the first quote's confidence, `ScoringModel.outcome_of`).

    The first `top_k` passages (all when None), re-ordered by their best sentence, are reported.
    With `short`, a short answer is looked for in the first quote (outcome `answer` only).
    `found`: the candidates of these passages when already computed. `reader`: re-scores the
    best few (see `rescore`) and gives the short answer when its span is likely enough.
    `fetch(chunk_id)`: a chunk of the store, for a quote's context at a chunk's edge. Only
    prose is quoted: when no candidate is, the outcome is `none`."""
    judged = judge(question, vector, passages, model, found, reader)
    outcome = model.outcome_of(judged.confidence) if judged.order else "none"
    return respond(question, judged, passages, outcome, max_sentences, top_k, short, reader, fetch)


def respond(
    question: str,
    judged: Judged,
    passages: list[Passage],
    outcome: str,
    max_sentences: int = 2,
    top_k: int | None = None,
    short: bool = True,
    reader: Reader | None = None,
    fetch: ChunkFetcher | None = None,
) -> Answer:
    """The `Answer` for `outcome` (one of `OUTCOMES`; `answer` and `candidates` need a
    quotable row) from what `judge` made of `passages` (see `answer` for the rest)."""
    found, scores, order = judged.found, judged.scores, judged.order
    shown = rerank_passages(passages, found, scores)[: top_k or len(passages)]
    passages_out = [
        PassageOut(p.chunk.doc_id, p.chunk.chunk_id, p.chunk.text, p.chunk.start, p.chunk.end,
                   round(_sigmoid(best), 6) if best > -math.inf else 0.0)
        for p, best in shown
    ]  # fmt: skip
    confidence = round(judged.confidence, 4)
    if outcome == "none" or not order:
        return Answer(question, False, render_abstention(question), confidence, [],
                      passages_out, outcome="none")  # fmt: skip
    if outcome == "candidates":
        rows = candidate_rows(order, found, passages)
        citations = _citations(rows, judged, passages, fetch)
        return Answer(question, False, render_candidates(citations), confidence, citations,
                      passages_out, outcome="candidates")  # fmt: skip
    chosen = _choose(order, found, scores, max_sentences)
    citations = _citations(chosen, judged, passages, fetch)
    first = found.sentences[chosen[0]]
    short_answer = None
    if short:
        short_answer = reader_short_answer(first, judged.spans.get(chosen[0]), reader)
        if short_answer is None:
            kind = question_type(question)
            short_answer = find_short_answer(
                question, kind, first.text, first.doc_id, first.start, first.entities
            )
    return Answer(
        question,
        True,
        render_answer(citations),
        confidence,
        citations,
        passages_out,
        short_answer=short_answer,
        outcome="answer",
    )


def only_quotable(found: Candidates, scores: np.ndarray) -> np.ndarray:
    """`scores` with -inf for the rows that may not be quoted on their own (headings, list
    fragments, references, boilerplate): they never win, and a passage holding only those
    scores 0. `found.quotable` empty: every row may be quoted."""
    if not found.quotable or all(found.quotable):
        return scores
    return np.where(np.asarray(found.quotable, dtype=bool), scores, -np.inf)


def _citations(
    chosen: list[int], judged: Judged, passages: list[Passage], fetch: ChunkFetcher | None
) -> list[Citation]:
    """One citation per chosen row, numbered from 1, with its context and confidence. A row
    with an `antecedent` whose sentence is not itself chosen is quoted from that sentence's
    start: one verbatim slice of its chunk."""
    found = judged.found
    starts = {(found.sentences[j].doc_id, found.sentences[j].start) for j in chosen}
    chunks = [p.chunk for p in passages]
    citations = []
    for n, j in enumerate(chosen, start=1):
        sentence = found.sentences[j]
        start, quote = sentence.start, sentence.text
        before = found.antecedent[j] if found.antecedent else -1
        if before >= 0 and (sentence.doc_id, before) not in starts:
            chunk = passages[found.passage_of[j]].chunk
            start, quote = before, chunk.text[before - chunk.start : sentence.end - chunk.start]
        around = quote_context(sentence.doc_id, start, sentence.end, quote, chunks, fetch)
        header = found.headers[j] if found.headers else None
        citations.append(Citation(
            n, sentence.doc_id, found.titles[j], quote, start, sentence.end,
            round(_sigmoid(float(judged.scores[j])), 4), context_start=around.start,
            context_end=around.end, context=around.text,
            confidence=round(row_confidence(judged, j), 4),
            header=header.text if header else None, header_start=header.start if header
            else None, header_end=header.end if header else None,
        ))  # fmt: skip
    return citations


def rescore(
    question: str, found: Candidates, scores: np.ndarray, reader: Reader
) -> tuple[np.ndarray, dict[int, Span | None]]:
    """The cascade: the reader reads the `cascade.candidates` best rows by the cheap `scores`
    (only the best when the cheap score is sure, see `Cascade.depth`; rows scored -inf, which
    may not be quoted, are not read; one onnxruntime call). Out: the combined scores (see
    `combine`) and the reader's span of each row it read."""
    cascade = reader.cascade
    top = np.argsort(-scores, kind="stable")[: cascade.candidates]
    top = top[np.isfinite(scores[top])]
    top = top[: cascade.depth(scores, top)]
    windows = [
        Window(found.sentences[j].text, found.previous[j] if found.previous else "",
               found.titles[j])
        for j in top.tolist()
    ]  # fmt: skip
    read = reader.score(question, windows)
    return combine(scores, top, read.relevance, cascade), dict(
        zip(top.tolist(), read.spans, strict=True)
    )


def combine(
    scores: np.ndarray, top: np.ndarray, relevance: np.ndarray, cascade: Cascade
) -> np.ndarray:
    """Rows `top` get cheap + weight * (reader logit - offset); the others, which the reader
    did not read, get cheap + weight * (the lowest logit read - offset), so they never overtake
    a row that was read (their cheap score is no higher) and keep their order."""
    if len(top) == 0:
        return scores
    combined = scores + cascade.weight * (float(relevance.min()) - cascade.offset)
    combined[top] = scores[top] + cascade.weight * (relevance - cascade.offset)
    return combined


def always_quoting(model: ScoringModel) -> ScoringModel:
    """`model` with both cut points at 0: the outcome is always `answer` when a sentence may be
    quoted (how the evaluations measure the choice of the first quote)."""
    return replace(model, threshold=0.0, answer_threshold=None)


def with_calibration(model: ScoringModel, cascade: Cascade) -> ScoringModel:
    """`model` with the cascade's confidence calibration (fitted on the combined scores), when
    it has one; the threshold stays the model's."""
    if cascade.calibration is None or len(cascade.calibration) != len(model.calibration):
        return model
    return replace(
        model, calibration=cascade.calibration, calibration_bias=cascade.calibration_bias
    )


def reader_short_answer(
    sentence: StoredSentence, span: Span | None, reader: Reader | None
) -> ShortAnswer | None:
    """The reader's span in `sentence` as the short answer, when likely enough."""
    if reader is None or span is None or span.probability < reader.cascade.span_floor:
        return None
    text = sentence.text[span.start : span.end]
    if not text.strip():
        return None
    return ShortAnswer(text, sentence.start + span.start, sentence.start + span.end,
                       sentence.doc_id)  # fmt: skip


def rerank_passages(
    passages: list[Passage], found: Candidates, scores: np.ndarray
) -> list[tuple[Passage, float]]:
    """`passages` ordered by the best score of the sentences they hold (ties: fused rank),
    each with that score (a logit; its sigmoid is the passage's reported score). `found`: the
    candidates of these same `passages`, `scores` theirs."""
    values = scores.tolist()
    best = [max((values[j] for j in rows), default=-math.inf) for rows in found.members]
    order = sorted(range(len(passages)), key=lambda p: (-best[p], p))
    return [(passages[p], best[p]) for p in order]


def _choose(order: list[int], found: Candidates, scores: np.ndarray, limit: int) -> list[int]:
    """The best sentence, plus close runners-up from its passage that add question words."""
    chosen = [order[0]]
    covered = set(found.words[order[0]])
    for j in order[1 : 1 + 4]:
        if len(chosen) >= limit or scores[j] < scores[order[0]] - 1.0:
            break
        if found.words[j] - covered and found.passage_of[j] == found.passage_of[order[0]]:
            chosen.append(j)
            covered |= found.words[j]
    return chosen


@lru_cache(maxsize=1)
def _template():  # type: ignore[no-untyped-def]
    """The answer template, compiled once. `auto_reload=False`: jinja2 would otherwise stat the
    file on every answer to see whether it changed; it is part of the installed code."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # Plain-text output: the web page escapes it when it shows it.
    environment = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    return environment.get_template("answer.txt.j2")


CONFIDENCE_WORDS = ((0.85, "high"), (0.6, "medium"), (0.0, "low"))


def confidence_words(confidence: float) -> str:
    """`high`, `medium` or `low`, for people reading a confidence."""
    return next(word for floor, word in CONFIDENCE_WORDS if confidence >= floor)


def render_answer(citations: list[Citation]) -> str:
    """The answer text: each quote followed by its `[n]` marker."""
    return _template().render(citations=citations, answered=True, outcome="answer").strip()


def render_candidates(citations: list[Citation]) -> str:
    """The sentence said when the cited passages may answer, none surely."""
    return _template().render(citations=citations, answered=False, outcome="candidates").strip()


def render_abstention(question: str) -> str:
    """The sentence said when the documents do not answer `question`."""
    return (
        _template().render(citations=[], answered=False, question=question, outcome="none").strip()
    )
