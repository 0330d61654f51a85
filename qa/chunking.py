"""Split a document's text into sentences and pack them into overlapping chunks.

In: a document's plain text and a token counter (the embedding model's tokenizer).
Out: `Span`s for sentences and `ChunkSpan`s for chunks, each with exact `[start, end)`
offsets into the text, so `text[span.start:span.end]` is always the sentence or chunk.

Sentences come from pysbd (rule-based; handles abbreviations, initials, times and decimals).
Before pysbd sees the text it is cut into blocks at blank lines and at Markdown structure
(headings, list items, quotes, table rows, rules), so a heading or a bullet never gets glued
onto the sentence after it. A sentence longer than the chunk budget is cut at word
boundaries, so the model never truncates a chunk silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Span:
    """A half-open character range `[start, end)` of a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk: a run of whole sentences `sentences[first:last]` covering `[start, end)`."""

    start: int
    end: int
    first: int
    last: int


@dataclass(frozen=True)
class ChunkingOptions:
    """How big chunks get (in model tokens) and how many sentences neighbours share."""

    max_tokens: int = 200
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")


# A line that stands on its own: Markdown heading, list item, quote, table row or rule.
_STRUCTURAL_LINE = re.compile(
    r"^[ \t]{0,3}(#{1,6}[ \t]|[-*+][ \t]|\d{1,9}[.)][ \t]|>|\||([-*_=][ \t]*){3,}$)"
)


# The characters pysbd's English rules end a sentence at; a block without any is one sentence.
_SENTENCE_END = re.compile(r"[.!?。．！？]")


@lru_cache(maxsize=1)
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    segmenter.language_module = _english_rules()
    return segmenter


def _english_rules():  # type: ignore[no-untyped-def]
    """pysbd's English rules with one shortcut in its hottest loop (half of a build's splitting
    time): an abbreviation only changes the text where a period follows it, so abbreviations
    never followed by one are not searched for. The sentences are the same (checked on all 48
    SQuAD dev articles); the loop body is pysbd 0.3.4's `search_for_abbreviations_in_string`."""
    from pysbd.lang.english import English

    class Replacer(English.AbbreviationReplacer):  # type: ignore[name-defined,misc]
        def search_for_abbreviations_in_string(self, text: str) -> str:
            lowered = text.lower()
            for abbr in self.lang.Abbreviation.ABBREVIATIONS:
                stripped = abbr.strip()
                needle = stripped if "." in stripped else stripped + "."  # "." in it: a regex
                if needle not in lowered:
                    continue
                matches = re.findall(rf"(?:^|\s|\r|\n){stripped}", text, flags=re.IGNORECASE)
                if not matches:
                    continue
                char_array = re.findall(r"(?<={" + re.escape(stripped) + "} ).{1}", text)
                for ind, match in enumerate(matches):
                    text = self.scan_for_replacements(text, match, ind, char_array)
            return text

    class FastEnglish(English):  # type: ignore[misc,valid-type]
        AbbreviationReplacer = Replacer

    return FastEnglish


def split_blocks(text: str) -> list[Span]:
    """Cut `text` into blocks: paragraphs separated by blank lines, and structural lines alone."""
    blocks: list[Span] = []
    start: int | None = None
    end = 0
    for match in re.finditer(r"[^\n]*\n?", text):
        line = match.group()
        if not line:
            break
        stripped = line.strip()
        structural = bool(_STRUCTURAL_LINE.match(line))
        if not stripped or structural:
            if start is not None:
                blocks.append(Span(start, end))
                start = None
            if structural:
                blocks.append(Span(match.start(), match.start() + len(line.rstrip())))
            continue
        if start is None:
            start = match.start() + (len(line) - len(line.lstrip()))
        end = match.start() + len(line.rstrip())
    if start is not None:
        blocks.append(Span(start, end))
    return blocks


def split_sentences(text: str) -> list[Span]:
    """Return the sentences of `text` as trimmed spans, in order and non-overlapping."""
    sentences: list[Span] = []
    for block in split_blocks(text):
        sentences.extend(_sentences_in_block(text, block))
    return sentences


