"""Sentence choice, abstention, the scoring file and short answers (fake embedder, no model)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa.answer import (
    FEATURES,
    Answer,
    ScoringModel,
    answer,
    candidates,
    combine,
    with_calibration,
)
from qa.lexical import term_weights, token_set, weighted_overlap
from qa.pipeline import load_scoring
from qa.reader import Cascade, ReaderScores, Span, Window
from qa.resources import PackageDataError, scoring_file
from qa.retrieval import Passage
from qa.short_answer import find_short_answer, holds_type, question_type
from qa.stores.base import StoredChunk, StoredSentence
from tests.support.fakes import FakeEmbedder

TEXT = (
    "The bridge was opened in 1932 by the mayor. "
    "It is painted red and crosses the river. "
    "Ferries stopped running after the bridge opened."
)


def _passages(embedder: FakeEmbedder, text: str = TEXT, doc_id: str = "d.txt") -> list[Passage]:
    """One chunk holding every sentence of `text` (split at '. ')."""
    pieces, start = [], 0
    for part in text.split(". "):
        part = part if part.endswith(".") else part + "."
        begin = text.index(part, start)
        pieces.append((begin, begin + len(part)))
        start = begin + len(part)
    vectors = embedder.encode([text[s:e] for s, e in pieces] + [text])
    sentences = [
        StoredSentence(doc_id, s, e, text[s:e], vectors[i]) for i, (s, e) in enumerate(pieces)
    ]
    chunk = StoredChunk(f"{doc_id}#0", doc_id, "Doc", 0, len(text), text, sentences, vectors[-1])
    return [Passage(chunk, 0.03, 1, 0.5, 1, 1)]


def _ask(question: str, model: ScoringModel, **kwargs):  # type: ignore[no-untyped-def]
    embedder = FakeEmbedder()
    vector = embedder.encode([question])[0]
    return answer(question, vector, _passages(embedder), model, **kwargs)


def test_candidates_have_every_feature_in_range() -> None:
    embedder = FakeEmbedder()
    question = "When was the bridge opened?"
    found = candidates(question, embedder.encode([question])[0], _passages(embedder))
    assert found.matrix.shape == (3, len(FEATURES))
    column = dict(zip(FEATURES, found.matrix.T, strict=True))
    assert column["overlap"].max() == pytest.approx(1.0)  # "bridge" and "opened" both there
    assert column["dense_gap"].max() == 0.0 and (column["dense_gap"] <= 0).all()
    assert column["type_match"].tolist() == [1.0, 0.0, 0.0]  # only the first names a year
    assert column["type_miss"].tolist() == [0.0, 1.0, 1.0]
    assert (column["passage_rank"] == 1.0).all()
    assert column["lead"].tolist() == [1.0, 0.0, 0.0]  # the document's first sentence only


def test_lead_is_the_first_sentence_of_a_document_not_of_a_later_chunk() -> None:
    embedder = FakeEmbedder()
    first = _passages(embedder)[0]
    later = replace(first, chunk=replace(first.chunk, chunk_id="d.txt#3"))
    question = "When was the bridge opened?"
    found = candidates(question, embedder.encode([question])[0], [later])
    assert found.matrix[:, FEATURES.index("lead")].tolist() == [0.0, 0.0, 0.0]


def test_the_sentence_holding_the_asked_for_kind_wins() -> None:
    model = ScoringModel(("overlap", "type_match"), (1.0, 2.0), -1.0, threshold=0.0)
    result = _ask("When was the bridge opened?", model, short=False)
    assert result.answered
    first = result.citations[0]
    assert first.quote == "The bridge was opened in 1932 by the mayor."
    assert TEXT[first.start : first.end] == first.quote
    assert result.answer.startswith(f"{first.quote} [1]")


def test_a_row_named_by_the_letter_a_matches_the_question_naming_it() -> None:
    embedder = FakeEmbedder()
    text = "Cluster B holds 227 chunkservers. Cluster A holds 342 chunkservers in all."
    question = "How many chunkservers does cluster A have?"
    found = candidates(question, embedder.encode([question])[0], _passages(embedder, text))
    overlap = found.matrix[:, FEATURES.index("overlap")]
    assert overlap[1] > overlap[0]  # "A" is the only question word that tells them apart


def test_abstains_below_the_threshold_and_keeps_the_confidence() -> None:
    model = ScoringModel(("overlap",), (1.0,), -1.0, threshold=0.99)
    result = _ask("When was the bridge opened?", model)
    assert not result.answered and result.citations == [] and result.short_answer is None
    assert "do not answer" in result.answer
    assert 0.0 < result.confidence < 0.99
    assert result.passages  # the passages are still shown


def test_confidence_is_the_calibrated_best_score() -> None:
    model = ScoringModel(("overlap",), (2.0,), 0.0, (0.5, 0.0), -0.25, threshold=0.0)
    result = _ask("When was the bridge opened?", model, short=False)
    # best overlap 1.0 -> score 2.0 -> sigmoid(0.5 * 2.0 - 0.25)
    assert result.confidence == pytest.approx(1 / (1 + np.exp(-0.75)), abs=1e-4)


def test_answer_to_dict_keeps_the_contract_and_adds_short_answer() -> None:
    model = ScoringModel(("overlap",), (5.0,), 0.0, threshold=0.0)
    data = _ask("Which river does the bridge cross?", model, short=False).to_dict()
    assert set(data) == {
        "question", "answered", "answer", "confidence", "citations", "passages", "took_ms",
        "short_answer", "outcome",
    }  # fmt: skip
    assert set(data["citations"][0]) == {
        "n", "doc_id", "title", "quote", "start", "end", "score", "page", "section",
        "context_start", "context_end", "context", "confidence", "header", "header_start",
        "header_end",
    }  # fmt: skip
    assert (data["citations"][0]["page"], data["citations"][0]["section"]) == (None, None)
    assert set(data["passages"][0]) == {"doc_id", "chunk_id", "text", "start", "end", "score"}
    assert data["short_answer"] is None


def test_passages_are_cut_to_top_k_after_reordering() -> None:
    embedder = FakeEmbedder()
    question = "What colour is the bridge painted?"
    first = _passages(embedder, "Nothing here matters. Really nothing.", "a.txt")[0]
    second = replace(_passages(embedder)[0], rank=2)
    model = ScoringModel(("overlap",), (5.0,), 0.0, threshold=0.0)
    result = answer(question, embedder.encode([question])[0], [first, second], model, top_k=1)
    assert [p.doc_id for p in result.passages] == ["d.txt"]  # re-ordered by its best sentence
    # "It" is the bridge the question names, in the sentence before: both are quoted.
    assert result.citations[0].quote == TEXT[: TEXT.index(" Ferries")]
    both = answer(question, embedder.encode([question])[0], [first, second], model)
    assert [p.doc_id for p in both.passages] == ["d.txt", "a.txt"]
    assert 1.0 >= both.passages[0].score > both.passages[1].score >= 0.0


def test_scoring_model_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ScoringModel(("dense",), (1.0,), 0.0, threshold=1.5)
    with pytest.raises(ValueError, match="differ"):
        ScoringModel(("dense",), (1.0, 2.0), 0.0)
    with pytest.raises(ValueError, match="unknown"):
        ScoringModel(("shoe_size",), (1.0,), 0.0)
    with pytest.raises(ValueError, match="calibration"):
        ScoringModel(("dense",), (1.0,), 0.0, calibration=(1.0,))


def test_scoring_file_round_trip_and_threshold_override(tmp_path) -> None:
    model = ScoringModel(
        ("dense", "overlap"), (1.5, 2.5), -3.0, (0.8, 0.1, 2.0), -0.2, 0.35,
        ("best_score", "margin", "context_coverage"),
    )  # fmt: skip
    path = tmp_path / "scoring.json"
    path.write_text(model.to_json({"data": "test"}))
    assert ScoringModel.from_file(path) == model
    assert load_scoring(path, threshold=0.9).threshold == 0.9


@pytest.mark.parametrize("content", [None, "{not json", '{"features": ["dense"]}', "[]"])
def test_a_missing_or_corrupt_scoring_file_is_an_error_not_a_fallback(tmp_path, content) -> None:
    path = tmp_path / "scoring.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PackageDataError, match="scoring model.*reinstall"):
        load_scoring(path)


def test_the_shipped_scoring_file_is_fitted_and_says_how() -> None:
    data = json.loads(scoring_file().read_text())
    model = ScoringModel.from_file(scoring_file())
    assert set(model.features) <= set(FEATURES)
    assert 0.0 < model.threshold < 1.0
    # Fitted on SQuAD train and TyDi half 0, never on the sets `qa eval` reports.
    assert data["fitted"]["data"]["squad_train_questions"] > 1000
    assert data["fitted"]["data"]["tydi_half0_questions"] > 500
    assert data["fitted"]["command"].startswith("qa eval fit --squad-train")


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When did Luxon take office?", "date"),
        ("In what year was the bridge opened?", "date"),
        ("How many nations attend the meeting?", "number"),
        ("Who patented the espresso machine?", "person"),
        ("Where is the tower?", "place"),
        ("Which team won Super Bowl 50?", "organization"),
        ("Why did the ferries stop?", None),
        ("What does China consider Taiwan?", None),
    ],
)
def test_question_type(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_holds_type_ignores_what_the_question_already_names() -> None:
    assert holds_type("It opened in 1932.", "date", "When did it open?")
    assert not holds_type("It opened in 1932.", "date", "What happened in 1932?")
    assert holds_type("Bezzera improved it.", "person", "Who improved the machine?")
    assert not holds_type("it was improved later.", "person", "Who improved the machine?")
    assert not holds_type("It opened in 1932.", None, "Why?")


def test_short_answer_is_an_entity_of_the_asked_kind_with_document_offsets() -> None:
    sentence = "Luxon took office in November 2023 after the election."
    found = find_short_answer("When did Luxon take office?", "date", sentence, "d.txt", 100)
    assert found is not None
    assert found.text == "November 2023"
    assert (found.start, found.end, found.doc_id) == (121, 134, "d.txt")
    assert sentence[found.start - 100 : found.end - 100] == found.text


def test_no_short_answer_without_a_fitting_candidate() -> None:
    sentence = "Luxon took office after the election."
    assert find_short_answer("When did Luxon take office?", "date", sentence, "d", 0) is None
    assert find_short_answer("Who is Luxon?", "person", "Luxon is Luxon.", "d", 0) is None
    assert find_short_answer("Why?", None, sentence, "d", 0) is None


def _chunk_passage(
    embedder: FakeEmbedder, text: str, doc_id: str, spans: list[tuple[int, int]], rank: int
) -> Passage:
    """A passage whose chunk holds the sentences `spans` of `text` (offsets into it)."""
    vectors = embedder.encode([text[s:e] for s, e in spans])
    sentences = [
        StoredSentence(doc_id, s, e, text[s:e], v) for (s, e), v in zip(spans, vectors, strict=True)
    ]
    start, end = spans[0][0], spans[-1][1]
    chunk = StoredChunk(
        f"{doc_id}#{rank}", doc_id, doc_id.upper(), start, end, text[start:end], sentences,
        embedder.encode([text[start:end]])[0],
    )  # fmt: skip
    return Passage(chunk, 1 / (60 + rank), rank, None, rank if rank != 2 else None, rank)


def _overlapping_passages(embedder: FakeEmbedder) -> list[Passage]:
    """d.txt split into two overlapping chunks (sharing the middle sentence) and e.txt."""
    spans = [(0, 43), (44, 84), (85, 133)]
    other = "Walker ran the ferry until 1940. The ferry crossed the river daily."
    return [
        _chunk_passage(embedder, TEXT, "d.txt", spans[1:], 1),
        _chunk_passage(embedder, other, "e.txt", [(0, 32), (33, 67)], 2),
        _chunk_passage(embedder, TEXT, "d.txt", spans[:2], 3),
    ]


def test_candidates_features_match_a_plain_computation() -> None:
    """Each feature, recomputed here the slow obvious way (word sets per sentence, window and
    document), equals what `candidates` computes with its shortcuts, to the bit."""
    embedder = FakeEmbedder()
    passages = _overlapping_passages(embedder)
    question = "When did the ferry stop crossing the river after the bridge opened?"
    vector = embedder.encode([question])[0]
    found = candidates(question, vector, passages)
    weights = term_weights(question)
    rarest = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:2])
    doc_words: dict[str, set[str]] = {}
    for p in passages:
        for s in p.chunk.sentences:
            doc_words.setdefault(s.doc_id, set()).update(token_set(s.text))
    expected, seen = [], set()
    for p in passages:
        texts = [s.text for s in p.chunk.sentences]
        for i, s in enumerate(p.chunk.sentences):
            if (s.doc_id, s.start) in seen:
                continue
            seen.add((s.doc_id, s.start))
            window = set().union(*(token_set(t) for t in texts[max(0, i - 1) : i + 2]))
            expected.append((s.text, [
                float(np.dot(vector, p.chunk.vector)),
                weighted_overlap(weights, token_set(s.text)),
                weighted_overlap(weights, window),
                weighted_overlap(weights, doc_words[s.doc_id]),
                weighted_overlap(rarest, doc_words[s.doc_id]),
                1.0 / p.rank,
                1.0 / p.lexical_rank if p.lexical_rank else 0.0,
                1.0 / p.dense_rank if p.dense_rank else 0.0,
                min(1.0, len(token_set(s.text)) / 40),
            ]))  # fmt: skip
    assert [s.text for s in found.sentences] == [text for text, _ in expected]
    names = [
        "passage_dense", "overlap", "window_overlap", "context_coverage", "context_rare",
        "passage_rank", "lexical_rank", "dense_rank", "length",
    ]  # fmt: skip
    columns = [FEATURES.index(n) for n in names]
    assert found.matrix[:, columns].tolist() == [row for _, row in expected]
    assert found.passage_of == [0, 0, 1, 1, 2]
    assert found.members == [[0, 1], [2, 3], [4, 0]]  # the shared sentence: row 0, once
    assert found.words[0] == frozenset(token_set(found.sentences[0].text)) & set(weights)


def test_a_sentence_shared_by_two_passages_counts_for_both() -> None:
    embedder = FakeEmbedder()
    passages = _overlapping_passages(embedder)
    question = "What colour is the bridge painted?"
    model = ScoringModel(("overlap",), (5.0,), 0.0, threshold=0.0)
    result = answer(question, embedder.encode([question])[0], passages, model, short=False)
    assert result.citations[0].quote == "It is painted red and crosses the river."
    by_chunk = {p.chunk_id: p.score for p in result.passages}
    # Both d.txt chunks hold the quoted sentence, which was kept once (from the first).
    assert by_chunk["d.txt#1"] == by_chunk["d.txt#3"] > by_chunk["e.txt#2"]
    assert [p.chunk_id for p in result.passages] == ["d.txt#1", "d.txt#3", "e.txt#2"]


def test_loading_a_snapshot_prepares_the_signals_of_its_sentences(docs, make_assistant):
    import qa.short_answer as short_answer

    assistant = make_assistant(docs, FakeEmbedder())
    assistant.refresh(switch=False)
    token_set.cache_clear()
    short_answer._mentions.cache_clear()
    snapshot = assistant.snapshot()
    texts = snapshot.sentence_texts(10_000)
    assert len(texts) > 5
    assert token_set.cache_info().currsize == len(set(texts))
    hits = short_answer._mentions.cache_info().hits
    holds_type(texts[0], "date", "When was it?")  # answered from what the load computed
    assert short_answer._mentions.cache_info().hits == hits + 1


class _FakeReader:
    """Stands in for `qa.reader.Reader`: relevance from a word, the span of a given text."""

    def __init__(self, word: str, span_text: str, cascade: Cascade = Cascade(candidates=3)):
        self.word, self.span_text, self.cascade = word, span_text, cascade
        self.seen: list[Window] = []

    def score(self, question: str, windows: list[Window]) -> ReaderScores:
        self.seen += windows
        relevance = np.array([5.0 if self.word in w.sentence else -5.0 for w in windows])
        spans = []
        for w in windows:
            at = w.sentence.find(self.span_text)
            spans.append(Span(at, at + len(self.span_text), 0.9) if at >= 0 else None)
        return ReaderScores(relevance, spans)


def test_the_reader_reorders_the_best_candidates_and_gives_the_short_answer() -> None:
    model = ScoringModel(("overlap",), (1.0,), 0.0, threshold=0.0)
    reader = _FakeReader("red", "red")
    result = _ask("Which bridge was opened?", model, reader=reader)  # type: ignore[arg-type]
    first = result.citations[0]
    chosen = "It is painted red and crosses the river."
    assert first.quote.endswith(chosen)  # with the sentence naming the bridge before it
    previous = {w.sentence: w.previous for w in reader.seen}
    assert previous[chosen] == "The bridge was opened in 1932 by the mayor."
    assert previous["The bridge was opened in 1932 by the mayor."] == ""
    assert {w.title for w in reader.seen} == {"Doc"}
    short = result.short_answer
    assert short is not None and short.text == "red" and TEXT[short.start : short.end] == "red"
    without = _ask("Which bridge was opened?", model)
    assert without.citations[0].quote == "The bridge was opened in 1932 by the mayor."


def test_an_unlikely_reader_span_falls_back_to_the_entity_short_answer() -> None:
    model = ScoringModel(("overlap", "type_match"), (1.0, 2.0), -1.0, threshold=0.0)
    reader = _FakeReader("1932", "mayor", Cascade(candidates=2, span_floor=0.95))
    result = _ask("When was the bridge opened?", model, reader=reader)  # type: ignore[arg-type]
    assert result.short_answer is not None and result.short_answer.text == "1932"


def test_combine_never_lets_an_unread_row_overtake_a_read_one() -> None:
    scores = np.array([3.0, 2.0, 1.0, 0.5])
    top = np.array([0, 1])
    combined = combine(scores, top, np.array([-4.0, 2.0]), Cascade(weight=1.0, offset=1.0))
    assert combined.tolist() == [-2.0, 3.0, -4.0, -4.5]
    assert np.argmax(combined) == 1


def test_the_cascade_calibration_replaces_the_models_own() -> None:
    model = ScoringModel(("overlap",), (1.0,), 0.0, (1.0, 0.0), 0.0, threshold=0.3)
    same = with_calibration(model, Cascade())
    assert same is model
    other = with_calibration(model, Cascade(calibration=(2.0, 1.0), calibration_bias=-1.0))
    assert other.calibration == (2.0, 1.0) and other.calibration_bias == -1.0
    assert other.threshold == 0.3


def test_a_sure_cheap_score_reads_only_its_best_sentence() -> None:
    # Only the first sentence names a year: it wins by a wide margin. (By overlap, "It is
    # painted red" would tie: it is scored with the sentence before, which names the mayor.)
    model = ScoringModel(("type_match",), (8.0,), -1.0, threshold=0.0)
    sure = _FakeReader("red", "1932", Cascade(candidates=3, weight=5.0, gate=1.0, span_floor=0.0))
    result = _ask("In which year did the mayor open it?", model, reader=sure)  # type: ignore[arg-type]
    assert [w.sentence for w in sure.seen] == ["The bridge was opened in 1932 by the mayor."]
    assert result.citations[0].quote == "The bridge was opened in 1932 by the mayor."
    assert result.short_answer is not None and result.short_answer.text == "1932"
    unsure = _FakeReader("red", "1932", Cascade(candidates=3, weight=5.0, gate=None))
    result = _ask("In which year did the mayor open it?", model, reader=unsure)  # type: ignore[arg-type]
    # "It" (the bridge) is quoted with the sentence before, which names the mayor.
    assert len(unsure.seen) == 3 and result.citations[0].quote.endswith("crosses the river.")


def _lines_passage(embedder: FakeEmbedder, lines: list[str], doc_id: str = "m.md") -> Passage:
    """One chunk of a document whose sentences are `lines` (one per line, blank-line separated)."""
    text = "\n\n".join(lines)
    spans, start = [], 0
    for line in lines:
        start = text.index(line, start)
        spans.append((start, start + len(line)))
        start += len(line)
    return _chunk_passage(embedder, text, doc_id, spans, 1)


def _ask_lines(question: str, lines: list[str], model: ScoringModel) -> tuple[Answer, str]:
    """The answer over one document of `lines`, and that document's text."""
    embedder = FakeEmbedder()
    passage = _lines_passage(embedder, lines)
    result = answer(question, embedder.encode([question])[0], [passage], model, short=False)
    return result, "\n\n".join(lines)


