"""Start the app's services on 127.0.0.1 for tests and benchmarks: redis-server, the tiny OpenAI-compatible
upstream, the LiteLLM gateway and the OGX server. Each is a context manager that starts a real process on
a free port, waits until it answers, and stops it (and only it) on exit. Standard library only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OGX_VENV = ROOT / ".venvs" / "ogx"
GATEWAY_VENV = ROOT / ".venvs" / "gateway"


def ensure_venv(venv: Path, python: str, *requirements: str) -> Path:
    """Create or update a venv with scripts/mkvenv (seconds when unchanged); return its python."""
    subprocess.run([str(ROOT / "scripts" / "mkvenv"), str(venv), python, *requirements], check=True, cwd=ROOT)
    return venv / "bin" / "python"


def ensure_ogx_venv() -> Path:
    return ensure_venv(OGX_VENV, "3.12", "app_env/requirements-ogx.txt")


def ensure_gateway_venv() -> Path:
    return ensure_venv(GATEWAY_VENV, "3.11", "app_env/requirements-gateway.txt", "requirements-test.txt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    method: str,
    url: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[int, dict, dict[str, str]]:
    """One HTTP request; returns (status, JSON body or {}, lower-cased headers). Never raises on 4xx/5xx."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as err:
        raw, status, hdrs = err.read(), err.code, err.headers
    try:
        parsed = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        parsed = {"raw": raw.decode(errors="replace")}
    return status, parsed, {k.lower(): v for k, v in hdrs.items()}


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as err:
            if err.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s:\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass(frozen=True)
class Redis:
    port: int
    password: str

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [
                "redis-cli",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--no-auth-warning",
                "-a",
                self.password,
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


@contextmanager
def redis_server(workdir: Path) -> Iterator[Redis]:
    """A real redis-server with a random password on a free port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: install it with 'apt-get install -y redis-server'")
    password = secrets.token_urlsafe(24)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    redis = Redis(port, password)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if redis.cli("PING") == "PONG":
                    break
            except subprocess.CalledProcessError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.1)
        yield redis
    finally:
        _stop(proc)


@dataclass(frozen=True)
class Upstream:
    base_url: str  # .../v1

    def stats(self) -> dict[str, int]:
        return http_json("GET", self.base_url.removesuffix("/v1") + "/stats")[1]

    def reset(self) -> None:
        http_json("POST", self.base_url.removesuffix("/v1") + "/stats/reset", {})


@contextmanager
def tiny_upstream(
    chat_models: list[str],
    embedding_models: list[str],
    dim: int = 384,
    delay_ms: float = 0.0,
    flag_words: tuple[str, ...] = (),
) -> Iterator[Upstream]:
    """app_env/tiny_openai_server.py on a free port."""
    cmd = [
        sys.executable,
        str(ROOT / "app_env" / "tiny_openai_server.py"),
        "--port",
        "0",
        "--dim",
        str(dim),
        "--delay-ms",
        str(delay_ms),
    ]
    for m in chat_models:
        cmd += ["--chat-model", m]
    for m in embedding_models:
        cmd += ["--embedding-model", m]
    for w in flag_words:
        cmd += ["--flag-word", w]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        yield Upstream(f"http://127.0.0.1:{port}/v1")
    finally:
        _stop(proc)


@contextmanager
def litellm_proxy(config_yaml: str, env: dict[str, str], workdir: Path, timeout_s: float = 120.0) -> Iterator[str]:
    """The LiteLLM proxy from .venvs/gateway with this config; yields its base URL (no /v1)."""
    from components.app.gateway_config import GATEWAY_PLAIN_ENV

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yaml"
    config.write_text(config_yaml)
    port = free_port()
    log = workdir / "litellm.log"
    full_env = {**os.environ, **GATEWAY_PLAIN_ENV, **env}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(GATEWAY_VENV / "bin" / "litellm"),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health/liveliness", proc, timeout_s, log)
        yield url
    finally:
        _stop(proc)


@contextmanager
def ogx_server(
    config_yaml: str, env: dict[str, str], workdir: Path, port: int, timeout_s: float = 180.0
) -> Iterator[str]:
    """`ogx run` from .venvs/ogx with this config (it must listen on 127.0.0.1:port); yields the base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "run.yaml"
    config.write_text(config_yaml)
    cache = workdir / "tiktoken"
    subprocess.run(
        [str(OGX_VENV / "bin" / "python"), str(ROOT / "app_env" / "tiktoken_cache.py"), str(cache)],
        check=True,
        capture_output=True,
    )
    log = workdir / "ogx.log"
    full_env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "HOME": str(workdir), **env}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(OGX_VENV / "bin" / "ogx"), "run", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/v1/health", proc, timeout_s, log)
        yield url
    finally:
        _stop(proc)