def _sentences_in_block(text: str, block: Span) -> Iterator[Span]:
    # A line break inside a paragraph is wrapping, not a sentence end; same length keeps offsets.
    body = text[block.start : block.end].replace("\r", " ").replace("\n", " ")
    for start, end in _mend(body, list(_pieces(body))):
        yield Span(block.start + start, block.start + end)


def _pieces(body: str) -> Iterator[tuple[int, int]]:
    """pysbd's sentences of one block as (start, end) in `body`, gaps kept as pieces."""
    if not _SENTENCE_END.search(body):
        # No sentence end anywhere (a one-line dump, a long list of words): pysbd could only
        # return the block whole, after seconds per MB of rules.
        yield from _gap(body, 0, len(body))
        return
    cursor = 0
    # Only pysbd's rule pass: `Segmenter.segment` then maps each sentence back to the text with
    # one fresh regex per sentence, which cost a third of its time and evicted the `re` cache
    # the rules depend on. Offsets are found here instead, from a cursor (drift-proof).
    for sentence in _segmenter().processor(body).process():
        piece = sentence.strip()
        found = body.find(piece, cursor) if piece else -1
        if found < 0:
            continue  # not verbatim in the text; the gap is kept below, so no text is lost
        yield from _gap(body, cursor, found)
        cursor = found + len(piece)
        yield found, cursor
    yield from _gap(body, cursor, len(body))


_OPENERS = {"(": ")", "[": "]"}
_MAX_MENDED = 1500  # characters: a stray bracket never swallows a whole section


