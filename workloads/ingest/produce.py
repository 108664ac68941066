"""Chunk production: files -> (worker processes: Docling, chunker) -> embeddings. Knows nothing about sinks.

Throughput: the chunks of several documents are embedded in one call, so sentence-transformers sorts them
by length across documents and pads far less than one call per document; conversion of the next documents
runs in the worker processes meanwhile; the model is loaded only when there is something to embed.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from workloads.ingest.convert import PdfMode, detect_pdf_mode
from workloads.ingest.convert_worker import ConvertJob, ConvertPool, ConvertResult, WorkerSettings, shared_pool
from workloads.ingest.embed import Embedder, ModelError, ModelInfo, describe_model
from workloads.ingest.records import EmbeddedDocument

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def _load_embedder(name: str) -> Embedder:
    """One model per name and process: producers with other settings share it."""
    return Embedder.load(name)


# Bump when chunk text or metadata changes shape, so stored documents are re-embedded.
# 4: HTML and Markdown in a legacy encoding are decoded (they were read as garbled UTF-8 before).
CHUNK_FORMAT_VERSION = 4


@dataclass(frozen=True)
class ProducerSettings:
    embedding_model: str
    chunk_tokens: int | None = None  # None: the model's window
    docling_artifacts: Path | None = None
    max_file_seconds: float = 600.0  # conversion and chunking of one file
    convert_workers: int = 1
    embed_batch_chunks: int = 256  # chunks gathered across documents per embedding call
    embed_batch_size: int = 32  # texts per forward pass
    log_level: str = "INFO"


@dataclass
class Produced:
    """What ``produce`` yields per document: the embedded document or the reason it failed, and warnings."""

    source: str
    doc: EmbeddedDocument | None = None
    failure: str | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0  # conversion and chunking


class ChunkProducer:
    """Settings, the pipeline fingerprint and (lazily) the conversion workers and the embedding model."""

    def __init__(self, settings: ProducerSettings, pdf_mode: PdfMode | None = None) -> None:
        self.settings = settings
        self.info: ModelInfo = describe_model(settings.embedding_model)
        tokens = settings.chunk_tokens or self.info.max_tokens
        if not 16 <= tokens <= self.info.max_tokens:
            raise ModelError(
                f"--chunk-tokens {tokens} must be between 16 and the model's window ({self.info.max_tokens})"
            )
        self.tokens = tokens
        self.pdf_mode = pdf_mode if pdf_mode is not None else detect_pdf_mode(settings.docling_artifacts)
        self.pipeline = self.info.fingerprint(
            f"tokens={tokens}", f"pdf={'native' if self.pdf_mode.native else 'models'}", CHUNK_FORMAT_VERSION
        )
        self._embedder: Embedder | None = None

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def model_identity(self) -> str:
        return self.info.identity

    def describe_pdf(self) -> str:
        return self.pdf_mode.describe()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = _load_embedder(self.settings.embedding_model)
        return self._embedder

    def pool(self) -> ConvertPool:
        artifacts = str(self.pdf_mode.artifacts) if self.pdf_mode.artifacts else None
        settings = WorkerSettings(str(self.info.location), self.tokens, artifacts, self.settings.log_level)
        return shared_pool(settings, self.settings.convert_workers)

    # ------------------------------------------------------------------ production

    def produce(self, jobs: list[ConvertJob]) -> Iterator[Produced]:
        """Convert, chunk and embed the files; one ``Produced`` per job, in completion order."""
        if not jobs:
            return
        pool = self.pool()
        pool.start()  # Docling loads in the workers while the model loads here
        self.embedder  # noqa: B018 - load now
        yield from self.embed_converted(pool.run(jobs, self.settings.max_file_seconds), lambda: pool.waiting)

    def embed_converted(self, results: Iterable[ConvertResult], waiting: Callable[[], int]) -> Iterator[Produced]:
        """Embed converted documents as they come, several documents per embedding call; ``waiting`` says how
        many more converted documents are ready right now (none: embed what is gathered rather than idle)."""
        embedder = self.embedder
        buffer: list[ConvertResult] = []
        buffered = 0
        big = 4 * self.settings.embed_batch_chunks
        for result in results:
            if result.error is not None:
                yield Produced(result.job.source, failure=result.error, warnings=tuple(result.warnings))
                continue
            log.debug("%s: %d chunks in %.1f s", result.job.source, len(result.chunks), result.seconds)
            if len(result.chunks) >= big:
                yield from self._embed(embedder, buffer)
                buffer, buffered = [], 0
                yield from self._embed(embedder, [result], progress=True)
                continue
            buffer.append(result)
            buffered += len(result.chunks)
            # Embed once enough chunks are gathered, or when no converted document is waiting (the
            # embedder would idle otherwise); never a lone small document while others are queued.
            if buffered >= self.settings.embed_batch_chunks or (
                waiting() == 0 and buffered >= self.settings.embed_batch_size
            ):
                yield from self._embed(embedder, buffer)
                buffer, buffered = [], 0
        yield from self._embed(embedder, buffer)

    def _embed(self, embedder: Embedder, results: list[ConvertResult], progress: bool = False) -> Iterator[Produced]:
        if not results:
            return
        texts = [c.text for r in results for c in r.chunks]
        started = time.monotonic()
        if progress:  # one large document: embed in slices and say how far it is
            vectors: list[list[float]] = []
            step = self.settings.embed_batch_chunks * 4
            last_note = started
            for start in range(0, len(texts), step):
                vectors += embedder.encode(texts[start : start + step], self.settings.embed_batch_size)
                if time.monotonic() - last_note >= 10:
                    last_note = time.monotonic()
                    log.info("%s: embedded %d of %d chunks", results[0].job.source, len(vectors), len(texts))
        else:
            vectors = embedder.encode(texts, self.settings.embed_batch_size)
        log.debug("embedded %d chunks of %d documents in %.1f s", len(texts), len(results), time.monotonic() - started)
        offset = 0
        for r in results:
            n = len(r.chunks)
            doc = EmbeddedDocument(
                source=r.job.source,
                doc_hash=r.job.doc_hash,
                title=r.title,
                pipeline=self.pipeline,
                chunks=r.chunks,
                vectors=vectors[offset : offset + n],
            )
            offset += n
            yield Produced(r.job.source, doc=doc, warnings=tuple(r.warnings), seconds=r.seconds)