OVERLAP = ScoringModel(("overlap", "type_match"), (4.0, 1.0), 0.0, threshold=0.0)
BRIDGE = "Golden Gate Bridge, San Francisco"
NOT_PROSE = [
    f"# {BRIDGE}",  # heading
    f"{BRIDGE} Opens to Traffic After Four Years of Work Amid Fog",  # a long headline
    f"- {BRIDGE}",  # list fragment
    f"^ Starr, Kevin (2010). {BRIDGE}. ISBN 978-1-59691-534-3.",  # reference
    f"{BRIDGE}. All rights reserved.",  # boilerplate
]
PROSE = "Traffic first crossed it in 1937."


@pytest.mark.parametrize("line", NOT_PROSE)
def test_headings_fragments_references_and_boilerplate_are_never_quoted(line: str) -> None:
    question = "When did traffic first cross the Golden Gate Bridge in San Francisco?"
    embedder = FakeEmbedder()
    found = candidates(question, embedder.encode([question])[0], [
        _lines_passage(embedder, [line, PROSE])])  # fmt: skip
    overlap = found.matrix[:, FEATURES.index("overlap")]
    assert found.quotable == [False, True]
    assert overlap[0] > overlap[1]  # the line holds more of the question's words
    result, text = _ask_lines(question, [line, PROSE], OVERLAP)
    assert [c.quote for c in result.citations] == [PROSE]
    assert all(text[c.start : c.end] == c.quote for c in result.citations)


