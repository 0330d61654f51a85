"""More than SQuAD for `qa train reader`: SelQA and TyDi half 0 read as extra articles.

In: the SelQA answer-sentence-selection files (`selqa-ass-{dev,test}.json.gz`: questions over
a Wikipedia section, its sentences as candidates, the answer sentences' indices; no spans) and
TyDi QA English GoldP (SQuAD format, one passage a paragraph, no titles; only the passages of
half 0 by `qa.tools.eval_corpus.passage_half`). Out: `Source`s, their titles, sentences and
questions in the same shapes `qa.tools.train_reader.read_squad` gives, so that BM25, the
negatives, the encoding and the losses treat them as SQuAD; `merge` appends them to the SQuAD
corpus (article, paragraph and sentence indices shifted), `sample_mix` draws each source's
share of the questions.

SelQA's questions have no answer span: their `Question.answer` is None, so their positives
train the relevance and listwise losses and their span loss is masked (the span head learns a
short answer inside the sentence; the whole sentence as its target would teach it to quote
whole sentences). A question's other answer sentences are never its negatives. The last
`SELQA_REPORT` questions of SelQA test are kept for reporting, and with them every question
over the same sections (those sections' sentences are not in the training corpus either).

TyDi windows get the title the product gives a TyDi passage in `qa eval`: the passage's file
name (the first 16 hex digits of its sha1, `qa.tools.eval_corpus.load_tydi`).
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from qa.chunking import split_sentences

SELQA_DIR = Path("/work/shared/train/selqa")
TYDI_FILE = Path("/work/shared/eval/tydiqa-en/tydiqa-en-goldp-dev.json.gz")
SELQA_REPORT = 300  # the last questions of SelQA test, never trained on


@dataclass(frozen=True)
class Sentence:
    """A sentence of the train set: its text, article, paragraph and offset in the paragraph."""

    text: str
    article: int
    paragraph: int
    start: int
    previous: str


@dataclass(frozen=True)
class Question:
    """A question: its text, answer sentence (index into the sentence list) and the answer's
    character range in that sentence (None: sentence labels only, as SelQA's; no span loss),
    and the question's other answer sentences, never its negatives."""

    text: str
    sentence: int
    answer: tuple[int, int] | None
    answer_text: str
    others: tuple[int, ...] = ()


@dataclass(frozen=True)
class SelqaQuestion:
    """A SelQA question: its text, article, section, the section's sentences and the indices
    of the answer sentences among them."""

    question: str
    article: str
    section: str
    candidates: tuple[str, ...]
    answers: tuple[int, ...]
    paraphrase: bool = False


def read_selqa(folder: Path) -> list[SelqaQuestion]:
    """SelQA dev then test questions, in file order (questions without a candidate or an
    answer are dropped)."""
    out = []
    for split in ("dev", "test"):
        with gzip.open(folder / f"selqa-ass-{split}.json.gz", "rt", encoding="utf-8") as f:
            for row in json.load(f):
                answers = tuple(int(a) for a in row["answers"] if 0 <= a < len(row["candidates"]))
                if row["candidates"] and answers:
                    out.append(SelqaQuestion(row["question"], row["article"], row["section"],
                                             tuple(row["candidates"]), answers,
                                             bool(row.get("is_paraphrase"))))  # fmt: skip
    return out


def selqa_split(
    questions: list[SelqaQuestion], report: int = SELQA_REPORT
) -> tuple[list[SelqaQuestion], list[SelqaQuestion]]:
    """(trainable, report): the last `report` questions (of test, read after dev) and every
    other question over one of their sections go to the report side."""
    held = questions[len(questions) - report :] if report else []
    sections = {(q.article, q.section) for q in held}
    trainable = [q for q in questions[: len(questions) - len(held)]
                 if (q.article, q.section) not in sections]  # fmt: skip
    return trainable, held


@dataclass
class Source:
    """Extra training material in `read_squad`'s shapes (indices local to the source):
    titles, sentences, questions and each question's article."""

    name: str
    titles: list[str] = field(default_factory=list)
    sentences: list = field(default_factory=list)  # Sentence
    questions: list = field(default_factory=list)  # Question
    article_of: list[int] = field(default_factory=list)


def selqa_source(questions: list[SelqaQuestion]) -> Source:
    """One article per SelQA article title, one paragraph per (article, section): its
    candidates as the sentences (each with the one before as context). A question's positive
    is its first answer sentence; the others are kept out of its negatives (`others`)."""
    source = Source("selqa")
    articles: dict[str, int] = {}
    sections: dict[tuple[str, str, tuple[str, ...]], int] = {}  # -> first sentence
    paragraphs = 0
    for q in questions:
        a = articles.setdefault(q.article, len(articles))
        if a == len(source.titles):
            source.titles.append(q.article)
        key = (q.article, q.section, q.candidates)
        if key not in sections:
            sections[key] = len(source.sentences)
            start, previous = 0, ""
            for text in q.candidates:
                source.sentences.append(Sentence(text, a, paragraphs, start, previous))
                start, previous = start + len(text) + 1, text
            paragraphs += 1
        first = sections[key]
        gold = first + q.answers[0]
        others = tuple(first + i for i in q.answers[1:])
        source.questions.append(Question(q.question, gold, None, "", others))
        source.article_of.append(a)
    return source


def tydi_source(path: Path, half: int = 0) -> Source:
    """TyDi GoldP's passages of `half` (`passage_half`), one article and paragraph each,
    split as the product splits them; the questions whose first answer lies in one sentence."""
    from qa.tools.eval_corpus import load_tydi

    documents, questions = load_tydi(path)
    source = Source("tydi")
    first_of: dict[int, int] = {}  # document index -> its first sentence
    for d, document in enumerate(documents):
        if document.group != half:
            continue
        first_of[d] = len(source.sentences)
        a = len(source.titles)
        source.titles.append(document.doc_id.removesuffix(".txt"))
        previous = ""
        for span in split_sentences(document.text):
            text = document.text[span.start : span.end]
            source.sentences.append(Sentence(text, a, a, span.start, previous))
            previous = text
    for q in questions:
        if q.article not in first_of:
            continue
        text, start, end = q.answers[0]
        first = first_of[q.article]
        for i in range(first, len(source.sentences)):
            s = source.sentences[i]
            if s.article != source.sentences[first].article:
                break
            if s.start <= start and end <= s.start + len(s.text):
                source.questions.append(
                    Question(q.question, i, (start - s.start, end - s.start), text)
                )
                source.article_of.append(s.article)
                break
    return source


def merge(corpus, source: Source) -> range:  # type: ignore[no-untyped-def]
    """Append `source` to `corpus` (a `train_reader.Corpus`), its article, paragraph and
    sentence indices shifted past the corpus's. Out: the indices of its questions in
    `corpus.questions`."""
    from dataclasses import replace

    articles = len(corpus.titles)
    paragraphs = 1 + max((s.paragraph for s in corpus.sentences), default=-1)
    sentences = len(corpus.sentences)
    corpus.titles.extend(source.titles)
    corpus.sentences.extend(
        replace(s, article=s.article + articles, paragraph=s.paragraph + paragraphs)
        for s in source.sentences
    )
    first = len(corpus.questions)
    corpus.questions.extend(
        replace(q, sentence=q.sentence + sentences,
                others=tuple(o + sentences for o in q.others))
        for q in source.questions
    )  # fmt: skip
    corpus.article_of.extend(a + articles for a in source.article_of)
    return range(first, len(corpus.questions))


def share_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """How many of `total` questions each extra source is asked for (rounded), and "squad"
    the rest."""
    counts = {name: round(total * share) for name, share in shares.items() if share > 0}
    if sum(counts.values()) > total:
        raise ValueError(f"shares {shares} add up to more than 1")
    return {"squad": total - sum(counts.values()), **counts}


def sample_mix(pools: dict[str, list[int]], counts: dict[str, int],
               rng: random.Random) -> dict[str, list[int]]:  # fmt: skip
    """Each source's sample: `counts[name]` of `pools[name]` drawn without replacement (all of
    the pool when it holds fewer), in the order of `counts`, from one seeded `rng`."""
    return {
        name: rng.sample(pools[name], min(count, len(pools[name])))
        for name, count in counts.items()
    }


def selqa_report_items(questions: list[SelqaQuestion]) -> list[dict]:
    """The report slice as validation items: each question against every sentence of its
    section (window: sentence, the one before, the article title) and its answers' indices."""
    items = []
    for q in questions:
        windows = [
            {"sentence": text, "previous": q.candidates[i - 1] if i else "", "title": q.article}
            for i, text in enumerate(q.candidates)
        ]
        items.append({"question": q.question, "windows": windows, "golds": list(q.answers)})
    return items


def report_selqa(reader_folder: Path, folder: Path = SELQA_DIR,
                 report: int = SELQA_REPORT) -> dict:  # fmt: skip
    """An exported reader alone (`qa.reader.Reader`, int8) on the SelQA report slice: the
    share of questions whose best-scored sentence of the section is an answer sentence
    (sentence@1), overall and for the reworded questions apart."""
    from qa.reader import Reader, Window

    reader = Reader(reader_folder)
    _, held = selqa_split(read_selqa(folder), report)
    hits = []
    for item in selqa_report_items(held):
        relevance = reader.score(item["question"], [Window(**w) for w in item["windows"]]).relevance
        hits.append(int(relevance.argmax()) in item["golds"])
    reworded = [h for h, q in zip(hits, held, strict=True) if q.paraphrase]
    return {
        "questions": len(hits),
        "sentence@1": sum(hits) / max(1, len(hits)),
        "reworded": len(reworded),
        "reworded_sentence@1": sum(reworded) / max(1, len(reworded)),
    }
