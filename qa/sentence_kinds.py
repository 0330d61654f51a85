"""What kind of text a stored sentence is, and whether its subject is in the sentence before.

In: one sentence's text (as `qa.chunking` cut it). Out: `kind(text)`, one of `prose`, `row`,
`heading`, `fragment`, `reference` or `boilerplate`, and `refers_back(text)`: it starts with a
pronoun or a short definite noun phrase followed by a verb ("It is ...", "The company was ...").
Only prose and table rows that hold a figure may be quoted on their own (`quotable`); the rest
stays context.

Everything is a cheap rule (regexes, small closed word lists), a few microseconds per sentence,
cached per text:

- row: a table's row as the readers write it, "cell; cell; cell" (no sentence end), or a
  Markdown row "| cell | cell |", that names something and gives a figure ("Chunkservers;
  342; 227", "fail-over duration; 14s", "| B | 227 | 180 TB |") or, in Markdown, says
  something in a cell of four words or more, and is no boilerplate or reference (a footer's
  "(c) 2024 Example Ltd; All rights reserved" is boilerplate);
- heading: a Markdown `#` heading; a common section name ("See also", "References"); a line
  without final punctuation that is in Title Case (at most 24 words: news headlines run long),
  or that is short (at most 12 words) and has no verb and no number (a terse line with a
  number, "Office hours 9am to 5pm", states a fact);
- fragment: a list item or a "Label: value" line without a verb (a list item that ends like
  a sentence and has more than four words is not, nor a bulleted one of more than six words,
  as slides write them), a table row without a figure ("GFS
  client; File namespace": a diagram's labels; "| Name | Year |"), a line with a dot leader
  (a table of contents: "Ranges . . . . 37"), a line of code (no sentence end, and an
  operator or brace prose does not use, or two calls: "x <- rev(sort(x))"), a line without
  letters, three words or fewer without a verb;
- reference: a strong bibliography marker (a leading "^" footnote mark, ISBN, ISSN, doi,
  "Retrieved <date>", "Archived from the original", PMID, arXiv), or two weak ones (a URL,
  "et al.", "pp. 12", "(2004).", "Surname, I.", "Vol. 2", "University Press"), or one
  weak one and no verb;
- boilerplate: navigation and site furniture ("Jump to navigation", "Skip to content", "Click
  here", "All rights reserved", "Privacy policy", cookie notices, "Share this", ...).

"Has a verb" is: an auxiliary or modal ("is", "was", "has", "can", ...), one of a few hundred
frequent verb forms, or a word ending in "-ed" that is not a known adjective or noun. It misses
rare present-tense verbs ("sings"), which only matters for short lines and list items.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

SentenceKind = Literal["prose", "row", "heading", "fragment", "reference", "boilerplate"]
KINDS: tuple[SentenceKind, ...] = (
    "prose", "row", "heading", "fragment", "reference", "boilerplate"
)  # fmt: skip
QUOTABLE: frozenset[SentenceKind] = frozenset({"prose", "row"})

SHORT_LINE = 12  # words: an unpunctuated line this short may be a heading
TITLE_LINE = 24  # words: an unpunctuated Title Case line this short is a heading (a headline)
TINY = 3  # words: a verbless sentence this short is a fragment
ROW_PHRASE = 4  # words: a table's cell this long says something (see `_says_something`)
MENU_LINE = 6  # words: a verbless line this short that names site furniture is boilerplate
CACHE = 65536  # distinct sentence texts remembered

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
_LETTER = re.compile(r"[A-Za-z]")
# Final punctuation, maybe followed by closing quotes and footnote marks ("views.[5]").
_FINAL = re.compile(r"[.!?…][\"'”’)]*(\[[^\]]{1,20}\])*$")
_DIGIT = re.compile(r"\d")
_FOOTNOTE_MARKS = re.compile(r"\[[^\]]{1,20}\]")
_MARKDOWN_HEADING = re.compile(r"^#{1,6}(\s|$)")
# A row as the PDF, DOCX and HTML readers write one: cells joined by "; "; a Markdown row.
_CELLS = re.compile(r"^[^;]+(?:; [^;]+)+$")
_PIPE_ROW = re.compile(r"^\|.*\|\s*$")
# A dot leader, as a table of contents or an index draws one ("Ranges . . . . . 37").
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|…{2,}")
# Code: an operator prose does not use, a brace, or (counted) a name called with "(".
_CODE_SIGN = re.compile(r"<-|←|==|!=|:=|=>|&&|\|\||[{}]")
_CALL = re.compile(r"[A-Za-z_][\w.]*\(")
_QUOTE_MARK = re.compile(r"^(>\s?)+")
_LIST_MARK = re.compile(r"^([-*+•·–—]|\d{1,3}[.)]|[a-z][.)])\s+")
_LABEL = re.compile(r"^[A-Z][\w ]{0,25}:\s")


def _set(words: str) -> frozenset[str]:
    """The whitespace-separated words of `words`."""
    return frozenset(words.split())


_AUXILIARIES = _set(
    """
    is are was were be been being am isn't aren't wasn't weren't has have had hasn't haven't
    hadn't having do does did don't doesn't didn't will would won't wouldn't shall should
    shouldn't can cannot can't could couldn't may might must mustn't it's he's she's that's
    there's they're we're you're i'm they've we've i've he'd she'd they'd we'd i'll he'll
    she'll they'll we'll you'll
    """
)
_VERBS = _set(
    """
    become becomes became begin begins began begun bring brings brought build builds built buy
    buys bought come comes came contain contains die dies drew drawn drive drives drove eat eats
    ate fell feel feels felt find finds found fly flies flew flown get gets got gotten give
    gives gave given go goes went gone grow grows grew grown hold holds held include includes
    keep keeps kept know knows knew known lead leads led leave left let lets lie lies lose loses
    lost make makes made mean meant meet meets met occurs pay pays paid refers remains ride
    rides rode rise rises rose ran say says said see sees saw seen sell sells sold send sends
    sent serves shown sing sings sang sit sits sat speak speaks spoke spoken spend spends spent
    stand stood take takes took taken teach teaches taught tell tells told think thinks thought
    win wins won write writes wrote written allows provides requires consists represents
    """
)
# Words ending in "-ed" that are seldom verbs.
_NOT_VERBS = _set(
    """
    bed bled bred breed creed embed fed feed greed hundred indeed kindred naked need red
    sacred seed shed shred sled speed steed united wed weed wicked ragged rugged beloved
    learned aged blessed crooked dogged jagged
    """
)
_SMALL_WORDS = _set("a an and as at but by for from in into nor of on or the to vs via with")
_SECTION_NAMES = frozenset(
    name.strip()
    for name in """
    see also|references|notes|external links|further reading|bibliography|sources|contents|
    table of contents|footnotes|citations|works cited|navigation|navigation menu|gallery|
    related articles|related pages
    """.replace("\n", "").split("|")
    if name.strip()
)

_STRONG_REFERENCE = re.compile(
    r"^\^|\bISBN\b|\bISSN\b|\bdoi\s*[:.]|\bdoi\.org\b|\bPMID\b|\barXiv:|\bOCLC\b"
    r"|\bArchived from the original\b"
    r"|\bRetrieved (on )?(\d{1,2} )?[A-Z][a-z]+ \d|\bRetrieved \d{4}-\d\d-\d\d",
    re.IGNORECASE,
)
_WEAK_REFERENCE = (
    re.compile(r"https?://\S+|\bwww\.\S+"),
    re.compile(r"\bet al\."),
    re.compile(r"\bpp?\. ?\d"),
    re.compile(r"\(\d{4}[a-z]?\)\."),
    re.compile(r"^[A-Z][a-z]+, [A-Z]\."),
    re.compile(r"\b[Vv]ol\. ?\d"),
    re.compile(r"\bUniversity Press\b"),
)

_BOILERPLATE_START = re.compile(
    r"^(jump to|skip to|click here|retrieved from\b|from wikipedia\b|main menu\b"
    r"|this article (is a stub|needs|has multiple issues)|cookie (policy|settings|notice)"
    r"|(we|this (web)?site) uses? cookies|accept (all )?cookies|privacy policy\b"
    r"|terms of (use|service)\b)",
    re.IGNORECASE,
)
# Only on lines of at most `MENU_LINE` words ("Sign in French, ..." is a caption).
_MENU_START = re.compile(
    r"^(share (this|on|via)\b|sign (in|up)\b|log ?in\b|subscribe\b|read more\b|back to top\b"
    r"|follow us\b|toggle\b|advertisement\b|powered by\b)",
    re.IGNORECASE,
)
_BOILERPLATE_ANYWHERE = re.compile(
    r"all rights reserved|©|\bcopyright (©|\(c\)|\d{4})|jump to (navigation|search)"
    r"|skip to (main )?content|click here",
    re.IGNORECASE,
)
_MENU_WORDS = _set(
    """
    menu navigation privacy terms cookie cookies contact home search share subscribe newsletter
    sitemap login register facebook twitter instagram linkedin youtube print edit
    """
)

# "We" / "Our" open the sentence of a paper that goes on with the topic the one before named
# ("Chunk size is one of the key design parameters. We have chosen 64 MB, ...").
_PRONOUNS = _set("it its he his him she her they their them this these those that such we our")
_DEFINITE = re.compile(r"^The ([a-z][a-z'’-]*)(?: ([a-z][a-z'’-]*))? ([a-z][a-z'’-]*)")


def words_of(text: str) -> list[str]:
    """The words (and numbers) of `text`, in order, case kept."""
    return _WORD.findall(text)


def is_verb(word: str) -> bool:
    """Whether `word` (any case) looks like a finite verb or an auxiliary (cheap rules)."""
    lower = word.lower().replace("’", "'")
    if lower in _AUXILIARIES or lower in _VERBS:
        return True
    return len(lower) >= 4 and lower.endswith("ed") and lower not in _NOT_VERBS


def has_verb(words: list[str]) -> bool:
    """Whether any of `words` looks like a verb (see `is_verb`)."""
    return any(is_verb(word) for word in words)


@lru_cache(maxsize=CACHE)
def kind(text: str) -> SentenceKind:
    """The kind of one sentence (see the module docstring for the rules)."""
    body = _QUOTE_MARK.sub("", text.strip())
    if _MARKDOWN_HEADING.match(body):
        return "heading"
    piped = body.startswith("|")  # a Markdown table's row (or its rule)
    if piped and not (_PIPE_ROW.match(body) and _LETTER.search(body)):
        return "fragment"
    if not piped and (_DOT_LEADER.search(body) or not _LETTER.search(body) or _is_code(body)):
        return "fragment"
    table = piped or in_table(body)
    item = None if table else _LIST_MARK.match(body)
    rest = body[item.end() :] if item else body
    words = words_of(rest)
    verb = has_verb(words)
    if _is_boilerplate(rest, words, verb):
        return "boilerplate"
    if _is_reference(rest, verb):
        return "reference"
    if table:
        cells = _cells(body)
        said = piped and _says_something(cells)  # a Markdown table is one for sure
        return "row" if said or _gives_figure(cells) else "fragment"
    if not verb and item and _states_something(item.group(1), rest, words):
        return "prose"
    if not verb and (item or _LABEL.match(rest)) and _listed_fragment(rest, words, bool(item)):
        return "fragment"
    if _is_heading(rest, words, verb):
        return "heading"
    return "fragment" if not verb and len(words) <= TINY else "prose"


@lru_cache(maxsize=CACHE)
def quotable(text: str) -> bool:
    """Whether the sentence may be quoted on its own: prose and table rows with a figure may.
    Cached itself: it is asked for every candidate of every question."""
    return kind(text) in QUOTABLE


def in_table(text: str) -> bool:
    """Whether `text` is a table's row: "cell; cell; cell" as the PDF, DOCX and HTML readers
    write one, without a sentence end, or a Markdown row "| cell | cell |" (a header row and
    a Markdown rule too). Asked for every candidate of every question: most sentences are
    ruled out by a substring test."""
    if text.startswith("|"):
        return bool(_PIPE_ROW.match(text))
    return "; " in text and bool(_CELLS.match(text)) and not _FINAL.search(text)


def _cells(row: str) -> list[str]:
    """The cells of a table row (see `in_table`)."""
    if row.startswith("|"):
        return [cell.strip() for cell in row.strip().strip("|").split("|")]
    return row.split("; ")


def _gives_figure(cells: list[str]) -> bool:
    """Whether a table row names something (a cell with a letter) and gives a figure (a cell
    with a digit): "Chunkservers; 342; 227", "| B | 227 | 180 TB |"."""
    return any(_LETTER.search(cell) for cell in cells) and any(
        _DIGIT.search(cell) for cell in cells
    )


def _says_something(cells: list[str]) -> bool:
    """Whether a table row names something and says something about it in words: a cell with
    a letter beside a cell of `ROW_PHRASE` words or more ("| sentences | pysbd | rule-based, no
    model download |"); a header's labels are shorter ("| setting | flag | default |"). Asked
    of Markdown rows only: the PDF reader finds tables by their layout, and a flowchart's boxes
    side by side would pass."""
    long = [i for i, cell in enumerate(cells) if len(words_of(cell)) >= ROW_PHRASE]
    return bool(long) and any(_LETTER.search(c) for i, c in enumerate(cells) if i not in long)


def _is_code(text: str) -> bool:
    """A line of code: no sentence end, and an operator prose does not use or a brace ("x <-
    c(1:5)", "if (a == b) {"), or two calls ("stopifnot(rev(x) == y)"). A sentence that ends
    like one ("Use sort() to order it.") is prose."""
    if _FINAL.search(text):
        return False
    return bool(_CODE_SIGN.search(text)) or len(_CALL.findall(text)) >= 2


def _states_something(mark: str, text: str, words: list[str]) -> bool:
    """Whether a bulleted item without a verb the rules know still states something: more than
    `MENU_LINE` words, not in capitals. Slides end their bullets without a period and use verbs
    the rules miss ("• Vendor support for the tape library ends in March 2027", "• Two outages:
    14 and 47 minutes"); a numbered item without a verb is more often a reference or a form's
    label ("20. Bann DV, Goyal N, ...", "15. DATE OF BIRTH (MM/DD/YYYY)")."""
    return not mark[0].isalnum() and len(words) > MENU_LINE and not text.isupper()


def _listed_fragment(text: str, words: list[str], item: bool) -> bool:
    """A verbless list item or label line is a fragment, unless it is a list item that reads as
    a sentence: final punctuation and more than `TINY` + 1 words ("• The system stores a modest
    number of large files." - a verb the rules miss)."""
    if not _FINAL.search(text):
        return True
    return len(words) <= (TINY + 1 if item else SHORT_LINE)


def _is_boilerplate(text: str, words: list[str], verb: bool) -> bool:
    """Navigation, notices and site furniture."""
    if _BOILERPLATE_START.match(text) or _BOILERPLATE_ANYWHERE.search(text):
        return True
    if len(words) > MENU_LINE:
        return False
    return bool(_MENU_START.match(text)) or (
        not verb and any(w.lower() in _MENU_WORDS for w in words)
    )


def _is_reference(text: str, verb: bool) -> bool:
    """A bibliography or footnote line: one strong marker, two weak ones, or a weak one and no
    verb."""
    if _STRONG_REFERENCE.search(text):
        return True
    weak = sum(1 for pattern in _WEAK_REFERENCE if pattern.search(text))
    return weak >= 2 or (weak == 1 and not verb)


def _is_heading(text: str, words: list[str], verb: bool) -> bool:
    """A section name, or an unpunctuated line in Title Case (a headline), or a short one without
    a verb and without a number (a terse line like "Office hours 9am to 5pm" states a fact)."""
    if text.rstrip(" :").lower() in _SECTION_NAMES:
        return True
    if _FINAL.search(text):
        return False
    if len(words) <= TITLE_LINE and _title_case(words):
        return True
    if len(words) > SHORT_LINE:
        return False
    return not verb and not _DIGIT.search(_FOOTNOTE_MARKS.sub("", text))


def _title_case(words: list[str]) -> bool:
    """Two or more words, every one capitalized but small function words (and numbers)."""
    lettered = [w for w in words if not w.isdigit()]
    return len(lettered) >= 2 and all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in lettered)


@lru_cache(maxsize=CACHE)
def refers_back(text: str) -> bool:
    """Whether the sentence's subject is in the sentence before: it starts with a pronoun
    ("It", "They", "This", "Its", "We", ...) or with "The" and one or two lower-case words followed
    by a verb ("The company was founded ...", "The new bridge opened ...")."""
    words = words_of(text[:80])
    if not words:
        return False
    if words[0].lower() in _PRONOUNS:
        return True
    match = _DEFINITE.match(text[:80])
    if match is None:
        return False
    return any(is_verb(word) for word in match.groups()[1:] if word)
