"""Shared fixtures: one real llama.cpp server (SmolLM2-135M) and its tokenizer for the whole session, a local
S3-compatible server (moto), and GuideLLM's mock server set to fail half-way.

The server runs from .venvs/llm-server (scripts/mkvenv .venvs/llm-server 3.11
local/requirements-llm-server.txt); the tests run in .venvs/benchmark.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.llm_server import LlmServer, find_gguf, free_port
from workloads.benchmark import tokenizer

# llama.cpp's OpenMP threads spin while waiting; on a shared 2-core machine that turns 0.5 s requests into 10-25 s
# ones. Passive waiting keeps the server's latency stable (the servers started here inherit the environment).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmServer]:
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    with LlmServer(log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def gguf() -> Path:
    return find_gguf()


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, gguf: Path) -> Path:
    return tokenizer.from_gguf(gguf, tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def api_key_file(tmp_path_factory: pytest.TempPathFactory, llm_server: LlmServer) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "api-key"
    path.write_text(llm_server.api_key)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 (a real HTTP endpoint, as `moto_server` runs it)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[tuple[str, dict[str, str], Any]]:
    """A fresh bucket on the moto server: (name, environment for the CLI, boto3 client)."""
    import boto3

    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
        region_name="us-east-1",
    )  # fmt: skip
    name = f"reports-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    yield name, env, client


@pytest.fixture
def mock_server(tmp_path: Path) -> Iterator[str]:
    """GuideLLM's own mock OpenAI server, answering the first 3 generation requests and failing every later one
    with HTTP 500 (`--fail-after-requests`): a server that breaks down in the middle of a benchmark. One per
    test, since the count runs over the server's life. It counts tokens with its own mock tokenizer (guidellm
    0.8.1 cannot load a local `--processor` with transformers 5: PreTrainedTokenizer.get_vocab is abstract)."""
    port = free_port()
    log = tmp_path / "mock.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guidellm", "mock-server", "--host", "127.0.0.1", "--port", str(port),
             "--model", "mock-model", "--ttft-ms", "20", "--itl-ms", "5",
             "--output-tokens", "16", "--fail-after-requests", "3"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"GuideLLM's mock server did not start; log {log}:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
