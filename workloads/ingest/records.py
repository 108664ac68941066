"""Plain data passed between the chunk producer, the sink and the CLI (no heavy imports here)."""

from __future__ import annotations

from dataclasses import dataclass


def chunk_id(doc_hash: str, index: int) -> str:
    """Deterministic id of a chunk: the document's content hash and the chunk's position."""
    return f"{doc_hash}:{index:05d}"


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document, with the text that was embedded."""

    index: int
    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None


@dataclass
class ChunkedDocument:
    """A converted and chunked document, not yet embedded."""

    source: str  # path relative to the corpus root, with forward slashes
    doc_hash: str  # sha256 of the file's bytes
    title: str
    chunks: list[Chunk]


@dataclass
class EmbeddedDocument:
    """A converted, chunked and embedded document, ready for a sink."""

    source: str
    doc_hash: str
    title: str
    pipeline: str  # fingerprint of the embedding model and chunking settings
    chunks: list[Chunk]
    vectors: list[list[float]]

    def __post_init__(self) -> None:
        if len(self.chunks) != len(self.vectors):
            raise ValueError(f"{self.source}: {len(self.chunks)} chunks but {len(self.vectors)} vectors")


@dataclass(frozen=True)
class StoredDocument:
    """What the store holds for one source path, as its manifest records it.

    ``complete`` is False while a write is in progress (or was interrupted): some of the chunks
    ``doc_hash:00000 ...`` may be stored, and ``chunk_count`` is not known yet.
    """

    source: str
    doc_hash: str
    pipeline: str
    chunk_count: int | None
    complete: bool

    def is_current(self, doc_hash: str, pipeline: str) -> bool:
        """True when the store holds exactly this version, completely."""
        return self.complete and self.doc_hash == doc_hash and self.pipeline == pipeline


@dataclass(frozen=True)
class SearchHit:
    rank: int
    score: float
    source: str
    title: str
    text: str
    headings: tuple[str, ...]
    page: int | None
    chunk_id: str
