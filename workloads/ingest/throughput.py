"""Does ingest through the app keep up with the embedding model? One run, the same chunks, three figures:

    python -m workloads.ingest.throughput [--corpus corpus/docs] [--copies 2] [app settings as for ingest]

1. The corpus is converted and chunked once (Docling workers), then repeated ``--copies`` times as distinct
   documents so the measure is long enough to mean something.
2. raw: each copy's chunks embedded in one call (sentence-transformers sorts them by length): the model's
   speed.
3. ingest: the job's own path from the converted chunks into a new, temporary vector store of the app:
   embedding several documents per call, JSON-encoding, inserting through ``POST /v1/vector-io/insert``,
   committing the manifest. The store is deleted afterwards.

Raw, ingest and the per-document reference are timed copy by copy in a rotating order, so a load that
changes during the run (a machine shared with other work) weighs on all of them alike.

It prints chunks/s for both and their ratio (the target is at least 0.8), plus, for reference, what
embedding one document at a time achieves (the old path), how long the start-up and conversion took, and
the whole job on one copy (``run_ingest``: conversion in the workers overlapping embedding and writes).
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
from workloads.ingest.ingest import run_ingest
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
    writes_s: float = 0.0  # of ingest_s: encoding and inserting through the app, and the commit
    full_job_chunks: int = 0  # one copy through run_ingest: conversion, embedding and writes overlapped
    full_job_s: float | None = None
    full_job_raw_s: float | None = None  # raw embedding of the same chunks, timed right after the full job
    raw_chunks_per_s: float = 0.0
    ingest_chunks_per_s: float = 0.0
    per_document_chunks_per_s: float | None = None
    full_job_chunks_per_s: float | None = None
    ratio: float = 0.0
    full_job_ratio: float | None = None

    def __post_init__(self) -> None:
        self.raw_chunks_per_s = round(self.chunks / self.raw_s, 2)
        self.ingest_chunks_per_s = round(self.chunks / self.ingest_s, 2)
        self.ratio = round(self.ingest_chunks_per_s / self.raw_chunks_per_s, 3)
        if self.per_document_s:
            self.per_document_chunks_per_s = round(self.chunks / self.per_document_s, 2)
        if self.full_job_s and self.full_job_raw_s:
            self.full_job_chunks_per_s = round(self.full_job_chunks / self.full_job_s, 2)
            self.full_job_ratio = round(self.full_job_raw_s / self.full_job_s, 3)

    def render(self) -> str:
        lines = [
            f"throughput on {self.documents} documents x {self.copies} copies = {self.chunks} chunks",
            f"  start-up (model load)       {self.startup_s:8.1f} s",
            f"  conversion (one copy)       {self.convert_s:8.1f} s",
            f"  raw embedding               {self.raw_chunks_per_s:8.2f} chunks/s  ({self.raw_s:.1f} s)",
            f"  ingest through the app      {self.ingest_chunks_per_s:8.2f} chunks/s  ({self.ingest_s:.1f} s, "
            f"{self.writes_s:.1f} s of it writing to the app)",
        ]
        if self.per_document_chunks_per_s is not None:
            lines.append(
                f"  one document per call (old) {self.per_document_chunks_per_s:8.2f} chunks/s  "
                f"({self.per_document_s:.1f} s)"
            )
        verdict = "meets" if self.ratio >= 0.8 else "misses"
        lines.append(f"  ratio ingest / raw          {self.ratio:8.3f}  ({verdict} the 0.8 target)")
        if self.full_job_chunks_per_s is not None:
            lines.append(
                f"  full job, conversion incl.  {self.full_job_chunks_per_s:8.2f} chunks/s  "
                f"({self.full_job_s:.1f} s, one copy, {self.full_job_chunks} chunks; ratio {self.full_job_ratio:.3f})"
            )
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
    full_job: AppVectorStoreSink | None = None,
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
    # The copies are measured in rounds, each round timing raw, ingest (and per-document) on the same chunks in
    # a rotating order, so that a load that drifts during the run (a shared machine) hits all figures alike.
    timings = {"raw": 0.0, "ingest": 0.0, "per_document": 0.0, "writes": 0.0}
    store.open(dim=producer.dim, model_identity=producer.model_identity)
    try:
        store.begin(new_generation=False, pending=[])
        size = len(converted)
        rounds = [results[n * size : (n + 1) * size] for n in range(copies)]
        for n, batch in enumerate(rounds):
            steps = ["raw", "ingest", "per_document"] if per_document else ["raw", "ingest"]
            for step in steps[n % len(steps) :] + steps[: n % len(steps)]:
                started = time.monotonic()
                if step == "raw":
                    embedder.encode([c.text for r in batch for c in r.chunks], producer.settings.embed_batch_size)
                elif step == "per_document":
                    for r in batch:
                        embedder.encode([c.text for c in r.chunks], producer.settings.embed_batch_size)
                else:
                    timings["writes"] += _ingest(producer, store, batch, last=n == copies - 1)
                timings[step] += time.monotonic() - started
        if store.count() != len(texts):
            raise SystemExit(f"error: the store holds {store.count()} chunks, expected {len(texts)}")
    finally:
        if store.store_id:
            store.client.delete_vector_store(store.store_id)
    raw_s, ingest_s = timings["raw"], timings["ingest"]
    per_doc_s = timings["per_document"] if per_document else None
    log.info("ingest: %.1f s, of which %.1f s in writes to the app", ingest_s, timings["writes"])

    full = None
    if full_job is not None:  # the whole job on one copy: discovery, conversion, embedding, writes
        try:
            summary = run_ingest(corpus, producer, full_job)
        finally:
            if full_job.store_id:
                full_job.client.delete_vector_store(full_job.store_id)
        started = time.monotonic()  # the model's speed right now, on the same chunks, for this ratio
        embedder.encode([c.text for r in converted for c in r.chunks], producer.settings.embed_batch_size)
        full = (summary.chunks_written, summary.seconds, time.monotonic() - started)
    figures = Figures(len(converted), len(texts), copies, startup, convert_s, raw_s, ingest_s, per_doc_s)
    figures = replace(figures, writes_s=round(timings["writes"], 2))
    if full is not None:
        figures = replace(figures, full_job_chunks=full[0], full_job_s=full[1], full_job_raw_s=round(full[2], 2))
    return figures


def _ingest(producer: ChunkProducer, store: AppVectorStoreSink, batch: list[ConvertResult], last: bool) -> float:
    """The job's path from converted documents: cross-document embedding, inserts, and (last) the commit.
    Returns the seconds spent writing to the app."""
    taken, writes = [0], 0.0

    def feed() -> Iterator[ConvertResult]:
        for result in batch:
            taken[0] += 1
            yield result

    outcomes = []
    for item in producer.embed_converted(feed(), lambda: len(batch) - taken[0]):
        assert item.doc is not None
        started = time.monotonic()
        outcomes += store.add(item.doc)
        writes += time.monotonic() - started
    started = time.monotonic()
    outcomes += store.flush()
    if last:
        store.commit(set())
    writes += time.monotonic() - started
    for outcome in outcomes:
        if outcome.error:
            raise SystemExit(f"error: {outcome.source}: {outcome.error}")
    return writes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workloads.ingest.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(cli.DEFAULT_CORPUS))
    parser.add_argument("--copies", type=int, default=2, help="repeat the corpus this many times (default 2)")
    parser.add_argument("--no-per-document", action="store_true", help="skip the one-document-per-call reference")
    parser.add_argument("--no-full-job", action="store_true", help="skip the whole-job run (conversion included)")
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
        name = args.vector_store
        args.vector_store = f"{name}-job"
        full_job = None if args.no_full_job else cli._store(args)
        try:
            figures = measure(
                producer, store, args.corpus, args.copies, per_document=not args.no_per_document, full_job=full_job
            )
        finally:
            store.close()
            if full_job is not None:
                full_job.close()
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
