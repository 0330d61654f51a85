"""Settings, read from the environment and overridden by command-line flags.

In: environment variables (`QA_DOCS_DIR`, `QA_INDEX_DIR`, `QA_STORE`, `QA_MODEL`,
`QA_QUERY_ENCODER`, `QA_DOCUMENT_ENCODER`, `QA_MAX_FILE_MB`, `QA_THRESHOLD`, `QA_ANSWER_THRESHOLD`,
`QA_ENTITIES_AT_BUILD`, `QA_READER`, `QA_ADMIN_TOKEN`, `QA_ADMIN_SESSION_HOURS`, and the per-file
budget's `QA_FILE_SECONDS`, `QA_FILE_MEMORY_MB`, `QA_MAX_UNZIPPED_MB`, `QA_MAX_ZIP_RATIO`:
`qa.file_budget`)
and keyword overrides.
Out: a frozen `Settings`; bad values raise ValueError with the variable's name in the message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit

from qa.embedding import (
    DEFAULT_DOCUMENT_ENCODER,
    DEFAULT_MODEL,
    DEFAULT_QUERY_ENCODER,
    DOCUMENT_ENCODERS,
    QUERY_ENCODERS,
)
from qa.file_budget import FileBudget

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 20


@dataclass(frozen=True)
class Settings:
    """Everything a command or the server needs to find, build and query the index."""

    docs_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    store: str = "faiss"
    model: str = DEFAULT_MODEL
    query_encoder: str = DEFAULT_QUERY_ENCODER  # how questions are encoded: onnx-int8, onnx, torch
    document_encoder: str = DEFAULT_DOCUMENT_ENCODER  # how documents are: onnx, torch
    top_k: int = 5
    max_file_mb: float = 20.0
    threshold: float | None = None  # None: the fitted scoring model's own threshold
    # From this confidence the outcome is `answer`; between `threshold` and it, `candidates`.
    # None: the fitted one, unless `threshold` is given alone (then one cut: answer or none).
    answer_threshold: float | None = None
    # Tag and store the named entities of sentences that name a year when building, in a
    # helper process while the build chunks and loads the model: short answers from those
    # quotes then cost nothing at question time (docs/performance.md). Off: QA_ENTITIES_AT_BUILD=0.
    entities_at_build: bool = True
    # Whether `docs_dir` was named (flag or QA_DOCS_DIR) rather than the ./seeds default: an
    # answering process writes to a shared store only then (see `role`). A Settings built in
    # code names its folder, so True; `from_env` sets it from the flags and the environment.
    docs_given: bool = True
    # Let a refresh remove more than half of the index's documents (see qa.indexer).
    allow_removals: bool = False
    # The trained reader (qa.reader): a model folder or 'off'; None: `QA_READER`, else the one
    # shipped in the package (when there is one).
    reader: str | None = None
    # How long the library page stays unlocked after the admin token was typed into it
    # (the server forgets the session after this, whatever the browser keeps).
    admin_session_hours: float = 12.0
    # What one file may cost a build (time, memory, inflation); over it, the file is skipped.
    file_budget: FileBudget = FileBudget()

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}, got {self.top_k}")
        if self.query_encoder not in QUERY_ENCODERS:
            raise ValueError(
                f"QA_QUERY_ENCODER must be one of {', '.join(QUERY_ENCODERS)}, "
                f"got {self.query_encoder!r}"
            )
        if self.document_encoder not in DOCUMENT_ENCODERS:
            raise ValueError(
                f"QA_DOCUMENT_ENCODER must be one of {', '.join(DOCUMENT_ENCODERS)}, "
                f"got {self.document_encoder!r}"
            )
        if self.max_file_mb <= 0:
            raise ValueError(f"QA_MAX_FILE_MB must be > 0, got {self.max_file_mb}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"QA_THRESHOLD must be in 0..1, got {self.threshold}")
        if self.admin_session_hours <= 0:
            raise ValueError(f"QA_ADMIN_SESSION_HOURS must be > 0, got {self.admin_session_hours}")
        if self.answer_threshold is not None and not 0.0 <= self.answer_threshold <= 1.0:
            raise ValueError(f"QA_ANSWER_THRESHOLD must be in 0..1, got {self.answer_threshold}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def shared_store(self) -> bool:
        """Whether the index is shared with other processes (Milvus), not a local folder."""
        return self.store != "faiss"

    def role(self, watch: bool = False) -> Role:
        """What an answering process (`qa ask`, `qa serve`) does with the index.

        The local FAISS index is always brought up to date from the docs folder. A shared store
        is only read, unless the docs folder was named (`--docs`, `QA_DOCS_DIR`) or the server
        watches it (`watch`): a server started in the wrong directory must not rewrite an index
        that other servers answer from."""
        if not self.shared_store or self.docs_given or watch:
            return Role(builder=True, docs=str(self.docs_dir), store=self.store_label)
        docs = f"the shared store {self.store_label} (built elsewhere; this process never writes)"
        return Role(builder=False, docs=docs, store=self.store_label)

    @property
    def store_label(self) -> str:
        """The store without credentials or options: `faiss` or `milvus://HOST:PORT/NAME`."""
        if not self.shared_store:
            return f"faiss ({self.index_dir})"
        parts = urlsplit(self.store)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 19530}{parts.path}"

    def builder_command(self) -> str:
        """The command that (re)builds this store from a docs folder, for messages."""
        return f"qa index --docs DIR --store {self.store_label}"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then environment variables, then the non-None `overrides`."""
        env = os.environ
        settings = cls(
            docs_dir=Path(env.get("QA_DOCS_DIR", "seeds")),
            index_dir=Path(env.get("QA_INDEX_DIR", "index")),
            store=env.get("QA_STORE", "faiss"),
            model=env.get("QA_MODEL", DEFAULT_MODEL),
            query_encoder=env.get("QA_QUERY_ENCODER", DEFAULT_QUERY_ENCODER),
            document_encoder=env.get("QA_DOCUMENT_ENCODER", DEFAULT_DOCUMENT_ENCODER),
            max_file_mb=_number(env, "QA_MAX_FILE_MB", 20.0),
            threshold=_number(env, "QA_THRESHOLD", None),
            answer_threshold=_number(env, "QA_ANSWER_THRESHOLD", None),
            entities_at_build=_flag(env, "QA_ENTITIES_AT_BUILD", True),
            reader=env.get("QA_READER"),
            admin_session_hours=_number(env, "QA_ADMIN_SESSION_HOURS", 12.0),
            file_budget=FileBudget.from_env(env),
        )
        given = overrides.get("docs_dir") is not None or bool(env.get("QA_DOCS_DIR"))
        settings = replace(settings, docs_given=given)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Role:
    """What an answering process does with its index: `builder` (brings it up to date from
    `docs`) or reader-only (answers from what the shared store holds). `docs` says where the
    documents come from, for /health, the page and logs; `store` names the index."""

    builder: bool
    docs: str
    store: str

    @property
    def mode(self) -> str:
        return "builder" if self.builder else "reader-only"


def _flag(env: os._Environ[str] | dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0, got {raw!r}")


@overload
def _number(env: os._Environ[str] | dict[str, str], name: str, default: float) -> float: ...
@overload
def _number(env: os._Environ[str] | dict[str, str], name: str, default: None) -> float | None: ...
def _number(
    env: os._Environ[str] | dict[str, str], name: str, default: float | None
) -> float | None:
    """The number in env var `name`, `default` when unset or empty; ValueError otherwise."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def validate_top_k(top_k: object) -> int:
    """`top_k` when it is a whole number in 1..MAX_TOP_K (the HTTP API's rule); ValueError
    otherwise."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise ValueError(f"top_k must be a whole number, got {top_k!r}")
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return top_k


def validate_question(question: object) -> str:
    """The question, stripped; ValueError with a reason when it cannot be asked."""
    if not isinstance(question, str):
        raise ValueError("question must be a string")
    stripped = question.strip()
    if not stripped:
        raise ValueError("question is empty; type a question about the documents")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"question is {len(stripped)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    if "\x00" in stripped:
        raise ValueError("question contains a NUL character")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError:  # e.g. a lone surrogate sent as "\ud800" in JSON
        raise ValueError("question contains a character that is not valid Unicode") from None
    return stripped
