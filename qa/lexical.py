"""Lexical matching: one tokenizer for everything, and a BM25 index over chunk texts.

In: texts. Out: `tokens(text)` (lowercased words, English stop words out, Snowball-stemmed),
`term_weights(text)` (each content token's rarity in general English, an IDF that needs no
corpus, so it means the same on a one-document corpus as on a large one) and
`LexicalIndex.search(query, k)` -> [(row, score)] with zero-score rows left out.

A capital "A" that names something ("cluster A", "vitamin A") is a word to the sentence scorer
(`token_set`, `term_weights` hold it as "a"), not to BM25: counted in every chunk that has one,
it shifted BM25's length normalisation and moved TyDi's and SQuAD 2.0's figures by noise
(2026-12-07), while the scorer alone found the named row.

BM25 is bm25s (sparse-matrix BM25, maintained, fast to build in memory). It uses Lucene's IDF,
log(1 + (N - df + 0.5) / (df + 0.5)), which stays positive on a corpus of one or two
documents, where the classic Robertson IDF collapses to zero or below.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)

# English function words: bm25s's list plus question words, which carry no topic.
_STOP = frozenset(
    """
    a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with what which who whom whose when where why how does
    do did has have had been being were i me my we our you your he him his she her its them
    from than so can could would should may might shall about over under also any all each
    more most other some only own same too very just
    """.split()  # noqa: SIM905
)


# "A" starting a sentence, line or list item before a word ("A lease is ...", "Notes: A new ...",
# "• A new ...") is the article, in all-capital text ("IS A TEST") too; anywhere else a capital
# "A" names something.
_CAPITAL_A = re.compile(r"\bA\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\"'“()•*\n-])\s*$")
_WORD_NEXT = re.compile(r"\s+[\"'“‘(]?(\w+)")  # a word, maybe quoted
_WORD_BEFORE = re.compile(r"(\w+)\W*$")


def _named_a(text: str) -> bool:
    """Whether `text` uses a capital "A" as a name rather than as the article."""
    if "A" not in text:
        return False
    for match in _CAPITAL_A.finditer(text):
        if "&" in text[max(0, match.start() - 1) : match.end() + 1]:
            continue  # a letter of "V&A", "Q&A": the name is the whole, not its "A"
        head = text[max(0, match.start() - 40) : match.start()]
        after = _WORD_NEXT.match(text, match.end())
        before = _WORD_BEFORE.search(head)
        if after and (_SENTENCE_START.search(head) or after.group(1).isupper()):
            continue  # the article, at a sentence's start or inside capitals
        if before and len(before.group(1)) > 1 and before.group(1).isupper():
            continue
        return True
    return False


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def tokens(text: str) -> list[str]:
    """Content tokens of `text`: lowercased, stop words dropped, stemmed; numbers kept."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


@lru_cache(maxsize=131072)
def token_set(text: str) -> frozenset[str]:
    """`set(tokens(text))`, and "a" where a capital "A" names something; remembered: the same
    stored sentences come back question after question, and re-tokenizing them was most of the
    answerer's own time."""
    found = frozenset(tokens(text))
    return found | {"a"} if _named_a(text) else found


def content_words(words: frozenset[str]) -> int:
    """How many content words a `token_set` holds, a named "A" not counted: the sentence
    scorer's length signal was fitted without it."""
    return len(words) - ("a" in words)


@lru_cache(maxsize=65536)
def word_weight(word: str) -> float:
    """How informative a lowercased word is: 9 - its Zipf frequency in English (wordfreq),
    i.e. log10 of one over its frequency per billion words; 1.0 at least, 9.0 if unknown."""
    from wordfreq import zipf_frequency

    return max(1.0, 9.0 - zipf_frequency(word, "en"))


def term_weights(text: str) -> dict[str, float]:
    """Content tokens of `text` (as `tokens` makes them, and "a" where a capital "A" names
    something) -> their `word_weight`."""
    weights: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOP:
            stem = _stem(word)
            weights[stem] = max(weights.get(stem, 0.0), word_weight(word))
    if _named_a(text):
        weights["a"] = word_weight("b")  # as much as any other letter that names something
    return weights


def weighted_overlap(weights: dict[str, float], words: set[str] | frozenset[str]) -> float:
    """Share of the total weight of `weights`' tokens that `words` holds (0.0 when empty)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in words) / total


class LexicalIndex:
    """BM25 over a fixed list of texts; rows are positions in that list."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        self.size = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        if self.size:
            # bm25s wants at least one token per document; an empty one gets a placeholder.
            self._bm25.index([tokens(t) or ["\x00"] for t in texts], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no query word is indexed)."""
        query_tokens = tokens(query)
        if not self.size or not query_tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The best `k` rows for `query` as (row, score), best first, zero scores left out."""
        scores = self.scores(query)
        k = min(k, self.size)
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits = zip(top.tolist(), scores[top].tolist(), strict=True)
        return [(row, score) for row, score in hits if score > 0]
