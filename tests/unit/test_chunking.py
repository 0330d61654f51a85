"""Sentence splitting and chunk packing: exact offsets, structure kept, budgets respected."""

import re

import pytest

from qa.chunking import (
    ChunkingOptions,
    cap_sentences,
    chunk_document,
    chunk_sentences,
    split_blocks,
    split_sentences,
)


def words(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def texts(text, spans):
    return [text[s.start : s.end] for s in spans]


def test_abbreviations_initials_times_and_decimals_stay_inside_sentences():
    text = "Dr. J. R. R. Tolkien arrived at 3 p.m. on Jan. 5. He paid $3.50 for a U.S. map."
    assert texts(text, split_sentences(text)) == [
        "Dr. J. R. R. Tolkien arrived at 3 p.m. on Jan. 5.",
        "He paid $3.50 for a U.S. map.",
    ]


def test_no_sentence_starts_or_ends_inside_a_parenthesis_a_number_or_a_word():
    # pysbd alone cuts both (after "(†).", and before "(a)" and "(b)")
    text = (
        "Theorem 3.2 (Subject to Assumption (\u2020).) x is the principal eigenvector. "
        "Table 10(a) shows the melted data, and Table 10(b) shows the split column."
    )
    assert texts(text, split_sentences(text)) == [
        "Theorem 3.2 (Subject to Assumption (\u2020).) x is the principal eigenvector.",
        "Table 10(a) shows the melted data, and Table 10(b) shows the split column.",
    ]


def test_an_unclosed_parenthesis_does_not_swallow_the_next_sentences():
    text = "Smile :( and go. Next sentence here. And a third one."
    assert texts(text, split_sentences(text)) == [
        "Smile :( and go.",
        "Next sentence here.",
        "And a third one.",
    ]


def test_markdown_headings_and_list_items_are_not_glued_to_the_next_sentence():
    text = "# Methods\nSteep it.\n\n## Notes\n- first item\n- second item\n1. numbered\nPlain end."
    assert texts(text, split_sentences(text)) == [
        "# Methods",
        "Steep it.",
        "## Notes",
        "- first item",
        "- second item",
        "1. numbered",
        "Plain end.",
    ]


def test_wrapped_lines_inside_a_paragraph_form_one_sentence():
    text = "This sentence is wrapped\nover two lines. Next one."
    assert texts(text, split_sentences(text)) == [
        "This sentence is wrapped\nover two lines.",
        "Next one.",
    ]


def test_offsets_are_exact_with_repeated_text_bom_free_unicode_and_crlf():
    text = "Same line.\r\n\r\nSame line.\r\n\r\nÉmigrés café — naïve 😀 test.  Ünïcode end."
    spans = split_sentences(text)
    assert texts(text, spans) == ["Same line.", "Same line.", "Émigrés café — naïve 😀 test.",
                                  "Ünïcode end."]  # fmt: skip
    assert spans[0].start != spans[1].start
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.end <= b.start


def test_blocks_split_at_blank_lines():
    text = "one\ntwo\n\n\nthree"
    assert texts(text, split_blocks(text)) == ["one\ntwo", "three"]


def test_long_sentence_is_cut_at_word_boundaries_to_fit_the_budget():
    text = " ".join(f"w{i}" for i in range(100))
    pieces = cap_sentences(text, split_sentences(text), words, max_tokens=30)
    assert len(pieces) == 4
    assert " ".join(texts(text, pieces)) == text
    assert all(words(text[p.start : p.end]) <= 30 for p in pieces)


def test_chunks_respect_budget_overlap_and_cover_every_sentence():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    options = ChunkingOptions(max_tokens=30, overlap_sentences=1)
    sentences, chunks = chunk_document(text, words, options)
    assert len(chunks) > 3
    covered = set()
    for chunk in chunks:
        assert words(text[chunk.start : chunk.end]) <= 30 + 2
        assert chunk.start == sentences[chunk.first].start
        assert chunk.end == sentences[chunk.last - 1].end
        covered.update(range(chunk.first, chunk.last))
    assert covered == set(range(len(sentences)))
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert following.first == previous.last - 1  # one shared sentence


def test_a_single_oversized_sentence_still_gets_its_own_chunk():
    text = "short. " + "x " * 5
    sentences = split_sentences(text)
    chunks = chunk_sentences(text, sentences, words, ChunkingOptions(max_tokens=16))
    assert chunks[0].first == 0 and chunks[-1].last == len(sentences)


def test_empty_text_gives_no_sentences_and_no_chunks():
    assert chunk_document("  \n\n ", words) == ([], [])


def test_options_are_checked():
    with pytest.raises(ValueError, match="max_tokens"):
        ChunkingOptions(max_tokens=3)
    with pytest.raises(ValueError, match="overlap"):
        ChunkingOptions(overlap_sentences=-1)


TRICKY = [
    'He said "Hello." Then (left!) and... ok?? Yes!!  Dr. No. 3.5 m. i.e. fine. e.g. this',
    "Prices: $3.50, €4,20 and ¥100. Mr. & Mrs. Smith — née Jones — arrived at 10:30 a.m.",
    "1. First\n2. Second item.\n\n* bullet\n> quoted text. More quote.\n| a | b |\n---\nEnd",
    "No punctuation at all in this block\nand a second wrapped line",
    "Unicode “quotes” and ‘single’ ones… ellipsis… ¿Qué? ¡Sí! 中文句子。另一个句子。",
    "   leading spaces. trailing spaces.   \n\n\n   ",
]


@pytest.mark.parametrize("text", TRICKY)
def test_every_visible_character_is_in_exactly_one_sentence(text):
    covered = [0] * len(text)
    for span in split_sentences(text):
        assert text[span.start : span.end] == text[span.start : span.end].strip()
        for i in range(span.start, span.end):
            covered[i] += 1
    for i, char in enumerate(text):
        assert covered[i] <= 1, f"character {i} in two sentences"
        if not char.isspace():
            assert covered[i] == 1, f"character {i} ({char!r}) lost"


def _counted(text: str) -> int:
    """Characters the token counter reads while `text` is chunked (capping and packing)."""
    read = [0]

    def count(piece: str) -> int:
        read[0] += len(piece)
        return words(piece)

    sentences, chunks = chunk_document(text, count, ChunkingOptions(max_tokens=64))
    assert texts(text, sentences) and "".join(texts(text, sentences)).replace(" ", "") == (
        text.replace(" ", "")
    )
    assert all(words(text[c.start : c.end]) <= 64 for c in chunks)
    return read[0]


def test_a_long_sentence_is_cut_in_linear_work():
    """One sentence with no end (a one-line file): the work the cut does grows with the text,
    not its square. Counted in characters tokenized, so timing noise cannot flake it; the
    quadratic cut read 8x the text 64 times over at 8x the size."""
    one = " ".join(f"word{i % 97}" for i in range(4000))
    eight = " ".join(f"word{i % 97}" for i in range(32000))
    assert _counted(eight) < 10 * _counted(one)
    assert _counted(eight) < 40 * len(eight)


def test_a_long_sentence_fits_even_when_word_counts_do_not_add_up():
    """A counter whose whole-piece count exceeds the sum of its words' (spaces count too):
    the cut falls back to a search, and every piece still fits."""

    def count(text: str) -> int:
        return len(text) // 3 + 1

    text = " ".join(f"w{i % 50}" for i in range(3000))
    sentences = cap_sentences(text, split_sentences(text), count, 20)
    assert len(sentences) > 100
    assert all(count(text[s.start : s.end]) <= 20 for s in sentences)
    assert " ".join(texts(text, sentences)) == text
