"""The HTTP API's request and response models (pydantic), shown on `/docs`.

In: nothing; out: `AskRequest` (the body of `POST /ask`), the response models (`AnswerOut`,
`DocumentOut`, `IndexReportOut`, `HealthOut`, `ErrorOut`; the library's `DocumentListOut`,
`UploadOut`, `RemoveOut`, `IndexStatusOut`) and `error_responses(*codes)`, the
`responses=` mapping that declares a route's 4xx/5xx replies in the OpenAPI schema.
Response models keep fields they do not declare, so fields added later pass through.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from qa.config import MAX_QUESTION_CHARS, MAX_TOP_K, validate_question

EXAMPLE_QUESTION = "When did Luxon take office?"


class AskRequest(BaseModel):
    """The body of `POST /ask`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"question": EXAMPLE_QUESTION, "top_k": 5}]}
    )

    question: StrictStr = Field(
        description=f"A question about the documents, 1..{MAX_QUESTION_CHARS} characters.",
        examples=[EXAMPLE_QUESTION],
    )
    top_k: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_TOP_K,
        description=f"How many passages to retrieve, 1..{MAX_TOP_K} (default 5).",
        examples=[5],
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return validate_question(value)


class _Open(BaseModel):
    """Response models keep fields they do not declare, so fields added later pass through."""

    model_config = ConfigDict(extra="allow")


class CitationOut(_Open):
    n: int = Field(description="The number of the `[n]` marker in `answer`.", examples=[1])
    doc_id: str = Field(examples=["japan-new-zealand-information-sharing.txt"])
    title: str
    quote: str = Field(description="Verbatim: `text_of(doc_id)[start:end] == quote`.")
    start: int
    end: int
    score: float
    page: int | None = Field(
        None,
        description="1-based page of the quote in a PDF (a PPTX: its slide); null for other types.",
    )
    section: str | None = Field(
        None, description="The nearest heading before the quote, when the document has one."
    )
    context_start: int | None = Field(
        default=None,
        description="The quote with at most one sentence of its block either side: "
        "`text_of(doc_id)[context_start:context_end] == context`, which contains the quote.",
    )
    context_end: int | None = None
    context: str | None = None
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="That this quote answers the question."
    )
    header: str | None = Field(
        default=None,
        description="When the quote is a table's row: the table's header row, "
        "`text_of(doc_id)[header_start:header_end] == header`.",
        examples=["Cluster; Machines; Disk space"],
    )
    header_start: int | None = None
    header_end: int | None = None


class PassageOut(_Open):
    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


class AnswerOut(_Open):
    """The answer: the same object as `qa ask --json`. Optional `short_answer`
    (`{text, start, end, doc_id}`) when the answerer finds a short span."""

    question: str = Field(examples=[EXAMPLE_QUESTION])
    answered: bool = Field(description="True exactly when `outcome` is `answer`.")
    outcome: str | None = Field(
        default=None,
        description="`answer` (one quote, sure), `candidates` (up to 3 quotes from different "
        "passages that may answer, each with its own confidence) or `none` (no citation).",
        examples=["answer"],
    )
    answer: str = Field(description="Verbatim quotes, each followed by its `[n]` marker.")
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[CitationOut]
    passages: list[PassageOut]
    took_ms: float


class DocumentOut(BaseModel):
    doc_id: str = Field(examples=["japan-new-zealand-information-sharing.txt"])
    title: str
    sha256: str
    text: str = Field(description="The plain text every offset refers to.")
    chunks: int


class SkippedOut(BaseModel):
    path: str
    reason: str


class IndexReportOut(_Open):
    """What the rebuild did: the `qa index --json` object."""

    documents: int
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks: int
    embedded: int = Field(description="Chunks whose vectors were computed in this run.")
    skipped: list[SkippedOut]
    seconds: float


