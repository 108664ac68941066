"""Plain data passed between the chunk producer, the sinks and the CLI (no heavy imports here)."""

from __future__ import annotations

from dataclasses import dataclass, field


def chunk_id(doc_hash: str, index: int) -> str:
    """Deterministic primary key of a chunk: the document's content hash and the chunk's position."""
    return f"{doc_hash}:{index:05d}"


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document, with the text that was embedded."""

    index: int
    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None


@dataclass
class EmbeddedDocument:
    """A converted, chunked and embedded document, ready for a sink."""

    source: str  # path relative to the corpus root, with forward slashes
    doc_hash: str  # sha256 of the file's bytes
    title: str
    pipeline: str  # fingerprint of the embedding model and chunking settings
    chunks: list[Chunk]
    vectors: list[list[float]]

    def __post_init__(self) -> None:
        if len(self.chunks) != len(self.vectors):
            raise ValueError(f"{self.source}: {len(self.chunks)} chunks but {len(self.vectors)} vectors")


@dataclass
class StoredDocument:
    """What a sink holds for one source path: every (hash, pipeline) version and its row counts."""

    source: str
    rows: dict[tuple[str, str], int] = field(default_factory=dict)  # (doc_hash, pipeline) -> rows held
    expected: dict[tuple[str, str], int] = field(default_factory=dict)  # (doc_hash, pipeline) -> chunk_count

    def add_row(self, doc_hash: str, pipeline: str, chunk_count: int) -> None:
        key = (doc_hash, pipeline)
        self.rows[key] = self.rows.get(key, 0) + 1
        self.expected[key] = chunk_count

    def is_current(self, doc_hash: str, pipeline: str) -> bool:
        """True when the sink holds exactly this version, complete, and nothing else for the source."""
        key = (doc_hash, pipeline)
        return set(self.rows) == {key} and self.rows[key] == self.expected[key]


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
