"""Lexical matching: one tokenizer for everything, and a BM25 index over chunk texts.

In: texts. Out: `tokens(text)` (lowercased words, English stop words out, Snowball-stemmed),
`term_weights(text)` (each content token's rarity in general English, an IDF that needs no
corpus, so it means the same on a one-document corpus as on a large one) and
`LexicalIndex.search(query, k)` -> [(row, score)] with zero-score rows left out.

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
    """`set(tokens(text))`, remembered: the same stored sentences come back question after
    question, and re-tokenizing them was most of the answerer's own time."""
    return frozenset(tokens(text))


@lru_cache(maxsize=65536)
def word_weight(word: str) -> float:
    """How informative a lowercased word is: 9 - its Zipf frequency in English (wordfreq),
    i.e. log10 of one over its frequency per billion words; 1.0 at least, 9.0 if unknown."""
    from wordfreq import zipf_frequency

    return max(1.0, 9.0 - zipf_frequency(word, "en"))


def term_weights(text: str) -> dict[str, float]:
    """Content tokens of `text` (as `tokens` makes them) -> their `word_weight`."""
    weights: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOP:
            stem = _stem(word)
            weights[stem] = max(weights.get(stem, 0.0), word_weight(word))
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
