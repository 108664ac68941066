"""What the demo's steps share: the options, the data folder, the rendered stack and its translation, the started
services and the clients' settings."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from local.demo.state import DemoState
from local.process import Service, ServiceGroup
from local.rendered import RenderedStack
from local.services import Redis, write_secret_file
from local.site import LocalSite


class StepError(RuntimeError):
    """A step of the demo failed; the message says what and names the log to read."""


def say(msg: str) -> None:
    print(msg, flush=True)


def step(n: int, title: str) -> None:
    say(f"\n[{n}] {title}")


def _last_line(log: Path) -> str:
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - 4096))
            lines = [x.strip() for x in fh.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


@contextmanager
def progress(what: str, log: Path, every_s: float = 20.0) -> Iterator[None]:
    """While the body runs (a job writing to `log`), print every `every_s` seconds how long it has run and the
    log's last line."""
    done = threading.Event()
    t0 = time.monotonic()

    def tick() -> None:
        while not done.wait(every_s):
            last = _last_line(log)
            say(f"      ... {what}: {time.monotonic() - t0:.0f}s" + (f" | {last}" if last else ""))

    thread = threading.Thread(target=tick, name=f"progress-{what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@dataclass
class Running:
    """What the started services answer on, filled in as they start."""

    redis: Redis | None = None
    chat_url: str = ""
    """The llama.cpp server of the CPU tier (no /v1): what the benchmark measures."""
    chat_threads: int = 0
    """Its llama.cpp threads (recorded in the benchmark report)."""
    chat_key_file: Path | None = None
    """The serving API key as a mode-600 file (the benchmark reads it from there)."""


@dataclass
class Demo:
    args: argparse.Namespace
    data: Path
    state: DemoState
    rendered: RenderedStack
    site: LocalSite
    services: ServiceGroup = field(default_factory=ServiceGroup)
    running: Running = field(default_factory=Running)
    answers: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def create(cls, args: argparse.Namespace, rendered: RenderedStack) -> Demo:
        data = Path(args.data_dir).resolve()
        data.mkdir(parents=True, exist_ok=True)
        site = LocalSite(rendered, data, data / "pods" / "milvus" / "milvus.db")
        return cls(args, data, DemoState(data / "state.json"), rendered, site)

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def secret(self, name: str, value: str) -> Path:
        """Keep a credential in .demo/secrets/ (mode 600) for the user; returns its path."""
        return write_secret_file(self.data / "secrets" / name, value)

    def started(self, service: Service) -> Service:
        """Track a started service: stopped at shutdown, and written to the state file now."""
        self.services.add(service)
        self.state.record_service(service)
        return service
