"""What the demo's steps share: the options, the data folder, the started services and where to send requests."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from local.demo.state import DemoState
from local.llm_server import LlmServer
from local.process import Service, ServiceGroup
from local.services import write_secret_file


class StepError(RuntimeError):
    """A step of the demo failed; the message says what and names the log to read."""


def say(msg: str) -> None:
    print(msg, flush=True)


def step(n: int, title: str) -> None:
    say(f"\n[{n}] {title}")


@dataclass
class Endpoints:
    """Addresses and credentials, filled in as the services start."""

    chat_url: str = ""
    """Where questions go without the app: the gateway, or the model server without one (no /v1)."""
    chat_key: str = ""
    chat_model: str = ""
    via: str = ""
    """"gateway" or "model server"."""
    llm: LlmServer | None = None
    redis_port: int = 0
    redis_password: str = ""
    embed_url: str = ""
    """.../v1"""
    embed_key: str = ""
    ogx_url: str = ""
    ogx_model: str = ""
    vector_store_id: str = ""


@dataclass
class Demo:
    args: argparse.Namespace
    data: Path
    state: DemoState
    services: ServiceGroup = field(default_factory=ServiceGroup)
    endpoints: Endpoints = field(default_factory=Endpoints)
    answers: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def create(cls, args: argparse.Namespace) -> Demo:
        data = Path(args.data_dir).resolve()
        data.mkdir(parents=True, exist_ok=True)
        return cls(args, data, DemoState(data / "state.json"))

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    @property
    def milvus(self) -> Path:
        """The ingest job's Milvus Lite file."""
        return self.data / "milvus.db"

    @property
    def app(self) -> bool:
        """Whether questions go through the OGX app (--app ogx)."""
        return bool(self.args.app == "ogx")

    def secret(self, name: str, value: str) -> Path:
        """Keep a generated credential in .demo/secrets/ (mode 600) for the user; returns its path."""
        return write_secret_file(self.data / "secrets" / name, value)

    def started(self, service: Service) -> Service:
        """Track a started service: stopped at shutdown, and written to the state file now."""
        self.services.add(service)
        self.state.record_service(service)
        return service
