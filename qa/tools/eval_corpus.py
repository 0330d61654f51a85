"""Benchmark data as product documents and indexes, cached under `.cache/eval/`.

In: the SQuAD v1.1 or v2.0 dev file, a BEIR folder, the WikiQA folder or the TyDi QA GoldP file
(read by path, never copied into the project). Out: `SquadQuestion`s / `BeirQuery`s with gold
answers as document offsets (WikiQA: its correct sentences; SQuAD 2.0 unanswerable: none), a
docs folder of
`.txt` files, and a `Snapshot` built by the product's own `qa.indexer.refresh` into a
`FaissStore`. Vectors go through `CachedEmbedder`, so the several indexes of one benchmark (all
articles, the first half, ...) and the questions are each encoded once, ever.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from qa.chunking import ChunkingOptions
from qa.config import Settings
from qa.embedding import Embedder
from qa.indexer import refresh
from qa.onnx_export import EXPORT_FORMAT
from qa.pipeline import open_store
from qa.stores.base import Snapshot, StoredSentence

# Relative to the working directory: the checkout's .cache/eval when run from there.
CACHE = Path(os.environ.get("QA_EVAL_CACHE", ".cache/eval"))
SAVE_EVERY = 4096  # texts encoded between two saves of the vector cache


@dataclass(frozen=True)
class SquadQuestion:
    """A SQuAD question with its gold answers as `(text, start, end)` offsets into its article."""

    qid: str
    question: str
    article: int
    doc_id: str
    answers: tuple[tuple[str, int, int], ...]

    @property
    def answers_at(self) -> list[tuple[str, int, int]]:
        """The gold answers as `(doc_id, start, end)`."""
        return [(self.doc_id, start, end) for _, start, end in self.answers]


@dataclass(frozen=True)
class SquadArticle:
    """One SQuAD article as a product document: paragraphs joined by a blank line."""

    index: int
    doc_id: str
    text: str


def _safe_name(text: str) -> str:
    """`text` as part of a file name: runs of other characters than [A-Za-z0-9_.-] become _."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def load_squad(path: Path) -> tuple[list[SquadArticle], list[SquadQuestion]]:
    """Articles and questions of a SQuAD v1.1 or v2.0 file (`.json` or `.json.gz`), in file
    order; a v2.0 unanswerable question has no answers."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)["data"]
    articles, questions = [], []
    for index, article in enumerate(data):
        doc_id = f"{index:02d}-{_safe_name(article['title'])}.txt"
        parts, offset = [], 0
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = tuple(
                    (a["text"], offset + a["answer_start"],
                     offset + a["answer_start"] + len(a["text"]))
                    for a in qa["answers"]
                )  # fmt: skip
                questions.append(SquadQuestion(qa["id"], qa["question"], index, doc_id, answers))
            parts.append(context)
            offset += len(context) + 2
        articles.append(SquadArticle(index, doc_id, "\n\n".join(parts)))
    return articles, questions


@dataclass(frozen=True)
class Document:
    """A benchmark document as a product file: `doc_id` (its file name) and text; `group` is the
    half of the file a TyDi passage falls in (0 elsewhere)."""

    doc_id: str
    text: str
    group: int = 0


def _read_wikiqa(path: Path) -> list[list[str]]:
    """The rows of one WikiQA TSV file (`.tsv` or `.tsv.gz`), header left out."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        next(lines)
        return [line.rstrip("\r\n").split("\t") for line in lines if line.strip()]