def _mend(body: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join pieces that pysbd cut in the wrong place: inside a word or number (no space at
    the cut: "3." + "5 GB"), inside an open parenthesis or bracket ("Encoding Rules (" +
    "DER) ..."), or before a lower-case continuation of an unfinished sentence."""
    mended: list[tuple[int, int]] = []
    for start, end in pieces:
        if (
            mended
            and _continues(body, mended[-1], (start, end))
            and end - mended[-1][0] <= _MAX_MENDED
        ):
            mended[-1] = (mended[-1][0], end)
        else:
            mended.append((start, end))
    return mended


def _continues(body: str, previous: tuple[int, int], piece: tuple[int, int]) -> bool:
    """Whether `piece` belongs to the sentence `previous` (both (start, end) in `body`)."""
    start, end = piece
    if start == previous[1]:
        return True  # cut with no space between: inside a word or a number
    before, after = body[previous[0] : previous[1]], body[start:end]
    for opener, closer in _OPENERS.items():
        if before.count(opener) > before.count(closer) and closer in after:
            return True
    return before[-1:] not in ".!?:;\"'”’)]" and body[start : start + 1].islower()


def _gap(body: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """Text between two found sentences that pysbd did not return verbatim, as one piece."""
    stripped = body[lo:hi].strip()
    if stripped:
        start = body.index(stripped, lo)
        yield start, start + len(stripped)


def cap_sentences(
    text: str,
    sentences: list[Span],
    count_tokens: TokenCounter,
    max_tokens: int,
    cut_counter: TokenCounter | None = None,
) -> list[Span]:
    """Cut any sentence longer than `max_tokens` into word-boundary pieces that fit.

    Linear in the text's length: a sentence with more words than `max_tokens` is long without
    being tokenized whole (every word is at least one token), and a long one is cut by adding
    up its words' counts (`_cut_long`). `cut_counter` (default `count_tokens`) counts single
    words and trial pieces; pass an uncached one so they are not all kept in a cache."""
    capped: list[Span] = []
    for sentence in sentences:
        piece = text[sentence.start : sentence.end]
        if _at_most_words(piece, max_tokens) and count_tokens(piece) <= max_tokens:
            capped.append(sentence)
        else:
            cutter = _Cutter(text, count_tokens, cut_counter or count_tokens, max_tokens)
            capped.extend(cutter.cut(sentence))
    return capped


def _at_most_words(text: str, limit: int) -> bool:
    """Whether `text` has at most `limit` white-space separated words (reads only as far as
    needed to tell)."""
    return len(text.split(None, limit)) <= limit


# Distinct words whose counts a cut remembers; past it, it forgets them all and starts over.
WORD_CACHE_SIZE = 50_000


class _Cutter:
    """Cuts a long sentence into pieces of at most `max_tokens` tokens at word boundaries.

    A piece grows word by word while the words' own token counts add up to the budget (a
    word's count is looked up once per distinct word), and is then counted whole, once: for a
    word-piece tokenizer the sum is exact. Where it is not (the whole counts more), the piece
    is found by binary search among its words. So each character is tokenized about twice,
    however long the sentence: linear, where searching from the sentence's end for every piece
    was quadratic."""

    def __init__(
        self, text: str, count: TokenCounter, count_part: TokenCounter, max_tokens: int
    ) -> None:
        self.text, self.count, self.count_part, self.max = text, count, count_part, max_tokens
        self._words: dict[str, int] = {}

    def cut(self, sentence: Span) -> Iterator[Span]:
        base, body = sentence.start, self.text[sentence.start : sentence.end]
        words = [m.span() for m in re.finditer(r"\S+", body)]  # tuples: millions of them
        known, first = self._words, 0
        while first < len(words):
            last, total = first, 0
            while last < len(words):
                lo, hi = words[last]
                word = body[lo:hi]
                size = known.get(word)
                if size is None:
                    if len(known) >= WORD_CACHE_SIZE:
                        known.clear()
                    size = known[word] = self.count_part(word)
                if last > first and total + size > self.max:
                    break
                total += size
                last += 1
            if last - first > 1 and self.count(self._text(body, words, first, last)) > self.max:
                last = self._search(body, words, first, last - 1)
            yield Span(base + words[first][0], base + words[last - 1][1])
            first = last

    @staticmethod
    def _text(body: str, words: list[tuple[int, int]], first: int, last: int) -> str:
        return body[words[first][0] : words[last - 1][1]]

    def _search(self, body: str, words: list[tuple[int, int]], first: int, hi: int) -> int:
        """The largest `last` in (first, hi] whose piece fits (`first + 1` at least)."""
        lo = first + 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count_part(self._text(body, words, first, mid)) <= self.max:
                lo = mid
            else:
                hi = mid - 1
        return lo


def chunk_sentences(
    text: str,
    sentences: list[Span],
    count_tokens: TokenCounter,
    options: ChunkingOptions = ChunkingOptions(),
) -> list[ChunkSpan]:
    """Pack consecutive sentences into chunks of at most `options.max_tokens` tokens.

    Each chunk after the first repeats the last `overlap_sentences` sentences of the previous
    one, when they fit. `sentences` must already be capped to `max_tokens` each.
    """
    sizes = [count_tokens(text[s.start : s.end]) for s in sentences]
    chunks: list[ChunkSpan] = []
    first = 0
    while first < len(sentences):
        last, total = first, 0
        while last < len(sentences) and (
            last == first or total + sizes[last] <= options.max_tokens
        ):
            total += sizes[last]
            last += 1
        chunks.append(ChunkSpan(sentences[first].start, sentences[last - 1].end, first, last))
        if last >= len(sentences):
            break
        first = max(first + 1, last - options.overlap_sentences)
    return chunks


def chunk_document(
    text: str, count_tokens: TokenCounter, options: ChunkingOptions = ChunkingOptions()
) -> tuple[list[Span], list[ChunkSpan]]:
    """Sentences (capped to the budget) and chunks of `text`; the one call the indexer needs."""
    cached = lru_cache(maxsize=None)(count_tokens)  # capping and packing both count each
    sentences = cap_sentences(text, split_sentences(text), cached, options.max_tokens, count_tokens)
    return sentences, chunk_sentences(text, sentences, cached, options)
