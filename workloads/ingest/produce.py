"""Chunk production: file -> Docling document -> chunks -> vectors. Knows nothing about sinks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workloads.ingest.chunk import Chunker
from workloads.ingest.convert import BadDocument, PdfMode, build_converter, convert_file, document_title
from workloads.ingest.discover import SourceFile
from workloads.ingest.embed import Embedder
from workloads.ingest.records import EmbeddedDocument

if TYPE_CHECKING:
    from docling.document_converter import DocumentConverter

log = logging.getLogger(__name__)

# Bump when chunk text or metadata changes shape, so stored documents are re-embedded.
CHUNK_FORMAT_VERSION = 3


@dataclass(frozen=True)
class ProducerSettings:
    embedding_model: str
    chunk_tokens: int | None = None  # None: the model's window
    docling_artifacts: Path | None = None


class ChunkProducer:
    """Loads Docling and the embedding model once; then produces embedded documents one by one."""

    def __init__(self, settings: ProducerSettings, pdf_mode: PdfMode) -> None:
        self.embedder = Embedder.load(settings.embedding_model)
        tokens = settings.chunk_tokens or self.embedder.max_tokens
        if not 16 <= tokens <= self.embedder.max_tokens:
            raise SystemExit(
                f"error: --chunk-tokens {tokens} must be between 16 and the model's window ({self.embedder.max_tokens})"
            )
        self.chunker = Chunker(self.embedder.model.tokenizer, tokens)
        self.pdf_mode = pdf_mode
        self._converter: DocumentConverter | None = None  # built on first use: importing Docling is slow
        self.pipeline = self.embedder.fingerprint(
            f"tokens={tokens}", f"pdf={'native' if pdf_mode.native else 'models'}", CHUNK_FORMAT_VERSION
        )

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def describe_pdf(self) -> str:
        return self.pdf_mode.describe()

    def produce(self, file: SourceFile, doc_hash: str) -> EmbeddedDocument:
        """Convert, chunk and embed one file; raise BadDocument with the reason when it cannot be."""
        if self._converter is None:
            self._converter = build_converter(self.pdf_mode)
        doc = convert_file(self._converter, file)
        chunks = self.chunker.chunk(doc)
        if not chunks:
            hint = " (a scanned PDF needs OCR, which this job does not run)" if file.extension == ".pdf" else ""
            raise BadDocument(f"no text extracted{hint}")
        vectors = self.embedder.encode([c.text for c in chunks])
        return EmbeddedDocument(
            source=file.source,
            doc_hash=doc_hash,
            title=document_title(doc, file),
            pipeline=self.pipeline,
            chunks=chunks,
            vectors=vectors,
        )

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)