def test_a_document_of_headings_and_fragments_abstains() -> None:
    result, _ = _ask_lines("Where is the Golden Gate Bridge?", NOT_PROSE, OVERLAP)
    assert not result.answered and result.citations == []
    assert result.passages and result.passages[0].score == 0.0  # nothing in it may be quoted


def test_a_sentence_referring_back_is_quoted_with_its_antecedent() -> None:
    embedder = FakeEmbedder()
    text = "Fog is common here. The Golden Gate Bridge is in San Francisco. It opened in 1937."
    spans = [(0, 19), (20, 63), (64, 82)]
    passage = _chunk_passage(embedder, text, "g.txt", spans[1:], 1)  # a chunk not at 0
    question = "When did the Golden Gate Bridge open?"
    vector = embedder.encode([question])[0]
    found = candidates(question, vector, [passage])
    assert found.antecedent == [-1, 20]
    weights = term_weights(question)
    union = token_set(text[20:82])
    assert found.matrix[1, FEATURES.index("overlap")] == weighted_overlap(weights, union)
    result = answer(question, vector, [passage], OVERLAP, short=False)
    first = result.citations[0]
    assert (first.start, first.end) == (20, 82)
    assert first.quote == text[first.start : first.end] == text[20:]
    assert len(result.citations) == 1  # the antecedent is not cited again


