"""Fixtures for the app config tests: sample settings, and the real services (venvs, redis, upstream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app_env import local_services as svc


@pytest.fixture(scope="session")
def ogx_python() -> Path:
    """Python 3.12 venv with OGX 1.5.0 (scripts/mkvenv; seconds when already built)."""
    return svc.ensure_ogx_venv()


@pytest.fixture(scope="session")
def gateway_venv() -> Path:
    """Python 3.11 venv with the LiteLLM proxy."""
    return svc.ensure_gateway_venv()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[svc.Redis]:
    with svc.redis_server(tmp_path / "redis") as r:
        yield r
