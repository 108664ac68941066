"""Where embedded chunks go. A sink only stores, replaces, deletes and searches; it never embeds.

Milvus (server or Milvus Lite) is the one sink today. Another one, e.g. the RAG app's own vector-io
API, implements the same protocol and is picked in cli.py.
"""

from __future__ import annotations

from typing import Protocol

from workloads.ingest.records import EmbeddedDocument, SearchHit, StoredDocument


class ChunkSink(Protocol):
    def describe(self) -> str:
        """Where the chunks go, for logs (no credentials)."""
        ...

    def prepare(self, dim: int) -> None:
        """Create the collection if needed; fail clearly if it exists with another vector size."""
        ...

    def stored_documents(self) -> dict[str, StoredDocument]:
        """Every source path held, with the versions (content hash, pipeline) and row counts."""
        ...

    def write(self, doc: EmbeddedDocument) -> None:
        """Upsert the document's chunks, then remove any other chunk stored for its source."""
        ...

    def delete(self, source: str) -> None:
        """Remove every chunk of a source path."""
        ...

    def count(self) -> int:
        """Number of chunks held."""
        ...

    def search(self, vector: list[float], k: int) -> list[SearchHit]: ...

    def close(self) -> None: ...