@pytest.mark.parametrize(
    "lines",
    [
        ["The Golden Gate Bridge is in San Francisco.", "Traffic first crossed in 1937."],
        ["Fog is common in the bay.", "It opened to traffic in 1937."],
        [f"# {BRIDGE}", "It opened to traffic in 1937."],
        # `_lines_passage` puts each line in its own block, as list items are
        ["The Golden Gate Bridge is in San Francisco.", "It opened to traffic in 1937."],
    ],
    ids=[
        "not-referring-back",
        "antecedent-adds-nothing",
        "antecedent-is-a-heading",
        "antecedent-in-another-block",
    ],
)
def test_other_sentences_are_never_joined(lines: list[str]) -> None:
    question = "When did traffic first cross the Golden Gate Bridge?"
    model = ScoringModel(("type_match",), (4.0,), 0.0, threshold=0.0)
    result, text = _ask_lines(question, lines, model)
    first = result.citations[0]
    assert first.quote == lines[1] == text[first.start : first.end]


TABLE_LINES = [
    "We run two storage clusters.",
    "Cluster; Machines; Disk space",
    "A; 342; 72 TB",
    "B; 227; 180 TB",
]


def test_a_table_row_is_scored_and_read_with_its_header_row() -> None:
    question = "How much disk space does cluster B have?"
    embedder = FakeEmbedder()
    found = candidates(question, embedder.encode([question])[0], [
        _lines_passage(embedder, TABLE_LINES)])  # fmt: skip
    assert found.quotable == [True, False, True, True]  # a header without figures is context
    assert found.previous[2:] == [TABLE_LINES[1], TABLE_LINES[1]]
    assert found.antecedent == [-1, -1, -1, -1]  # the header is not quoted with the row
    overlap = found.matrix[:, FEATURES.index("overlap")]
    weights = term_weights(question)
    assert overlap[3] == weighted_overlap(weights, token_set(f"{TABLE_LINES[1]} {TABLE_LINES[3]}"))
    assert overlap[3] > overlap[2]  # only row B holds "B"
    result, text = _ask_lines(question, TABLE_LINES, OVERLAP)
    first = result.citations[0]
    assert first.quote == "B; 227; 180 TB" == text[first.start : first.end]
    assert first.header == TABLE_LINES[1] == text[first.header_start : first.header_end]
    prose, _ = _ask_lines("How many storage clusters run?", TABLE_LINES, OVERLAP)
    assert prose.citations[0].quote == TABLE_LINES[0]
    assert (prose.citations[0].header, prose.citations[0].header_start) == (None, None)


def test_a_markdown_row_is_read_with_its_header_over_the_rule() -> None:
    lines = ["| Cluster | Machines | Disk space |", "|---|---|---|", "| A | 342 | 72 TB |",
             "| B | 227 | 180 TB |"]  # fmt: skip
    question = "How much disk space does cluster B have?"
    embedder = FakeEmbedder()
    found = candidates(question, embedder.encode([question])[0], [
        _lines_passage(embedder, lines)])  # fmt: skip
    assert found.quotable == [False, False, True, True]
    assert found.previous[2:] == [lines[0], lines[0]]


def test_rows_at_the_start_of_a_later_chunk_have_no_header_when_the_first_gives_figures() -> None:
    embedder = FakeEmbedder()
    lines = ["A; 342; 72 TB", "B; 227; 180 TB"]
    text = "\n\n".join(lines)
    passage = _chunk_passage(embedder, text, "t.txt", [(0, 13), (15, 29)], 1)  # chunk "#1"
    found = candidates("cluster B", embedder.encode(["cluster B"])[0], [passage])
    assert found.previous == ["", "A; 342; 72 TB"]  # the sentence before, no header