def load_wikiqa(folder: Path, split: str) -> tuple[list[Document], list[SquadQuestion]]:
    """WikiQA as product documents and questions.

    In: a folder of `WikiQA-<split>.tsv[.gz]` files (columns `QuestionID Question DocumentID
    DocumentTitle SentenceID Sentence Label`). Out: one document per summary of every split
    there (its sentences joined by a space, so one index serves every split), sorted by id;
    the questions of `split` in file order, whose `answers` are their sentences labelled 1 as
    `(sentence, start, end)` offsets into the document (none: the summary does not answer)."""
    rows = {p.name.removeprefix("WikiQA-").split(".")[0]: _read_wikiqa(p)
            for p in sorted(folder.glob("WikiQA-*.tsv*"))}  # fmt: skip
    if split not in rows:
        raise FileNotFoundError(f"no WikiQA-{split}.tsv[.gz] in {folder}")
    sentences: dict[str, dict[int, str]] = {}
    titles: dict[str, str] = {}
    for row in (r for part in rows.values() for r in part):
        _, _, doc, title, sentence_id, sentence, _ = row
        titles[doc] = title
        sentences.setdefault(doc, {})[int(sentence_id.rpartition("-")[2])] = sentence.strip()
    documents, offsets = [], {}
    for index, doc in enumerate(sorted(sentences, key=lambda d: int(d.lstrip("D")))):
        doc_id = f"{doc}-{_safe_name(titles[doc])}.txt"
        text, starts = "", {}
        for number in sorted(sentences[doc]):
            text += " " if text else ""
            starts[number] = len(text)
            text += sentences[doc][number]
        offsets[doc] = (index, doc_id, starts)
        documents.append(Document(doc_id, text))
    asked: dict[str, tuple[str, str, list[tuple[str, int, int]]]] = {}
    for qid, question, doc, _, sentence_id, sentence, label in rows[split]:
        index, doc_id, starts = offsets[doc]
        entry = asked.setdefault(qid, (question, doc, []))
        if label == "1":
            start = starts[int(sentence_id.rpartition("-")[2])]
            entry[2].append((sentence.strip(), start, start + len(sentence.strip())))
    questions = [
        SquadQuestion(qid, question, offsets[doc][0], offsets[doc][1], tuple(answers))
        for qid, (question, doc, answers) in asked.items()
    ]
    return documents, questions


def passage_half(text: str) -> int:
    """0 or 1: which half of a file a passage falls in, by a (salted) hash of its text."""
    return hashlib.sha256(f"qa-eval-half\n{text}".encode()).digest()[0] % 2


def load_tydi(path: Path) -> tuple[list[Document], list[SquadQuestion]]:
    """TyDi QA GoldP (SQuAD format, no titles) as one document per distinct passage.

    In: the `.json` or `.json.gz` file. Out: documents named by a hash of their text, `group`
    the passage's half (`passage_half`); questions with answers as offsets into their passage."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)["data"]
    documents: dict[str, Document] = {}
    questions = []
    for paragraph in (p for article in data for p in article["paragraphs"]):
        context = paragraph["context"]
        doc_id = f"{hashlib.sha1(context.encode()).hexdigest()[:16]}.txt"
        documents.setdefault(doc_id, Document(doc_id, context, passage_half(context)))
        index = list(documents).index(doc_id)
        for qa in paragraph["qas"]:
            answers = tuple((a["text"], a["answer_start"], a["answer_start"] + len(a["text"]))
                            for a in qa["answers"])  # fmt: skip
            questions.append(SquadQuestion(str(qa["id"]), qa["question"], index, doc_id, answers))
    return list(documents.values()), questions


@dataclass(frozen=True)
class BeirQuery:
    """A BEIR query and its graded relevant documents."""

    qid: str
    text: str
    relevant: dict[str, int]


def load_beir(folder: Path, split: str) -> tuple[dict[str, str], list[BeirQuery]]:
    """BEIR corpus as `{doc_id: "title\\n\\ntext"}` and the queries that have qrels in `split`."""
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            title = row.get("title", "").strip()
            corpus[str(row["_id"])] = f"{title}\n\n{row['text']}" if title else row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries = []
    with open(folder / "queries.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries.append(BeirQuery(str(row["_id"]), row["text"], qrels[str(row["_id"])]))
    return corpus, queries


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """Make `folder` hold exactly `docs` ({file name: text}), rewriting only what changed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        path = folder / name
        data = text.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
    for path in folder.iterdir():
        if path.is_file() and path.name not in docs:
            path.unlink()
    return folder


