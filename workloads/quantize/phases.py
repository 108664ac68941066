"""A log line at the start and end of each phase, with its duration."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("workloads.quantize")

PHASES = ("load", "calibrate", "quantize", "save", "upload")


@contextmanager
def phase(name: str, timings: dict[str, float], detail: str = "") -> Iterator[None]:
    number = PHASES.index(name) + 1
    log.info("[%d/%d] %s: start%s", number, len(PHASES), name, f" ({detail})" if detail else "")
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    log.info("[%d/%d] %s: done in %.1fs", number, len(PHASES), name, timings[name])
