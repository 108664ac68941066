"""What the demo's steps share: the options, the data folder, the rendered stack and its translation, the started
services and the clients' settings."""

from __future__ import annotations

import argparse
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
