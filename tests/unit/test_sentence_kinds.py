"""Which sentences may be quoted on their own, and which refer back to the sentence before."""

from __future__ import annotations

import pytest

from qa.sentence_kinds import KINDS, has_verb, kind, quotable, refers_back, words_of

CASES = {
    "row": [  # a table's row as the readers write it: names something, gives a figure
        "Chunkservers; 342; 227",
        "fail-over duration; 14s",
        "Agnostic; 27; 34; 60; 81; 76; 137",
        "| B       | 227      | 180 TB     |",  # a Markdown row
        # a Markdown row that says something in words: a table for sure, no figure needed
        "| sentences | pysbd | rule-based, no model download; handles abbreviations |",
    ],
    "heading": [
        "# Early life",
        "### How it works",
        "Early life",
        "See also",
        "External links",
        "Early Life and Career",
        "What Is Machine Learning",
        "How it works",
        "References:",
        "Self-views of the Persians[2]",
        # a news headline: Title Case, unpunctuated, longer than a short line
        "Japan and New Zealand Agree to Enhance Classified Information Sharing Amid Growing "
        "Regional Tensions",
    ],
    "fragment": [
        "- Paris, France",
        "* Born: 1952",
        "Born: 1952",
        "1. Main span: 1,280 metres",
        "| Name | Year |",
        "[4]",
        "---",
        "p. 12.",
        "Corpus Christi procession.",
        "\u2013 Fast recovery from failure.",  # a short verbless list item
        "\u2022 Hiring: two open SRE roles",  # a slide's bullet of six words or fewer
        "15. CLAIMANT'S DATE OF BIRTH (MM/DD/YYYY) AND PLACE OF BIRTH",  # a form's label
        "20. Bann DV, Goyal N, Camacho F, Goldenberg D. Increasing incidence",  # a reference
        "2 A Brief Introduction to Octave . . . . . . . . . . . 13",  # contents
        # code: an operator or a brace prose does not use, or two calls, and no sentence end
        "x <- c(1:5, 5:3) ## sort into descending order; first more efficiently:",
        "stopifnot(sort(x, decreasing = TRUE) == rev(sort(x)))",
        "test1 <- function(x = pi, dig = 3) {",
        'if (length(env) > 0 && any(names(env) == "")) stop("all arguments must be named")',
        "13 eagerPushPeers \u2190\u2212 getPeers(f); 35 else",  # pseudo-code's arrow
        # a row without a figure (a diagram's labels) or without a name
        "GFS client; File namespace",
        "Cluster; A; B",
        "| Cluster | Machines | Disk space |",
        "| setting | flag | environment | default |",  # a header: labels only
        "sentences; pysbd; rule-based, no model download",  # laid out: a figure is needed
        "|---------|----------|------------|",
    ],
    "reference": [
        "^ Smith, John (2004). Bridges of Europe.",
        "Smith, J. (2004).",
        "Retrieved 12 March 2019.",
        "ISBN 978-0-19-123456-7",
        "doi:10.1000/182",
        "Archived from the original on 3 May 2010.",
        "https://example.com/page",
        "Oxford University Press.",
        "Jones, K.; Smith, J. et al. Bridges, pp. 10-12.",
    ],
    "boilerplate": [
        "Jump to navigation",
        "Jump to search",
        "Main menu",
        "Privacy policy",
        "Terms of use",
        "All rights reserved.",
        "© 2024 Example Ltd.",
        "We use cookies to improve your experience on our website.",
        "Cookie settings",
        "Share this article",
        "Click here to subscribe.",
        "\u00a9 2024 Example Ltd; All rights reserved",  # a footer's row: no figure to quote
        "Skip to content",
        "Home",
    ],
    "prose": [
        "The bridge was opened in 1932 by the mayor.",
        "It is painted red.",
        "Paris is the capital of France",
        "- The tower is 330 metres tall.",
        "Smith et al. (2004) found that bridges rust.",
        "Cookies are small text files stored by your browser.",
        "The company's privacy policy was criticised by regulators in 2019.",
        "Sign in French, at a monument in Bamako, Mali, next to the river.",
        "He sings.",
        "Self-enhancement involves a preference for positive over negative self-views.[5]",
        "[3]:309 While working on the game (1996), Blackburn concluded that he was done.",
        "Note: the bridge is closed on Sundays.",
        "He came; he saw; he won in 47 BC.",  # semicolons in a sentence that ends like one
        "Office hours 9am to 5pm Monday to Friday",
        # code in a sentence that ends like one, or one call in a line: still prose
        "To quit the R program the command is q() and nothing else.",
        "Under S, sq() does not know about the variable n unless it is defined globally:",
        "Use x <- rev(x) to reverse a vector.",
        # list items from PDFs: a curly apostrophe, a verb the rules miss (a sentence anyway)
        "\u2022 It\u2019s Free Software.",
        "\u2022 The system stores a modest number of large files.",
        # a slide's bullet: no full stop, a verb the rules miss, or none at all
        "\u2022 Vendor support for the old tape library ends in March 2027",
        "\u2022 Two outages: 14 minutes and 47 minutes",
        "\u2013 Mitigation: move cold data to object storage by February",
        # long and unpunctuated but not Title Case: a sentence that lost its full stop
        "Japan and New Zealand agreed to enhance classified information sharing amid growing "
        "regional tensions",
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"), [(text, k) for k, texts in CASES.items() for text in texts]
)
def test_kind(text: str, expected: str) -> None:
    assert kind(text) == expected
    assert quotable(text) == (expected in ("prose", "row"))


def test_every_kind_is_tested() -> None:
    assert set(CASES) == set(KINDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It is painted red.", True),
        ("He was born in 1952.", True),
        ("They moved to Paris.", True),
        ("This is the measure used in most parts of the world.", True),
        ("Its population is 2 million.", True),
        ("We have chosen 64 MB, which is much larger than typical block sizes.", True),
        ("Our design uses a single master.", True),
        ("Western Europe was devastated.", False),
        ("The company was founded in 1990.", True),
        ("The new bridge opened in 1932.", True),
        ("The Middle Ages is the middle period of European history.", False),
        ("The bridge, opened in 1932, is red.", False),
        ("Paris is the capital of France.", False),
        ("Traffic first crossed in 1937.", False),
        ("", False),
    ],
)
def test_refers_back(text: str, expected: bool) -> None:
    assert refers_back(text) is expected


def test_verbs_are_found_by_cheap_rules() -> None:
    assert has_verb(words_of("The bridge was opened"))
    assert has_verb(words_of("Invented the telephone"))
    assert has_verb(words_of("She became mayor"))
    assert not has_verb(words_of("Paris, France"))
    assert not has_verb(words_of("A hundred red bridges"))


def test_kinds_are_cached_per_text() -> None:
    kind.cache_clear()
    kind("Early life")
    kind("Early life")
    assert kind.cache_info().hits == 1 and kind.cache_info().currsize == 1
