"""Conversion and chunking in worker processes, with a time limit per file and progress reports.

Docling runs in separate processes so that
- a file that converts for too long is stopped (the process is killed and restarted) and listed, instead of
  holding the run for hours; a crash or an out-of-memory kill costs that one file only;
- conversion of the next documents runs while the main process embeds the previous ones (the embedding
  model and Docling do not share an interpreter lock);
- Docling's import (seconds) overlaps the embedding model's load at start-up.

A thread of the main process drives the workers: it hands out files, collects results, kills a worker that
passes the time limit, and logs "still converting" lines for a file that takes long (with Docling's page
progress for PDFs). Results arrive in completion order.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from workloads.ingest.records import Chunk

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")  # fork would copy the main process's torch threads


class WorkerError(Exception):
    """The conversion workers cannot start; the message is one line for the user."""


@dataclass(frozen=True)
class WorkerSettings:
    model_location: str  # folder whose tokenizer sizes the chunks
    max_tokens: int
    pdf_artifacts: str | None  # None: the model-free PDF pipeline
    log_level: str = "INFO"


@dataclass(frozen=True)
class ConvertJob:
    source: str
    path: str
    size: int
    doc_hash: str


@dataclass
class ConvertResult:
    job: ConvertJob
    title: str = ""
    chunks: list[Chunk] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------- worker side


def _worker_main(conn: Connection, settings: WorkerSettings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process stops us; no traceback on Ctrl-C
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s [convert]: %(message)s")
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.ERROR
    for name in ("docling", "docling_core", "transformers", "PIL"):
        logging.getLogger(name).setLevel(quiet)
    # HybridChunker warns for every heading longer than a chunk; that is expected, not actionable.
    warnings.simplefilter("ignore")
    try:
        from transformers import AutoTokenizer

        from workloads.ingest.chunk import Chunker
        from workloads.ingest.convert import PdfMode, build_converter

        artifacts = Path(settings.pdf_artifacts) if settings.pdf_artifacts else None
        converter = build_converter(PdfMode(artifacts))
        tokenizer = AutoTokenizer.from_pretrained(settings.model_location)
        chunker = Chunker(tokenizer, settings.max_tokens)
    except Exception as err:  # an import or model problem: every file would fail the same way
        conn.send(("fatal", f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] != "convert":
            return
        conn.send(("done", _convert(conn, message[1], converter, chunker)))


def _convert(conn: Connection, job: ConvertJob, converter: Any, chunker: Any) -> ConvertResult:
    from workloads.ingest.convert import BadDocument, convert_file, document_title
    from workloads.ingest.discover import SourceFile

    started = time.monotonic()
    last = [0.0]

    def progress(text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:  # at most one message a second
            last[0] = now
            conn.send(("progress", text))

    file = SourceFile(path=Path(job.path), source=job.source, size=job.size)
    result = ConvertResult(job)
    try:
        doc, result.warnings = convert_file(converter, file, progress)
        progress("chunking")
        result.chunks = chunker.chunk(doc)
        if not result.chunks:
            hint = " (a scanned PDF needs OCR, which this job does not run)" if file.extension == ".pdf" else ""
            raise BadDocument(f"no text extracted{hint}")
        result.title = document_title(doc, file)
    except BadDocument as err:
        result.error = str(err)
    except MemoryError:
        result.error = "out of memory while converting; split the file or give the job more memory"
    except Exception as err:  # Docling and the chunker raise many types for odd input
        result.error = f"conversion failed: {type(err).__name__}: {' '.join(str(err).split())[:300]}"
    result.seconds = round(time.monotonic() - started, 2)
    return result


# ---------------------------------------------------------------------------------------------- main side


@dataclass
class _Slot:
    process: Any = None
    conn: Connection | None = None
    ready: bool = False
    job: ConvertJob | None = None
    started: float = 0.0
    last_note: float = 0.0
    progress: str = ""


_DONE = object()


class ConvertPool:
    """Worker processes that convert and chunk files; ``run`` yields results in completion order."""

    def __init__(self, settings: WorkerSettings, workers: int = 1, heartbeat_s: float = 30.0, backlog: int = 2) -> None:
        self.settings = settings
        self.time_limit_s = 600.0  # set per run
        self.heartbeat_s = heartbeat_s
        self.backlog = max(1, backlog) * workers  # converted documents waiting for the embedder, at most
        self.slots = [_Slot() for _ in range(workers)]
        self._results: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the workers now: they import Docling while the caller loads the embedding model."""
        for slot in self.slots:
            if slot.process is None:
                self._spawn(slot)

    def _spawn(self, slot: _Slot) -> None:
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(target=_worker_main, args=(child, self.settings), daemon=True, name="ingest-convert")
        process.start()
        child.close()
        slot.process, slot.conn, slot.ready, slot.job = process, parent, False, None

    def _kill(self, slot: _Slot) -> None:
        if slot.process is not None:
            slot.process.kill()
            slot.process.join(timeout=10)
        if slot.conn is not None:
            slot.conn.close()
        slot.process, slot.conn, slot.ready, slot.job = None, None, False, None

    @property
    def waiting(self) -> int:
        """Results converted and not yet taken by the caller."""
        return self._results.qsize()

    def run(self, jobs: list[ConvertJob], time_limit_s: float = 600.0) -> Iterator[ConvertResult]:
        """Convert and chunk the files; a file that takes longer than time_limit_s is stopped and reported."""
        self.time_limit_s = time_limit_s
        self._stop.clear()
        self.start()
        self._thread = threading.Thread(target=self._drive, args=(deque(jobs),), daemon=True, name="ingest-convert")
        self._thread.start()
        try:
            while True:
                item = self._results.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:  # also when the caller stops early: stop the driver, drop work nobody will take
            self._stop.set()
            self._thread.join()
            for slot in self.slots:
                if slot.job is not None:
                    self._kill(slot)
            self._results = queue.Queue()

    def _drive(self, jobs: deque[ConvertJob]) -> None:
        try:
            self._loop(jobs)
        except BaseException as err:  # hand it to the caller's thread
            self._results.put(err)
        finally:
            self._results.put(_DONE)

    def _loop(self, jobs: deque[ConvertJob]) -> None:
        while not self._stop.is_set():
            for slot in self.slots:
                if slot.process is None and jobs:
                    self._spawn(slot)  # after a kill or a crash
                if slot.ready and slot.job is None and jobs and self._results.qsize() < self.backlog:
                    slot.job, slot.started, slot.last_note, slot.progress = jobs.popleft(), time.monotonic(), 0.0, ""
                    slot.last_note = slot.started
                    assert slot.conn is not None
                    slot.conn.send(("convert", slot.job))
            busy = [s for s in self.slots if s.conn is not None and (s.job is not None or not s.ready)]
            if not jobs and not any(s.job for s in self.slots):
                return
            if not busy:  # every worker idle: the caller has not taken the converted documents yet
                time.sleep(0.05)
                continue
            by_conn = {id(s.conn): s for s in busy}
            for conn in wait([s.conn for s in busy if s.conn is not None], timeout=1.0):
                self._receive(by_conn[id(conn)], conn)  # type: ignore[arg-type]
            self._police()

    def _receive(self, slot: _Slot, conn: Connection) -> None:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            code = slot.process.exitcode if slot.process is not None else None
            if slot.process is not None:
                slot.process.join(timeout=5)
                code = slot.process.exitcode
            reason = "was killed (out of memory?)" if code is not None and code < 0 else f"exited with code {code}"
            if slot.job is not None:
                self._results.put(ConvertResult(slot.job, error=f"the conversion process {reason} on this file"))
            elif not slot.ready:
                self._kill(slot)
                raise WorkerError(f"the conversion process {reason} while starting") from None
            self._kill(slot)
            return
        kind = message[0]
        if kind == "ready":
            slot.ready = True
        elif kind == "fatal":
            self._kill(slot)
            raise WorkerError(f"the conversion process cannot start Docling: {message[1]}")
        elif kind == "progress":
            slot.progress = message[1]
        elif kind == "done":
            slot.job = None
            self._results.put(message[1])

    def _police(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.job is None:
                continue
            elapsed = now - slot.started
            if elapsed > self.time_limit_s:
                job = slot.job
                log.warning(
                    "%s: stopped after %.0f s (limit --max-file-seconds %.0f)", job.source, elapsed, self.time_limit_s
                )
                self._kill(slot)
                self._results.put(
                    ConvertResult(
                        job,
                        error=f"took longer than {self.time_limit_s:.0f} s to convert and chunk (--max-file-seconds); "
                        "split the file or raise the limit",
                        seconds=round(elapsed, 2),
                    )
                )
            elif now - slot.last_note >= self.heartbeat_s:
                slot.last_note = now
                note = f" ({slot.progress})" if slot.progress else ""
                log.info(
                    "still converting %s (%.1f MB): %.0f s so far, limit %.0f s%s",
                    slot.job.source,
                    slot.job.size / 1e6,
                    elapsed,
                    self.time_limit_s,
                    note,
                )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for slot in self.slots:
            if slot.conn is not None and slot.process is not None and slot.process.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(("stop",))
                slot.process.join(timeout=2)
            self._kill(slot)


_POOLS: dict[tuple[WorkerSettings, int], ConvertPool] = {}


def shared_pool(settings: WorkerSettings, workers: int) -> ConvertPool:
    """One pool per settings and process (tests and `evaluate` run several ingests in one process); the
    workers stop when the process exits."""
    key = (settings, workers)
    if key not in _POOLS:
        if not _POOLS:
            atexit.register(_close_pools)
        _POOLS[key] = ConvertPool(settings, workers=workers)
    return _POOLS[key]


def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
