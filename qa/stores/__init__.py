"""Where chunks live: `base.py` (the `ChunkStore` / `Snapshot` Protocols every backend meets),
`faiss_store.py` (the default: generations on disk, `vector_index.py` for its dense index) and
`milvus_store.py` (a Milvus server shared by several answering processes)."""
