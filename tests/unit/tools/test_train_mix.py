"""SelQA and TyDi half 0 beside SQuAD in `qa train reader`: reading, the report slice, merging,
the seeded mix, and the encoded examples (SelQA positives without a span), on tiny fake files."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.tools.eval_corpus import passage_half
from qa.tools.train_mix import (
    merge,
    read_selqa,
    report_selqa,
    sample_mix,
    selqa_report_items,
    selqa_source,
    selqa_split,
    share_counts,
    tydi_source,
)
from qa.tools.train_reader import (
    Corpus,
    Examples,
    Question,
    Sentence,
    build_data,
    encode_examples,
    export_reader,
    pick_negatives,
    read_squad,
    tokenizer_of,
    train,
)
from tests.unit.tools.test_train_reader import _tiny_config

SECTIONS = {
    ("Paris", "Geography"): ["Paris lies on the Seine.", "It has many bridges.",
                             "The Seine flows into the Channel.", "Its climate is mild."],
    ("Paris", "History"): ["Paris was founded by the Parisii.", "The Romans called it Lutetia."],
    ("Rome", "History"): ["Rome was founded in 753 BC.", "Legend names Romulus its founder.",
                          "It became an empire."],
}  # fmt: skip


def _selqa_row(article: str, section: str, question: str, answers: list[int]) -> dict:
    return {"question": question, "article": article, "section": section, "topic": "TRAVEL",
            "q_types": [], "is_paraphrase": question.startswith("Which"),
            "candidates": SECTIONS[(article, section)], "answers": answers}  # fmt: skip


def _tiny_selqa(folder: Path) -> Path:
    """dev: two questions; test: three, the last over the Rome history section (the report
    slice with `report=1`) and one more over that section earlier in test."""
    folder.mkdir(parents=True, exist_ok=True)
    dev = [
        _selqa_row("Paris", "Geography", "Which river crosses Paris?", [0, 2]),
        _selqa_row("Paris", "History", "Who founded Paris?", [0]),
    ]
    test = [
        _selqa_row("Rome", "History", "Who founded Rome?", [1]),
        _selqa_row("Paris", "Geography", "How is the weather in Paris?", [3]),
        _selqa_row("Rome", "History", "When was Rome founded?", [0]),
    ]
    for split, rows in (("dev", dev), ("test", test)):
        with gzip.open(folder / f"selqa-ass-{split}.json.gz", "wt") as f:
            json.dump(rows, f)
    return folder


def _passage(half: int, n: int) -> str:
    """A TyDi-like passage in `half` (by `passage_half`)."""
    for k in range(100):
        text = f"Lake number {n} lies in the north. Its depth is {k + 10} metres. It freezes."
        if passage_half(text) == half:
            return text
    raise AssertionError("no passage in that half")


def _tiny_tydi(path: Path) -> Path:
    """Two passages of each half, one question each (answer: the depth)."""
    paragraphs = []
    for n, half in enumerate([0, 1, 0, 1]):
        text = _passage(half, n)
        depth = text.split("depth is ")[1].split(" ")[0]
        paragraphs.append({"context": text, "qas": [{
            "id": str(n), "question": f"How deep is lake {n}?",
            "answers": [{"text": depth, "answer_start": text.index(depth)}]}]})  # fmt: skip
    with gzip.open(path, "wt") as f:
        json.dump({"version": "tydi", "data": [{"paragraphs": paragraphs}]}, f)
    return path


def test_selqa_report_slice_takes_the_last_questions_and_their_sections(tmp_path: Path) -> None:
    questions = read_selqa(_tiny_selqa(tmp_path / "selqa"))
    assert [q.question for q in questions][:2] == [
        "Which river crosses Paris?",
        "Who founded Paris?",
    ]
    assert questions[0].answers == (0, 2) and questions[0].paraphrase
    trainable, held = selqa_split(questions, report=1)
    assert [q.question for q in held] == ["When was Rome founded?"]
    # "Who founded Rome?" asks about the held-out section: neither trained on nor reported
    assert [q.question for q in trainable] == [
        "Which river crosses Paris?", "Who founded Paris?", "How is the weather in Paris?",
    ]  # fmt: skip
    items = selqa_report_items(held)
    assert items[0]["golds"] == [0] and len(items[0]["windows"]) == 3
    assert items[0]["windows"][1] == {"sentence": "Legend names Romulus its founder.",
                                      "previous": "Rome was founded in 753 BC.",
                                      "title": "Rome"}  # fmt: skip


def test_selqa_source_shares_sections_and_has_no_spans(tmp_path: Path) -> None:
    trainable, _ = selqa_split(read_selqa(_tiny_selqa(tmp_path / "selqa")), report=1)
    source = selqa_source(trainable)
    assert source.titles == ["Paris"] and len(source.sentences) == 6  # two sections, once each
    first = source.questions[0]
    assert first.answer is None and first.answer_text == ""
    assert source.sentences[first.sentence].text == "Paris lies on the Seine."
    assert [source.sentences[o].text for o in first.others] == ["The Seine flows into the Channel."]
    weather = source.questions[2]
    assert source.sentences[weather.sentence].text == "Its climate is mild."
    assert source.sentences[weather.sentence].paragraph == source.sentences[0].paragraph
    assert source.sentences[1].previous == "Paris lies on the Seine."


def test_tydi_source_reads_half_0_only_with_spans(tmp_path: Path) -> None:
    source = tydi_source(_tiny_tydi(tmp_path / "tydi.json.gz"), half=0)
    assert len(source.titles) == 2 and all(len(t) == 16 for t in source.titles)
    assert [q.text for q in source.questions] == ["How deep is lake 0?", "How deep is lake 2?"]
    for q in source.questions:
        a, b = q.answer
        assert source.sentences[q.sentence].text[a:b] == q.answer_text
        assert source.sentences[q.sentence].text.startswith("Its depth")
    assert source.article_of == [0, 1]


def test_merge_shifts_articles_paragraphs_sentences_and_other_answers(tmp_path: Path) -> None:
    from tests.unit.tools.test_train_reader import _tiny_squad

    corpus = Corpus(*read_squad(_tiny_squad(tmp_path / "s.json.gz")))
    articles, sentences = len(corpus.titles), len(corpus.sentences)
    paragraphs = max(s.paragraph for s in corpus.sentences) + 1
    trainable, _ = selqa_split(read_selqa(_tiny_selqa(tmp_path / "selqa")), report=1)
    added = merge(corpus, selqa_source(trainable))
    assert list(added) == [15, 16, 17]
    q = corpus.questions[added[0]]
    assert corpus.sentences[q.sentence].text == "Paris lies on the Seine."
    assert corpus.sentences[q.others[0]].text == "The Seine flows into the Channel."
    assert q.sentence == sentences and corpus.article_of[added[0]] == articles
    assert corpus.sentences[q.sentence].paragraph == paragraphs
    assert corpus.titles[corpus.sentences[q.sentence].article] == "Paris"


def test_share_counts_and_a_seeded_mix() -> None:
    assert share_counts(100, {"selqa": 0.2, "tydi": 0.1}) == {"squad": 70, "selqa": 20, "tydi": 10}
    assert share_counts(100, {"selqa": 0.0, "tydi": 0.25}) == {"squad": 75, "tydi": 25}
    with pytest.raises(ValueError, match="more than 1"):
        share_counts(10, {"selqa": 0.7, "tydi": 0.6})
    pools = {"selqa": list(range(10)), "tydi": list(range(100, 103))}
    mix = sample_mix(pools, {"selqa": 4, "tydi": 5}, random.Random(3))
    assert len(mix["selqa"]) == 4 and len(set(mix["selqa"])) == 4
    assert sorted(mix["tydi"]) == [100, 101, 102]  # all of a pool smaller than its share
    assert mix == sample_mix(pools, {"selqa": 4, "tydi": 5}, random.Random(3))


def test_negatives_skip_other_answer_sentences() -> None:
    sentences = [Sentence(t, 0, 0, 0, "") for t in ("gold", "also gold", "wrong", "other")]
    q = Question("q?", 0, None, "", (1,))
    ranked = np.array([1, 2, 3, -1])
    chosen = pick_negatives(q, ranked, sentences, 3, random.Random(0))
    assert 0 not in chosen and 1 not in chosen and -1 not in chosen
    assert set(chosen) == {2, 3}


@pytest.mark.model
def test_selqa_positives_train_relevance_without_a_span(tmp_path: Path) -> None:
    from qa.tools.train_reader import model_path

    tokenizer = tokenizer_of(model_path())
    founded = "Rome was founded in 753 BC."
    sentences = [Sentence(founded, 0, 0, 0, ""),
                 Sentence("It became an empire.", 0, 0, 28, founded)]  # fmt: skip
    questions = [Question("When was Rome founded?", 0, None, ""),
                 Question("When was Rome founded?", 0, (20, 26), "753 BC")]  # fmt: skip
    examples: Examples = encode_examples(
        tokenizer, [(0, 0, 1), (0, 1, 0), (1, 0, 1)], ["Rome"], sentences, questions, 48
    )
    assert examples.labels.tolist() == [1.0, 0.0, 1.0]
    assert examples.starts[0] == -100 and examples.ends[0] == -100  # sentence label only
    assert examples.starts[2] >= examples.sentence_first[2]  # SQuAD-like: its span


@pytest.mark.model
def test_build_data_mixes_the_sources_and_keeps_the_report_slice_out(tmp_path: Path) -> None:
    from qa.tools.train_reader import model_path

    selqa = _tiny_selqa(tmp_path / "selqa")
    tydi = _tiny_tydi(tmp_path / "tydi.json.gz")
    config = replace(_tiny_config(tmp_path), questions=10, selqa=0.2, tydi=0.2,
                     selqa_data=str(selqa), selqa_report=1, tydi_data=str(tydi),
                     loss="listwise")  # fmt: skip
    folder = tmp_path / "run"
    folder.mkdir()
    examples, valid = build_data(config, tokenizer_of(model_path()), folder)
    counts = json.loads((folder / "log.jsonl").read_text().splitlines()[0])["data"]
    assert counts == {"squad": 6, "selqa": 2, "tydi": 2}
    assert int((examples.labels > 0).sum()) == 10  # one positive a question
    # SQuAD's 3 questions of the held-out article and SelQA's report slice, its last question
    assert len(valid["items"]) == 3
    assert [item["question"] for item in valid["selqa"]] == ["When was Rome founded?"]
    figures = train(config, folder, max_steps=1, progress=False)
    assert 0.0 <= figures["selqa_sentence@1"] <= 1.0
    saved = json.loads((folder / "config.json").read_text())
    assert saved["selqa"] == 0.2 and saved["tydi"] == 0.2 and "command" in saved
    # the exported (int8) reader alone on the same report slice
    reported = report_selqa(export_reader(folder, tmp_path / "reader"), selqa, report=1)
    assert reported["questions"] == 1 and reported["reworded"] == 0
    assert reported["sentence@1"] in (0.0, 1.0)
