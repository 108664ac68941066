"""The ingest run: decide per file what to do, produce the changed ones, write them, prune.

Order of a run: find the files and the store's manifest; hash; plan (unchanged, to write, to prune); refuse
a prune that would empty the store by mistake; write (in place when nothing has to go, else into a new
generation of the store that keeps what is unchanged); commit. Until the commit the store's content is what
it was before the run, so a run that stops half way loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from workloads.ingest.convert_worker import ConvertJob
from workloads.ingest.discover import SourceFile, content_hash, describe_os_error, discover
from workloads.ingest.produce import Produced
from workloads.ingest.records import StoredDocument
from workloads.ingest.sinks import ChunkSink
from workloads.ingest.sinks.ogx import WriteOutcome
from workloads.ingest.summary import Summary

log = logging.getLogger(__name__)


class PruneRefused(Exception):
    """--prune would remove too much; the message is one line for the user."""


class Producer(Protocol):
    pipeline: str

    @property
    def dim(self) -> int: ...

    @property
    def model_identity(self) -> str: ...

    def describe_pdf(self) -> str: ...

    def produce(self, jobs: list[ConvertJob]) -> Iterator[Produced]: ...


@dataclass(frozen=True)
class IngestOptions:
    prune: bool = False
    force_prune: bool = False
    max_prune_fraction: float = 0.5  # of the stored chunks
    max_file_bytes: int = 50_000_000


def _pick_canonical(
    sources: list[SourceFile], doc_hash: str, stored: dict[str, StoredDocument], pipeline: str
) -> SourceFile:
    """Among files with identical content, keep the one already stored, else the first by path."""
    for file in sources:
        held = stored.get(file.source)
        if held is not None and held.is_current(doc_hash, pipeline):
            return file
    return sources[0]


def _check_prune(options: IngestOptions, found: int, stored: dict[str, StoredDocument], gone: list[str]) -> None:
    if not options.prune or options.force_prune or not stored:
        return
    if found == 0:
        raise PruneRefused(
            f"--prune refused: the corpus holds no documents, so every one of the {len(stored)} stored documents "
            "would be deleted; check the corpus path (or the Job's sourceUri), or pass --force-prune to empty the store"
        )
    total = sum(d.chunk_count or 0 for d in stored.values()) or 1
    removed = sum(stored[s].chunk_count or 0 for s in gone)
    if removed / total > options.max_prune_fraction:
        raise PruneRefused(
            f"--prune refused: it would delete {len(gone)} of {len(stored)} stored documents ({removed} of {total} "
            f"chunks, {removed / total:.0%} > --max-prune-fraction {options.max_prune_fraction:g}); check the corpus "
            "path, or pass --force-prune if that is intended"
        )


def run_ingest(root: Path, producer: Producer, sink: ChunkSink, options: IngestOptions | None = None) -> Summary:
    options = options or IngestOptions()
    started = time.monotonic()
    summary = Summary(corpus=str(root), sink=sink.describe(), pdf_pipeline=producer.describe_pdf())
    found = discover(root)  # CorpusError for a missing or unreadable root
    summary.documents = len(found.files)
    for source, problem in found.problems:
        summary.skip(source, problem)
    sink.open(dim=producer.dim, model_identity=producer.model_identity)
    summary.sink = sink.describe()
    stored = sink.stored_documents()
    log.info("%d files under %s; %d documents stored in %s", len(found.files), root, len(stored), sink.describe())

    # ------------------------------------------------------------------ hash and group
    by_hash: dict[str, list[SourceFile]] = {}
    held_back: list[str] = []  # present, stored, but not usable this run: their stored version stays
    for file in found.files:
        reason: str | None = None
        if not file.supported:
            reason = _unsupported(file)
        elif file.size > options.max_file_bytes:
            reason = (
                f"{file.size / 1e6:.1f} MB is over the {options.max_file_bytes / 1e6:g} MB limit (--max-file-mb); "
                "split the file or raise the limit"
            )
        else:
            try:
                by_hash.setdefault(content_hash(file.path), []).append(file)
            except OSError as err:
                reason = f"cannot read: {describe_os_error(err)}"
        if reason is not None:
            summary.skip(file.source, reason + _kept(stored, file.source))
            if file.source in stored:
                held_back.append(file.source)

    # ------------------------------------------------------------------ plan
    unchanged: list[str] = []
    todo: list[tuple[SourceFile, str]] = []
    for doc_hash, group in by_hash.items():
        canonical = _pick_canonical(group, doc_hash, stored, producer.pipeline)
        held = stored.get(canonical.source)
        if held is not None and held.is_current(doc_hash, producer.pipeline):
            unchanged.append(canonical.source)
        else:
            todo.append((canonical, doc_hash))
        for dup in group:
            if dup is not canonical:
                summary.duplicates.append({"source": dup.source, "same_as": canonical.source})
    todo.sort(key=lambda item: item[0].source)
    summary.unchanged = sorted(unchanged)

    present = {file.source for file in found.files}
    gone = sorted(set(stored) - present)
    _check_prune(options, len(found.files), stored, gone)
    keep_gone = [] if options.prune else gone
    wanted = set(unchanged) | set(keep_gone) | set(held_back) | {f.source for f, _ in todo}
    hashes_of_others = {d.doc_hash: s for s, d in stored.items()}
    in_place = all(s in wanted for s in stored) and all(
        _rewrites_in_place(stored.get(file.source), doc_hash, producer.pipeline)
        and hashes_of_others.get(doc_hash, file.source) == file.source
        for file, doc_hash in todo
    )
    if not todo and in_place:
        _finish(summary, sink, options, gone, started)
        return summary

    pending = [StoredDocument(f.source, h, producer.pipeline, None, complete=False) for f, h in todo]
    sink.begin(new_generation=not in_place, pending=pending)
    try:
        written, failed = _write(summary, producer, sink, todo, stored)
        keep = set(unchanged) | set(keep_gone) | set(held_back)
        for source in failed:  # a changed document that failed keeps its stored version
            held = stored.get(source)
            if held is not None and held.complete:
                keep.add(source)
        sink.forget([s for s in failed if s not in written])
        result = sink.commit(keep)
    except BaseException:
        sink.abort()
        raise
    summary.replaced_vector_store_id = result.replaced_store_id
    for source in result.dropped:
        summary.warn(source, "its stored chunks were incomplete and could not be carried over; re-ingested next run")
    _finish(summary, sink, options, gone, started)
    return summary


def _rewrites_in_place(held: StoredDocument | None, doc_hash: str, pipeline: str) -> bool:
    """Writing this version over what is stored leaves no stale chunk: nothing stored, or an unfinished write
    of the very same version (same chunk ids)."""
    return held is None or (not held.complete and held.doc_hash == doc_hash and held.pipeline == pipeline)


def _unsupported(file: SourceFile) -> str:
    from workloads.ingest.discover import SUPPORTED_EXTENSIONS

    known = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    return f"unsupported extension {file.extension or '(none)'!r}; supported: {known}"


def _write(
    summary: Summary,
    producer: Producer,
    sink: ChunkSink,
    todo: list[tuple[SourceFile, str]],
    stored: dict[str, StoredDocument],
) -> tuple[set[str], list[str]]:
    """Produce and write the documents to do; returns (sources written, sources that failed)."""
    jobs = [ConvertJob(f.source, str(f.path), f.size, h) for f, h in todo]
    written: set[str] = set()
    failed: list[str] = []
    chunks: dict[str, int] = {}
    last_note = started = time.monotonic()

    def record(outcomes: list[WriteOutcome]) -> None:
        for outcome in outcomes:
            if outcome.error:
                summary.skip(outcome.source, outcome.error + _kept(stored, outcome.source))
                failed.append(outcome.source)
                log.error("could not write %s: %s", outcome.source, outcome.error)
            else:
                written.add(outcome.source)
                summary.ingested.append(outcome.source)
                summary.chunks_written += chunks[outcome.source]
                log.info(
                    "%s %s: %d chunks",
                    "updated" if outcome.source in stored else "added",
                    outcome.source,
                    chunks[outcome.source],
                )

    for done, item in enumerate(producer.produce(jobs), start=1):
        for warning in item.warnings:
            summary.warn(item.source, warning)
            log.warning("%s: %s", item.source, warning)
        if item.doc is None:
            reason = item.failure or "unknown failure"
            summary.skip(item.source, reason + _kept(stored, item.source))
            failed.append(item.source)
            log.warning("skipped %s: %s", item.source, reason)
        else:
            chunks[item.source] = len(item.doc.chunks)
            record(sink.add(item.doc))
        if time.monotonic() - last_note >= 10:
            last_note = time.monotonic()
            embedded = sum(chunks.values())
            log.info(
                "progress: %d of %d documents done, %d chunks embedded (%.1f chunks/s), %d written",
                done,
                len(jobs),
                embedded,
                embedded / (last_note - started),
                summary.chunks_written,
            )
    record(sink.flush())
    summary.ingested.sort()
    return written, failed


def _kept(stored: dict[str, StoredDocument], source: str) -> str:
    held = stored.get(source)
    return " (its previously ingested version is still stored)" if held is not None and held.complete else ""


def _finish(summary: Summary, sink: ChunkSink, options: IngestOptions, gone: list[str], started: float) -> None:
    if options.prune:
        summary.pruned = list(gone)
        for source in gone:
            log.info("pruned %s", source)
    else:
        summary.not_in_corpus = list(gone)
    summary.chunks_total = sink.count()
    summary.vector_store, summary.vector_store_id, summary.generation = sink.state()
    summary.sink = sink.describe()
    summary.seconds = round(time.monotonic() - started, 2)