class CachedEmbedder:
    """An `Embedder` that remembers every vector it computed in one `.npz` file per model.

    Same `name` as the wrapped model, so an index built through it is the product's index."""

    def __init__(self, inner: Embedder, cache_file: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_file = cache_file
        self._vectors: dict[bytes, np.ndarray] = {}
        self._dirty = False
        if cache_file.is_file():
            with np.load(cache_file) as data:
                self._vectors = dict(zip(map(bytes, data["keys"]), data["vectors"], strict=True))

    @property
    def dim(self) -> int:
        return self.inner.dim

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).digest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True)
                          if k not in self._vectors}.items())  # fmt: skip
        # In slices, saved as they come, so an interrupted run resumes where it stopped.
        for lo in range(0, len(missing), SAVE_EVERY):
            part = missing[lo : lo + SAVE_EVERY]
            fresh = self.inner.encode([t for _, t in part], progress=progress)
            self._vectors.update({k: v for (k, _), v in zip(part, fresh, strict=True)})
            self._dirty = True
            self.save()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Each question's vector as the product computes it (one at a time, by the configured
        question encoder), cached apart from document vectors and per encoder (and per export
        format: a new format may quantize differently)."""
        encoder = getattr(self.inner, "query_encoder", "same")
        if encoder.startswith("onnx"):
            encoder += f" export {EXPORT_FORMAT}"
        keys = [hashlib.sha1(f"query {encoder}\n{t}".encode()).digest() for t in texts]
        fresh = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        for n, (key, text) in enumerate(
            progress_bar(list(fresh.items()), "questions", progress), start=1
        ):
            self._vectors[key] = self.inner.encode_query(text)
            self._dirty = True
            if n % SAVE_EVERY == 0:
                self.save()
        self.save()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache file if anything was added."""
        if not self._dirty:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        if self.cache_file.is_file():  # another run may have added vectors since we loaded
            with np.load(self.cache_file) as data:
                for key, vector in zip(map(bytes, data["keys"]), data["vectors"], strict=True):
                    self._vectors.setdefault(key, vector)
        keys = np.array(list(self._vectors), dtype="S20")
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self.cache_file)
        self._dirty = False


# `qa eval --store`: "faiss" (folders under the cache) or a Milvus URI, whose server then holds
# one collection per benchmark index.
STORE = "faiss"


def index_settings(name: str, chunking: ChunkingOptions = ChunkingOptions()) -> Settings:
    """Where the benchmark index `name` lives, as the product's own `Settings`."""
    # The indexer compares file hashes only, so chunking settings are part of the index name.
    tag = f"{chunking.max_tokens}-{chunking.overlap_sentences}"
    store = STORE
    if STORE != "faiss":
        parts = urlsplit(STORE)
        collection = re.sub(r"\W", "_", f"eval_{name}_{tag}")
        store = urlunsplit((parts.scheme, parts.netloc, "/" + collection, parts.query, ""))
    return Settings(docs_dir=CACHE / name / "docs", index_dir=CACHE / name / f"index-{tag}",
                    store=store)  # fmt: skip


def build_index(
    name: str,
    docs: dict[str, str],
    embedder: Embedder,
    chunking: ChunkingOptions = ChunkingOptions(),
    progress: bool = False,
) -> Snapshot:
    """Index `docs` under `.cache/eval/<name>/` with the product's indexer; reused if unchanged."""
    settings = index_settings(name, chunking)
    folder = write_docs(settings.docs_dir, docs)
    store = open_store(settings)
    refresh(folder, store, embedder, chunking, max_bytes=1 << 30, progress=progress)
    snapshot = store.open()
    warm = getattr(snapshot, "warm", None)
    if warm is not None:
        warm()
    return snapshot


def all_sentences(snapshot: Snapshot) -> list[StoredSentence]:
    """Every distinct sentence of a snapshot, in document order."""
    seen, sentences = set(), []
    for doc_id in snapshot.doc_ids():
        info = snapshot.document(doc_id)
        for number in range(info.chunks if info else 0):
            for sentence in snapshot.chunk(f"{doc_id}#{number}").sentences:
                if (doc_id, sentence.start) not in seen:
                    seen.add((doc_id, sentence.start))
                    sentences.append(sentence)
    return sentences


def progress_bar(items, label: str, show: bool):  # type: ignore[no-untyped-def]
    """`items` with a tqdm bar on stderr when `show` (the eval commands' one progress bar)."""
    from tqdm import tqdm

    return tqdm(items, desc=label, file=sys.stderr, disable=not show, leave=False)
