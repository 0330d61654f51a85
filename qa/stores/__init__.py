"""Where chunks live: `base.py` (the `ChunkStore` / `Snapshot` Protocols every backend meets),
`faiss_store.py` (the default: generations on disk, `vector_index.py` for its dense index) and
`milvus_store.py` (a Milvus server shared by several answering processes).
`open_store(settings)` opens the one `settings.store` names."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.stores.base import ChunkStore


def open_store(settings: Settings) -> ChunkStore:
    """The store `settings.store` names: `faiss` (in `settings.index_dir`) or a Milvus server,
    `milvus://[USER:PASSWORD@]HOST:PORT/COLLECTION` (token also from `QA_MILVUS_TOKEN`)."""
    if settings.store == "faiss":
        from qa.stores.faiss_store import FaissStore  # here: `qa.stores.base` stays light

        return FaissStore(settings.index_dir)
    if settings.store.startswith("milvus://"):
        from qa.stores.milvus_store import MilvusStore

        return MilvusStore.from_uri(settings.store)
    raise ValueError(
        f"unknown store {settings.store!r}; use 'faiss' or 'milvus://HOST:PORT/COLLECTION'"
    )
