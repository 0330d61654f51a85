"""A quote in its context (qa/context.py): at most one sentence either side, inside its block,
at most 80 words besides the quote, an exact slice of the document's text."""

from __future__ import annotations

import numpy as np
import pytest

from qa.chunking import ChunkingOptions, chunk_document
from qa.context import CONTEXT_WORDS, quote_context
from qa.stores.base import StoredChunk, StoredSentence

TEXT = (
    "# The bridge\n"
    "\n"
    "The bridge was opened in 1932 by the mayor. It is painted red and crosses the river.\n"
    "Ferries stopped running after the bridge opened. Tolls ended in 1950.\n"
    "\n"
    "Later works were smaller. A footpath was added in 1990.\n"
    "- It has two lanes. Each lane is wide.\n"
    "- Cyclists use the footpath.\n"
    "After the list comes a paragraph. It ends here.\n"
)
LONG = " ".join(["word"] * (CONTEXT_WORDS + 5)) + "."


def stored(text: str, doc_id: str = "d.txt", max_words: int = 30) -> list[StoredChunk]:
    """`text` cut into sentences and chunks as the indexer cuts them, at most `max_words` words
    a chunk (a word counted as two tokens, so chunks can be small)."""
    sentences, chunks = chunk_document(
        text, lambda t: 2 * len(t.split()), ChunkingOptions(max_tokens=2 * max_words)
    )
    vector = np.zeros(4, dtype=np.float32)
    out = []
    for n, chunk in enumerate(chunks):
        inside = [
            StoredSentence(doc_id, s.start, s.end, text[s.start : s.end], vector)
            for s in sentences[chunk.first : chunk.last]
        ]
        out.append(StoredChunk(f"{doc_id}#{n}", doc_id, "T", chunk.start, chunk.end,
                               text[chunk.start : chunk.end], inside, vector))  # fmt: skip
    return out


def context_of(quote: str, chunks: list[StoredChunk], text: str = TEXT, fetch=None):  # type: ignore[no-untyped-def]
    start = text.index(quote)
    return quote_context("d.txt", start, start + len(quote), quote, chunks, fetch)


def test_a_sentence_inside_a_paragraph_gets_one_sentence_either_side() -> None:
    context = context_of("It is painted red and crosses the river.", stored(TEXT, max_words=200))
    assert context.text == (
        "The bridge was opened in 1932 by the mayor. It is painted red and crosses the river.\n"
        "Ferries stopped running after the bridge opened."
    )
    assert TEXT[context.start : context.end] == context.text


def test_a_context_never_crosses_a_blank_line_a_heading_or_a_list_item() -> None:
    chunks = stored(TEXT, max_words=200)
    first = context_of("The bridge was opened in 1932 by the mayor.", chunks)
    assert first.text.startswith("The bridge was opened")  # not the heading before it
    last = context_of("Tolls ended in 1950.", chunks)
    assert last.text.endswith("Tolls ended in 1950.")  # not the next paragraph
    before_list = context_of("A footpath was added in 1990.", chunks)
    assert before_list.text == "Later works were smaller. A footpath was added in 1990."
    item = context_of("Each lane is wide.", chunks)
    assert item.text == "- It has two lanes. Each lane is wide."  # its own item only
    after_list = context_of("After the list comes a paragraph.", chunks)
    assert after_list.text == "After the list comes a paragraph. It ends here."


@pytest.mark.parametrize("max_words", [9, 12, 20, 200])
def test_every_sentence_has_an_exact_context_holding_its_quote(max_words: int) -> None:
    chunks = stored(TEXT, max_words=max_words)
    by_id = {c.chunk_id: c for c in chunks}
    for chunk in chunks:
        for sentence in chunk.sentences:
            context = quote_context(sentence.doc_id, sentence.start, sentence.end,
                                    sentence.text, [chunk], by_id.get)  # fmt: skip
            assert TEXT[context.start : context.end] == context.text
            assert context.start <= sentence.start and sentence.end <= context.end
            assert "\n\n" not in context.text
            extra = context.text.replace(sentence.text, "", 1)
            assert len(extra.split()) <= CONTEXT_WORDS


def test_a_quote_at_a_chunks_edge_finds_its_neighbour_in_the_next_chunk() -> None:
    text = "One two three four. Five six seven eight. Nine ten eleven twelve. End of it all."
    chunks = stored(text, max_words=8)  # two sentences a chunk, overlapping by one
    assert len(chunks) >= 2
    quote = "Nine ten eleven twelve."
    first = next(c for c in chunks if c.sentences[-1].text == quote)
    alone = context_of(quote, [first], text)
    assert alone.text == "Five six seven eight. Nine ten eleven twelve."
    by_id = {c.chunk_id: c for c in chunks}
    fetched = context_of(quote, [first], text, fetch=by_id.get)
    assert fetched.text == "Five six seven eight. Nine ten eleven twelve. End of it all."
    assert context_of(quote, chunks, text).text == fetched.text  # at hand: nothing to fetch


def test_a_neighbour_longer_than_the_word_budget_is_left_out() -> None:
    text = f"Short first one. {LONG} The quote is here. A short last one."
    context = context_of("The quote is here.", stored(text, max_words=400), text)
    assert context.text == "The quote is here. A short last one."


def test_a_sentence_alone_is_its_own_context() -> None:
    text = "Only this one.\n\nAnd another block."
    context = context_of("Only this one.", stored(text), text)
    assert (context.start, context.end, context.text) == (0, 14, "Only this one.")