class HealthOut(_Open):
    status: str = Field(description="`ok`, `starting` (index being built) or `error`.")
    documents: int
    chunks: int
    model: str
    index_version: str | None = None
    rebuilding: bool = False
    last_rebuild: IndexReportOut | None = None
    error: str | None = None
    mode: str = Field(
        "builder",
        description="`builder` (brings the index up to date from its docs folder) or "
        "`reader-only` (answers from a shared store and never writes to it).",
    )
    docs: str = Field("", description="Where the documents come from.")
    store: str = Field("", description="The index: `faiss (DIR)` or `milvus://HOST:PORT/NAME`.")
    version: str = Field("", description="The server's version (qa-assistant, semver).")


class LibraryEntryOut(_Open):
    """An indexed document as the library lists it."""

    doc_id: str
    title: str
    type: str = Field(description="The file's extension, without the dot: txt, md, pdf, ...")
    size: int = Field(description="Bytes of the file in the docs folder.")
    chunks: int
    indexed_at: float | None = Field(
        description="When this version entered the index (Unix seconds); null if unknown."
    )


class IndexFiguresOut(_Open):
    generation: str | None = Field(description="The index generation in use.")
    model: str
    documents: int
    chunks: int


class DocumentListOut(_Open):
    """A page of the indexed documents (`GET /documents?offset=&limit=`)."""

    documents: list[LibraryEntryOut]
    total: int = Field(description="Documents matching the filter, over all pages.")
    offset: int
    limit: int
    skipped: list[SkippedOut] = Field(description="Files the last rebuild left out, and why.")
    index: IndexFiguresOut


class SavedOut(_Open):
    filename: str = Field(description="The name the file was sent with.")
    doc_id: str = Field(description="Its safe name in the docs folder, now its doc_id.")
    replaced: bool


class RejectedOut(_Open):
    filename: str
    status: int = Field(description="409 name taken, 413 too large, 415 type, 422 unreadable.")
    reason: str


class UploadOut(_Open):
    """What `POST /documents` did with each file, and the rebuild it queued."""

    saved: list[SavedOut]
    rejected: list[RejectedOut]
    rebuild: IndexReportOut | str | None = Field(
        description="`queued`, or with `?wait=true` the rebuild's report."
    )


class RemoveOut(_Open):
    """What `DELETE /documents/{doc_id}` did."""

    removed: str
    trash: str = Field(description="Where the file went, relative to the docs folder.")
    rebuild: IndexReportOut | str


class IndexStatusOut(_Open):
    """`GET /index/status`: the rebuild now running, if any, and the index in use."""

    rebuilding: bool
    queued: bool = Field(description="Another rebuild waits to start.")
    stage: str | None = Field(description="starting, reading, chunking, embedding or writing.")
    done: int
    total: int
    percent: int | None = Field(description="How far the running rebuild is, 0..100.")
    message: str = Field(description="For people: `embedding 256 of 1024`, `idle`.")
    rebuilds: int = Field(description="Rebuilds finished since the server started.")
    last_rebuild: IndexReportOut | None = None
    error: str | None = Field(description="Why the last background rebuild failed, if it did.")
    index_version: str | None = None
    documents: int = 0
    chunks: int = 0


class ErrorOut(_Open):
    """An error reply. Validation errors (400, 422) also carry `errors`, pydantic's list."""

    detail: str = Field(description="What went wrong and what to do about it.")


def error_responses(*codes: int, html_route: bool = False) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry for a route that can answer with these error codes.

    Errors are JSON (`ErrorOut`), or a small HTML page for clients that accept `text/html`;
    both are declared. On an HTML route (`html_route`) FastAPI would put a `model` under
    `text/html`, so the JSON schema is referenced explicitly there."""
    html = {"text/html": {"schema": {"type": "string"}}}
    if html_route:
        json_error = {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
        return {code: {"content": {"application/json": json_error, **html}} for code in codes}
    return {code: {"model": ErrorOut, "content": html} for code in codes}
