"""Fixtures for the app config generators' server tests: the OGX and gateway environments, a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.envs import ensure_venv
from local.services import Redis, start_redis


@pytest.fixture(scope="session")
def ogx_python() -> Path:
    """Python 3.12 venv with OGX 1.5.0 (`make venv-ogx`; seconds when already built)."""
    return ensure_venv("ogx")


@pytest.fixture(scope="session")
def gateway_venv() -> Path:
    """Python 3.11 venv with the LiteLLM proxy (`make venv-gateway`)."""
    return ensure_venv("gateway")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    with start_redis(tmp_path / "redis") as r:
        yield r
