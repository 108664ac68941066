"""Where embedded chunks go: the RAG app's vector store, through the app's own API (``ogx.py``).

A sink only stores, replaces and searches; it never embeds. ``ChunkSink`` is what the ingest run needs.
"""

from __future__ import annotations

from typing import Protocol

from workloads.ingest.records import EmbeddedDocument, SearchHit, StoredDocument
from workloads.ingest.sinks.ogx import CommitResult, WriteOutcome


class ChunkSink(Protocol):
    def describe(self) -> str:
        """Where the chunks go, for logs (no credentials)."""
        ...

    def open(self, *, dim: int, model_identity: str) -> None:
        """Find or create the store; fail clearly if it embeds with another model or dimension."""
        ...

    def stored_documents(self) -> dict[str, StoredDocument]: ...

    def begin(self, *, new_generation: bool, pending: list[StoredDocument]) -> None:
        """Start writing in place (recording ``pending`` first) or into a new generation."""
        ...

    def add(self, doc: EmbeddedDocument) -> list[WriteOutcome]: ...

    def flush(self) -> list[WriteOutcome]: ...

    def forget(self, sources: list[str]) -> None: ...

    def commit(self, keep: set[str]) -> CommitResult:
        """Make the run's writes the store's content; a new generation keeps the stored documents in ``keep``."""
        ...

    def abort(self) -> None: ...

    def count(self) -> int: ...

    def state(self) -> tuple[str, str, int]:
        """(store name, store id, generation) as they are now."""
        ...

    def search(self, query: str, k: int) -> list[SearchHit]: ...

    def close(self) -> None: ...
