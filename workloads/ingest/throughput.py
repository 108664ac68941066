"""Does ingest through the app keep up with the embedding model? One run, the same chunks, three figures:

    python -m workloads.ingest.throughput [--corpus corpus/docs] [--copies 2] [app settings as for ingest]

1. The corpus is converted and chunked once (Docling workers), then repeated ``--copies`` times as distinct
   documents so the measure is long enough to mean something.
2. raw: those chunks embedded in one call (sentence-transformers sorts them by length): the model's speed.
3. ingest: the job's own path from the converted chunks into a new, temporary vector store of the app:
   embedding several documents per call, JSON-encoding, inserting through ``POST /v1/vector-io/insert``,
   committing the manifest. The store is deleted afterwards.

It prints chunks/s for both and their ratio (the target is at least 0.8), plus, for reference, what
embedding one document at a time achieves (the old path) and how long the start-up and conversion took.
``--json`` writes the figures. The app needs the same settings as ``ingest`` (INGEST_APP_URL, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from workloads.ingest import cli
from workloads.ingest.convert_worker import ConvertJob, ConvertResult
from workloads.ingest.discover import content_hash, discover
from workloads.ingest.produce import ChunkProducer
from workloads.ingest.sinks.ogx import AppVectorStoreSink

log = logging.getLogger("workloads.ingest.throughput")


@dataclass
class Figures:
    documents: int
    chunks: int
    copies: int
    startup_s: float  # embedding model loaded (Docling loads in parallel in the workers)
    convert_s: float  # conversion and chunking of one copy of the corpus
    raw_s: float
    ingest_s: float
    per_document_s: float | None
    raw_chunks_per_s: float = 0.0
    ingest_chunks_per_s: float = 0.0
    per_document_chunks_per_s: float | None = None
    ratio: float = 0.0

    def __post_init__(self) -> None:
        self.raw_chunks_per_s = round(self.chunks / self.raw_s, 2)
        self.ingest_chunks_per_s = round(self.chunks / self.ingest_s, 2)
        self.ratio = round(self.ingest_chunks_per_s / self.raw_chunks_per_s, 3)
        if self.per_document_s:
            self.per_document_chunks_per_s = round(self.chunks / self.per_document_s, 2)

    def render(self) -> str:
        lines = [
            f"throughput on {self.documents} documents x {self.copies} copies = {self.chunks} chunks",
            f"  start-up (model load)       {self.startup_s:8.1f} s",
            f"  conversion (one copy)       {self.convert_s:8.1f} s",
            f"  raw embedding               {self.raw_chunks_per_s:8.2f} chunks/s  ({self.raw_s:.1f} s)",
            f"  ingest through the app      {self.ingest_chunks_per_s:8.2f} chunks/s  ({self.ingest_s:.1f} s)",
        ]
        if self.per_document_chunks_per_s is not None:
            lines.append(
                f"  one document per call (old) {self.per_document_chunks_per_s:8.2f} chunks/s  "
                f"({self.per_document_s:.1f} s)"
            )
        verdict = "meets" if self.ratio >= 0.8 else "misses"
        lines.append(f"  ratio ingest / raw          {self.ratio:8.3f}  ({verdict} the 0.8 target)")
        return "\n".join(lines)


def _copies(results: list[ConvertResult], copies: int) -> list[ConvertResult]:
    out = []
    for n in range(copies):
        for r in results:
            doc_hash = hashlib.sha256(f"{r.job.doc_hash}:{n}".encode()).hexdigest()
            job = replace(r.job, source=f"copy-{n}/{r.job.source}", doc_hash=doc_hash)
            out.append(ConvertResult(job, r.title, r.chunks, None, [], r.seconds))
    return out


def measure(
    producer: ChunkProducer,
    store: AppVectorStoreSink,
    corpus: Path,
    copies: int,
    per_document: bool = True,
) -> Figures:
    found = discover(corpus)
    jobs = [ConvertJob(f.source, str(f.path), f.size, content_hash(f.path)) for f in found.files if f.supported]
    if not jobs:
        raise SystemExit(f"error: {corpus} holds no supported documents")
    pool = producer.pool()
    pool.start()
    started = time.monotonic()
    embedder = producer.embedder  # the model loads while Docling loads in the workers
    startup = time.monotonic() - started
    started = time.monotonic()
    converted = [r for r in pool.run(jobs, producer.settings.max_file_seconds) if r.error is None]
    convert_s = time.monotonic() - started
    results = _copies(converted, copies)
    texts = [c.text for r in results for c in r.chunks]
    log.info("%d chunks from %d documents x %d copies", len(texts), len(converted), copies)

    embedder.encode(texts[:8], producer.settings.embed_batch_size)  # warm-up
    started = time.monotonic()
    embedder.encode(texts, producer.settings.embed_batch_size)
    raw_s = time.monotonic() - started

    per_doc_s = None
    if per_document:
        started = time.monotonic()
        for r in results:
            embedder.encode([c.text for c in r.chunks], producer.settings.embed_batch_size)
        per_doc_s = time.monotonic() - started

    store.open(dim=producer.dim, model_identity=producer.model_identity)
    try:
        started = time.monotonic()
        store.begin(new_generation=False, pending=[])
        taken = [0]

        def feed() -> Iterator[ConvertResult]:
            for result in results:
                taken[0] += 1
                yield result

        for item in producer.embed_converted(feed(), lambda: len(results) - taken[0]):
            assert item.doc is not None
            for outcome in store.add(item.doc):
                if outcome.error:
                    raise SystemExit(f"error: {outcome.source}: {outcome.error}")
        for outcome in store.flush():
            if outcome.error:
                raise SystemExit(f"error: {outcome.source}: {outcome.error}")
        store.commit(set())
        ingest_s = time.monotonic() - started
        if store.count() != len(texts):
            raise SystemExit(f"error: the store holds {store.count()} chunks, expected {len(texts)}")
    finally:
        if store.store_id:
            store.client.delete_vector_store(store.store_id)
    return Figures(len(converted), len(texts), copies, startup, convert_s, raw_s, ingest_s, per_doc_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workloads.ingest.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(cli.DEFAULT_CORPUS))
    parser.add_argument("--copies", type=int, default=2, help="repeat the corpus this many times (default 2)")
    parser.add_argument("--no-per-document", action="store_true", help="skip the one-document-per-call reference")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write the figures to this JSON file")
    cli.add_settings(parser, producer=True)  # the same app and model settings as `ingest`
    args = parser.parse_args(argv)
    try:
        cli.resolve_settings(args)
    except cli.ConfigError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return cli.EXIT_ERROR
    if args.copies < 1:
        print("error: --copies must be at least 1", file=sys.stderr)
        return cli.EXIT_ERROR
    cli._configure_logging(args.log_level)
    args.vector_store = f"{args.vector_store}-throughput-{uuid.uuid4().hex[:8]}"
    try:
        producer = cli._producer(args)
        store = cli._store(args)
        try:
            figures = measure(producer, store, args.corpus, args.copies, per_document=not args.no_per_document)
        finally:
            store.close()
    except cli.FATAL as err:
        print(f"error: {err}", file=sys.stderr)
        return cli.EXIT_ERROR
    print(figures.render())
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps(asdict(figures), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
