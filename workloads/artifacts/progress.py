"""Progress of long byte transfers as log lines (a Job's log has no terminal for progress bars)."""

from __future__ import annotations

import logging
import threading
import time


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


class ByteProgress:
    """A callback taking byte counts (boto3's `Callback`, a hashing loop) that logs
    `label: X of Y MB (P%), R MB/s` at most every `interval_s` seconds, and once when done."""

    def __init__(self, log: logging.Logger, label: str, total: int, interval_s: float = 10.0) -> None:
        self.log, self.label, self.total, self.interval_s = log, label, total, interval_s
        self.done_bytes = 0
        self.start = self.last = time.monotonic()
        self._lock = threading.Lock()  # boto3 calls back from its transfer threads

    def __call__(self, count: int) -> None:
        with self._lock:
            self.done_bytes += count
            now = time.monotonic()
            if now - self.last >= self.interval_s and self.done_bytes < self.total:
                self.last = now
                self.log.info("%s: %s", self.label, self._line(now))

    def _line(self, now: float) -> str:
        rate = self.done_bytes / max(now - self.start, 1e-6)
        percent = 100.0 * self.done_bytes / self.total if self.total else 100.0
        return f"{mb(self.done_bytes)} of {mb(self.total)} ({percent:.0f}%), {rate / 1e6:.1f} MB/s"

    def finish(self) -> float:
        """Log the final line; the seconds it took."""
        now = time.monotonic()
        self.log.info("%s: done, %s", self.label, self._line(now))
        return now - self.start
