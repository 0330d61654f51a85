"""The Python API: open an assistant over a folder of documents (or a shared store), ask it.

    from qa import Assistant

    with Assistant.open("seeds") as assistant:
        answer = assistant.ask("What will Japan and New Zealand share?")
        print(answer.answer, answer.confidence)

In: a docs folder, an index folder or a store URI, as `qa ask` takes them (`open`), or
`Settings` (`from_settings`). Out: the objects of the JSON contract, as typed dataclasses with
`to_dict()`: `Answer` (`qa ask --json`, `POST /ask`), `IndexReport` (`qa index --json`,
`POST /index/rebuild`), `DocumentInfo` (`GET /documents/{doc_id}`). docs/python-api.md has
runnable examples; `qa ask` runs on this class, so the two always behave alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from qa.answer import Answer
from qa.config import Settings, validate_top_k
from qa.embedding import Embedder
from qa.indexer import IndexReport, Progress
from qa.pipeline import Assistant as Engine
from qa.stores.base import ChunkStore, DocumentInfo

PathLike = str | os.PathLike[str]


class ReadOnlyStore(RuntimeError):
    """`refresh` on an assistant that answers from a shared store it must not write to."""


class Assistant:
    """Answers questions about the documents of one index; safe to share across threads.

    Open one with `Assistant.open(...)` (or `from_settings`), use it as a context manager or
    call `close()`. Errors a person can act on are raised as they are by `qa`: ValueError (bad
    question or top_k), `qa.DocsFolderError` (no such docs folder, or an empty one),
    `qa.IndexProblem` (no index yet, a damaged one, one written by another major version, an
    unreachable Milvus), `qa.TooManyRemovals` (a refresh would drop most documents).
    """

    def __init__(self, engine: Engine) -> None:
        """Wrap `engine` (`qa.pipeline.Assistant`) as it is: nothing is built or loaded.
        `open` and `from_settings` are the usual ways in."""
        self._engine = engine
        self._closed = False
        self.last_report: IndexReport | None = None  # the last refresh's (open's included)

    @classmethod
    def open(
        cls,
        docs: PathLike | None = None,
        *,
        index: PathLike | None = None,
        store: str | None = None,
        model: str | None = None,
        refresh: bool = True,
    ) -> Assistant:
        """An assistant over the documents in `docs`, ready to answer.

        `docs`: the documents folder (default `QA_DOCS_DIR`, else `./seeds`). `index`: the
        index folder of the local store (default `QA_INDEX_DIR`, else `./index`). `store`:
        `"faiss"` (the local index, the default) or `"milvus://HOST:PORT/COLLECTION"` (env
        `QA_STORE`). `model`: the embedding model (env `QA_MODEL`). Other settings come from
        the environment, as for `qa` (`Settings.from_env`).

        With `refresh` (the default) the index is first brought up to date with the folder,
        as `qa ask` does: only what changed is embedded. A shared store is brought up to date
        only when `docs` (or `QA_DOCS_DIR`) names the folder; without one, the assistant only
        answers from what the store holds and `refresh()` raises `ReadOnlyStore`. Without
        `refresh`, the index is used as it is. Either way the index is loaded before this
        returns, so a missing or unreadable one raises here (`qa.IndexProblem`)."""
        settings = Settings.from_env(
            docs_dir=_path(docs), index_dir=_path(index), store=store, model=model
        )
        return cls.from_settings(settings, refresh=refresh)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        refresh: bool = True,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
    ) -> Assistant:
        """`open` with every setting given: `settings`, and optionally an `embedder` or a
        `store` other than the ones the settings name (tests use a small fake embedder)."""
        assistant = cls(Engine(settings, embedder=embedder, store=store))
        try:
            if refresh and assistant.builder:
                assistant.last_report = assistant._engine.refresh()
            else:
                assistant._engine.snapshot()
        except BaseException:
            assistant.close()
            raise
        return assistant

    @property
    def settings(self) -> Settings:
        """The settings this assistant runs with (frozen)."""
        return self._engine.settings

    @property
    def builder(self) -> bool:
        """Whether `refresh()` may write the index: always for the local store; for a shared
        store only when the docs folder was named."""
        return self.settings.role().builder

    def ask(self, question: str, top_k: int = 5) -> Answer:
        """The answer to `question` from the `top_k` (1..20) best passages: verbatim quotes
        with citations, or an abstention (`answered` false) when the documents do not say.
        ValueError for an empty question, one over 1,000 characters, or a bad `top_k`."""
        return self._open_engine().ask(question, validate_top_k(top_k))

    def ask_many(self, questions: Iterable[str], top_k: int = 5) -> list[Answer]:
        """The answers to `questions`, in their order, all from the same state of the index
        (a refresh elsewhere meanwhile does not split them). Each is the answer `ask` gives.
        Every question is checked before any is answered: ValueError naming the first bad
        one's position; TypeError for a single string (use `ask`)."""
        if isinstance(questions, str | bytes):
            raise TypeError("ask_many takes a list of questions; for one question use ask()")
        return self._open_engine().ask_many(list(questions), validate_top_k(top_k))

    def refresh(
        self,
        progress: Callable[[Progress], None] | None = None,
        *,
        allow_removals: bool = False,
    ) -> IndexReport:
        """Bring the index up to date with the docs folder and answer from it from now on;
        the report says what changed (`to_dict()` is the `qa index --json` object).

        `progress` is called with each stage (`Progress`: `stage`, `done`, `total`,
        `describe()`), the same objects the server's progress bar shows. A refresh that would
        remove more than half of the indexed documents raises `TooManyRemovals` and changes
        nothing, unless `allow_removals`. `ReadOnlyStore` when this assistant only answers
        from a shared store."""
        engine = self._open_engine()
        if not self.builder:
            settings = self.settings
            raise ReadOnlyStore(
                f"this assistant answers from the shared store {settings.store_label} and "
                "never writes to it; open it with the docs folder to refresh it "
                f"(Assistant.open(DOCS, store=...), or `{settings.builder_command()}`)"
            )
        self.last_report = engine.refresh(allow_removals=allow_removals, on_progress=progress)
        return self.last_report

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document (doc_id, title, sha256, text, chunks), sorted by doc_id;
        `to_dict()` of each is the `GET /documents/{doc_id}` object."""
        return self._open_engine().documents()

    def close(self) -> None:
        """Let go of the store's connection (a Milvus client); calling it twice is fine.
        The assistant cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._engine.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.settings.role().mode
        docs, store = str(self.settings.docs_dir), self.settings.store_label
        return f"Assistant(docs={docs!r}, store={store!r}, {state})"

    def _open_engine(self) -> Engine:
        if self._closed:
            raise RuntimeError("this assistant is closed; open a new one with Assistant.open()")
        return self._engine


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)
