"""The ingest run: decide per file what to do, produce the changed ones, write them, prune."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, TypeVar

from tqdm import tqdm

from workloads.ingest.convert import BadDocument
from workloads.ingest.discover import SourceFile, content_hash, discover
from workloads.ingest.records import EmbeddedDocument, StoredDocument
from workloads.ingest.sinks import ChunkSink
from workloads.ingest.summary import Summary

log = logging.getLogger(__name__)
T = TypeVar("T")


class Producer(Protocol):
    pipeline: str

    @property
    def dim(self) -> int: ...

    def describe_pdf(self) -> str: ...

    def produce(self, file: SourceFile, doc_hash: str) -> EmbeddedDocument: ...


def _progress(items: list[T], desc: str) -> Iterable[T]:
    interactive = sys.stderr.isatty()
    return tqdm(items, desc=desc, unit="doc", file=sys.stderr, mininterval=0.5 if interactive else 10.0)


def _pick_canonical(
    sources: list[SourceFile], doc_hash: str, stored: dict[str, StoredDocument], pipeline: str
) -> SourceFile:
    """Among files with identical content, keep the one already stored, else the first by path."""
    for file in sources:
        held = stored.get(file.source)
        if held is not None and held.is_current(doc_hash, pipeline):
            return file
    return sources[0]


def run_ingest(root: Path, producer: Producer, sink: ChunkSink, prune: bool = False) -> Summary:
    started = time.monotonic()
    summary = Summary(corpus=str(root), sink=sink.describe(), pdf_pipeline=producer.describe_pdf())
    files = discover(root)
    summary.documents = len(files)
    sink.prepare(producer.dim)
    stored = sink.stored_documents()
    log.info("%d files under %s; %d documents already stored in %s", len(files), root, len(stored), sink.describe())

    by_hash: dict[str, list[SourceFile]] = {}
    for file in files:
        if not file.supported or file.size == 0:
            by_hash.setdefault(f"unhashed:{file.source}", []).append(file)  # fails its checks below
        else:
            by_hash.setdefault(content_hash(file.path), []).append(file)

    todo: list[tuple[SourceFile, str]] = []
    duplicates: list[SourceFile] = []
    for doc_hash, group in by_hash.items():
        canonical = _pick_canonical(group, doc_hash, stored, producer.pipeline)
        todo.append((canonical, doc_hash))
        for dup in group:
            if dup is not canonical:
                duplicates.append(dup)
                summary.duplicates.append({"source": dup.source, "same_as": canonical.source})
    todo.sort(key=lambda item: item[0].source)

    for file, doc_hash in _progress(todo, "ingest"):
        held = stored.get(file.source)
        if held is not None and held.is_current(doc_hash, producer.pipeline):
            summary.unchanged.append(file.source)
            continue
        try:
            doc = producer.produce(file, doc_hash)
        except BadDocument as err:
            kept = " (its previously ingested version is still stored)" if held else ""
            summary.skip(file.source, f"{err}{kept}")
            log.warning("skipped %s: %s", file.source, err)
            continue
        try:
            sink.write(doc)
        except Exception as err:  # a sink failure for one document must not lose the others
            summary.skip(file.source, f"write to {sink.describe()} failed: {type(err).__name__}: {err}")
            log.error("could not write %s: %s", file.source, err)
            continue
        summary.ingested.append(file.source)
        summary.chunks_written += len(doc.chunks)
        log.info("%s %s: %d chunks", "updated" if held else "added", file.source, len(doc.chunks))

    for dup in duplicates:
        if dup.source in stored:  # its rows were replaced by (or belong to) an older version
            sink.delete(dup.source)

    present = {file.source for file in files}
    for source in sorted(set(stored) - present):
        if prune:
            sink.delete(source)
            summary.pruned.append(source)
            log.info("pruned %s", source)
        else:
            summary.not_in_corpus.append(source)

    summary.chunks_total = sink.count()
    summary.seconds = round(time.monotonic() - started, 2)
    return summary
