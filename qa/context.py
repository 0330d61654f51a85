"""A quote in its context: the quote plus at most one sentence before and one after it.

In: a citation's document, offsets and text, the chunks already retrieved for the question
and, optionally, a way to fetch one more chunk by id (the store's). Out: a `Context` with
`text == text_of(doc_id)[start:end]`, which contains the quote.

A neighbour is only taken from the same block: never across a blank line or into or out of a
heading, list item, quote or table row (the blocks `qa.chunking.split_blocks` cuts), and the
context holds at most `CONTEXT_WORDS` words besides the quote (the sentence before is taken
first: it more often names what the quote speaks of). The sentences and their offsets come
from the stored chunks, which overlap by a sentence, so a quote at a chunk's edge finds its
neighbour in the next chunk; only when that chunk was not retrieved is it fetched (one lookup,
by id). Costs a few microseconds a citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.chunking import _STRUCTURAL_LINE
from qa.stores.base import StoredChunk

CONTEXT_WORDS = 80  # the most words the context adds to the quote
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")

ChunkFetcher = Callable[[str], "StoredChunk | None"]


@dataclass(frozen=True)
class Context:
    """`text == text_of(doc_id)[start:end]`; it contains the quote."""

    start: int
    end: int
    text: str


def quote_context(
    doc_id: str,
    start: int,
    end: int,
    quote: str,
    chunks: Sequence[StoredChunk],
    fetch: ChunkFetcher | None = None,
) -> Context:
    """The context of the quote `text_of(doc_id)[start:end] == quote` (see the module's
    docstring). `chunks`: those at hand (any documents'); `fetch(chunk_id)`: another chunk of
    the document, or None when unknown."""
    own = [c for c in chunks if c.doc_id == doc_id]
    budget = CONTEXT_WORDS
    before = _neighbour(own, start, end, -1, fetch)
    prefix = ""
    if before is not None and _words(before) <= budget:
        prefix = before
        budget -= _words(before)
    after = _neighbour(own, start, end, 1, fetch)
    suffix = after if after is not None and _words(after) <= budget else ""
    return Context(start - len(prefix), end + len(suffix), prefix + quote + suffix)


def _words(text: str) -> int:
    return len(text.split())


def _neighbour(
    chunks: list[StoredChunk], start: int, end: int, side: int, fetch: ChunkFetcher | None
) -> str | None:
    """The text joining the quote `[start, end)` to the sentence on `side` (-1 before, 1 after)
    of it, that sentence included, when that sentence is in the quote's block; else None.
    Looks in `chunks`, then in the chunk next to the one whose edge the quote is at."""
    edge: StoredChunk | None = None
    for chunk in chunks:
        found = _in_chunk(chunk, start, end, side)
        if found is not None:
            return found or None
        if _at_edge(chunk, start, end, side):
            edge = chunk
    if edge is None or fetch is None:
        return None
    prefix, _, number = edge.chunk_id.rpartition("#")
    if not number.isdigit() or int(number) + side < 0:
        return None
    fetched = fetch(f"{prefix}#{int(number) + side}")
    if fetched is None or fetched.doc_id != edge.doc_id:
        return None
    return _in_chunk(fetched, start, end, side) or None


def _in_chunk(chunk: StoredChunk, start: int, end: int, side: int) -> str | None:
    """In `chunk`: the joining text with the neighbour on `side` ('' when the neighbour is in
    another block), or None when this chunk does not hold both the quote and that neighbour."""
    sentences = chunk.sentences
    if side < 0:
        i = next((i for i, s in enumerate(sentences) if s.start == start), -1)
        if i <= 0:
            return None
        other = sentences[i - 1]
        lo, hi, joined = other.start, start, _same_block(chunk, other.end, start)
    else:
        i = next((i for i, s in enumerate(sentences) if s.end == end), -1)
        if i < 0 or i + 1 >= len(sentences):
            return None
        other = sentences[i + 1]
        lo, hi, joined = end, other.end, _same_block(chunk, end, other.start)
    if not joined:
        return ""
    return chunk.text[lo - chunk.start : hi - chunk.start]


def _at_edge(chunk: StoredChunk, start: int, end: int, side: int) -> bool:
    """Whether the quote is `chunk`'s first (side -1) or last (side 1) sentence."""
    if not chunk.sentences:
        return False
    if side < 0:
        return chunk.sentences[0].start == start
    return chunk.sentences[-1].end == end


def _same_block(chunk: StoredChunk, left_end: int, right_start: int) -> bool:
    """Whether the sentence ending at `left_end` and the one starting at `right_start` (both in
    `chunk`) are in one block: no line break between them, or only line breaks that wrap a
    paragraph (no blank line, neither line structural)."""
    text, base = chunk.text, chunk.start
    gap = text[left_end - base : right_start - base]
    if "\n" not in gap:
        return True
    if _BLANK_LINE.search(gap):
        return False
    line_end = text.find("\n", right_start - base)
    line_end = len(text) if line_end < 0 else line_end
    right_line = gap[gap.rfind("\n") + 1 :] + text[right_start - base : line_end]
    if _STRUCTURAL_LINE.match(right_line):
        return False
    line_start = text.rfind("\n", 0, left_end - base) + 1
    return not _STRUCTURAL_LINE.match(text[line_start : left_end - base])
