"""Where an offset of a document's text lies: its page (PDF; a PPTX's slide) and its section
(nearest heading).

In: a document's `pages` (start offset in its text of each page, in order; pages[0] == 0) and
`sections` ((start offset of a heading, heading text), in text order), as extraction records
them and the index stores them. Out: `page_of(pages, offset)` -> the 1-based page or None,
`section_of(sections, offset)` -> the last heading starting at or before `offset`, or None;
`page_label(doc_id, page)` -> how a person names that page ("p. 3", "slide 3").
Empty tuples (an index built before they were stored, a plain-text file) give None.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

Pages = tuple[int, ...]
Sections = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class DocumentLayout:
    """A stored document's page starts and headings (both empty when unknown)."""

    pages: Pages = ()
    sections: Sections = ()

    def page(self, offset: int) -> int | None:
        return page_of(self.pages, offset)

    def section(self, offset: int) -> str | None:
        return section_of(self.sections, offset)


NO_LAYOUT = DocumentLayout()


def page_of(pages: Pages, offset: int) -> int | None:
    """The 1-based page holding `offset` (an empty page shares its start with the next one,
    which wins); None without pages."""
    return bisect.bisect_right(pages, offset) or None if pages else None


def section_of(sections: Sections, offset: int) -> str | None:
    """The text of the last heading that starts at or before `offset`; None when there is
    none (no headings, or the offset lies before the first)."""
    at = bisect.bisect_right([start for start, _ in sections], offset)
    return sections[at - 1][1] if at else None


def layout_from_json(pages: object, sections: object) -> DocumentLayout:
    """A layout from its stored JSON form (`[int, ...]`, `[[int, str], ...]`); anything
    missing or malformed reads as empty rather than failing the whole index."""
    try:
        page_starts = tuple(int(p) for p in pages) if isinstance(pages, list) else ()
        heads = tuple((int(s), str(h)) for s, h in sections) if isinstance(sections, list) else ()
    except (TypeError, ValueError):
        return NO_LAYOUT
    return DocumentLayout(page_starts, heads)


def page_label(doc_id: str, page: int) -> str:
    """How a citation names `page` of `doc_id`: "slide 3" in a deck, "p. 3" elsewhere."""
    return f"slide {page}" if doc_id.lower().endswith(".pptx") else f"p. {page}"
