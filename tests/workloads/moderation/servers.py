"""Every server the moderation tests start, in one place; each is a context manager that starts a real process
on 127.0.0.1, waits until it answers and stops it (only it) on exit.

- the moderation adapter (workloads/moderation) with this test interpreter (.venvs/gateway has its packages);
- the local Llama Guard stand-in (local/safety_classifier.py) in .venvs/ingest (MiniLM);
- the replay upstream (replay_upstream.py) for the adapter's edge cases;
- the LiteLLM gateway and OGX through app_env/local_services.py, as tests/app starts them.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app_env import local_services as svc

ROOT = svc.ROOT
HERE = Path(__file__).resolve().parent
INGEST_PYTHON = ROOT / ".venvs" / "ingest" / "bin" / "python"
SETTINGS_ENV = (
    "MODERATION_API_KEY",
    "SAFETY_BASE_URL",
    "SAFETY_MODEL",
    "SAFETY_API_KEY",
    "SAFETY_TIMEOUT_S",
    "SAFETY_MAX_CONCURRENCY",
    "MODERATION_MAX_INPUTS",
    "MODERATION_HOST",
    "MODERATION_PORT",
)
_stop = svc._stop  # terminate, then kill after 15 s


def _first_json_line(proc: subprocess.Popen, log: Path, timeout_s: float) -> dict:
    """The JSON line a server prints on stdout once it listens; the log's tail if it dies or stalls."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if line:
                return dict(json.loads(line))
        if proc.poll() is not None:
            break
    raise RuntimeError(f"server did not start (exit {proc.poll()}):\n{log.read_text()[-4000:]}")


@contextmanager
def _json_port_server(cmd: list[str], env: dict[str, str], log: Path, timeout_s: float) -> Iterator[dict]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
    try:
        yield _first_json_line(proc, log, timeout_s)
    finally:
        _stop(proc)


@dataclass(frozen=True)
class OpenAIServer:
    base_url: str  # .../v1
    api_key: str
    info: dict


@contextmanager
def replay_upstream(workdir: Path) -> Iterator[OpenAIServer]:
    """replay_upstream.py with a random API key."""
    key = secrets.token_urlsafe(16)
    cmd = [sys.executable, str(HERE / "replay_upstream.py"), str(HERE / "data" / "replay.json")]
    with _json_port_server(cmd, {**os.environ, "API_KEY": key}, workdir / "replay.log", 30) as info:
        yield OpenAIServer(f"http://127.0.0.1:{info['port']}/v1", key, info)


@contextmanager
def safety_classifier(workdir: Path) -> Iterator[OpenAIServer]:
    """The local Llama Guard stand-in (MiniLM in .venvs/ingest) with a random API key."""
    key = secrets.token_urlsafe(16)
    env = {**os.environ, "API_KEY": key, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [str(INGEST_PYTHON), "-m", "local.safety_classifier", "--port", "0"]
    with _json_port_server(cmd, env, workdir / "safety_classifier.log", 300) as info:
        yield OpenAIServer(f"http://127.0.0.1:{info['port']}/v1", key, info)


@dataclass(frozen=True)
class Adapter:
    url: str  # no /v1
    api_key: str
    log: Path

    @property
    def moderations(self) -> str:
        return f"{self.url}/v1/moderations"

    def moderate(self, text: str | list[str], key: str | None = None, **extra: object) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.api_key if key is None else key}"}
        status, body, _ = svc.http_json("POST", self.moderations, {"input": text, **extra}, headers=headers)
        return status, body

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as resp:
            return str(resp.read().decode())


def adapter_env(upstream: OpenAIServer | None, **settings: str) -> dict[str, str]:
    """The environment of an adapter process: this one's, less any moderation settings, plus these."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    if upstream is not None:
        env |= {"SAFETY_BASE_URL": upstream.base_url, "SAFETY_API_KEY": upstream.api_key}
    return env | settings


@contextmanager
def moderation_adapter(workdir: Path, upstream: OpenAIServer | None, **settings: str) -> Iterator[Adapter]:
    """`python -m workloads.moderation` on a free port; settings are env vars (SAFETY_MODEL=...)."""
    key = secrets.token_urlsafe(16)
    port = svc.free_port()
    env = adapter_env(upstream, MODERATION_API_KEY=key, MODERATION_PORT=str(port), **settings)
    env.setdefault("SAFETY_MODEL", "llama-guard")
    log = workdir / f"adapter-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workloads.moderation"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        svc.wait_http(f"{url}/health", proc, 60, log)
        yield Adapter(url, key, log)
    finally:
        _stop(proc)


def run_adapter_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The adapter's command line run to completion (for configuration errors)."""
    return subprocess.run(
        [sys.executable, "-m", "workloads.moderation", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


tiny_upstream = svc.tiny_upstream
litellm_proxy = svc.litellm_proxy
ogx_server = svc.ogx_server
http_json = svc.http_json
free_port = svc.free_port
