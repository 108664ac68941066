"""Shared fixtures: one real llama.cpp server (SmolLM2-135M) and its tokenizer for the whole session.

The server runs from .venvs/llm-server (scripts/mkvenv .venvs/llm-server 3.11
local/requirements-llm-server.txt); the tests run in .venvs/benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.llm_server import LlmServer, find_gguf
from workloads.benchmark import tokenizer


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
