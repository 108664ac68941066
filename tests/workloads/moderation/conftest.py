"""Fixtures for the moderation adapter tests (run with .venvs/gateway/bin/python -m pytest tests/workloads/moderation).

Servers are started by servers.py; the expensive ones (the MiniLM stand-in) once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workloads.moderation.servers import (
    INGEST_PYTHON,
    Adapter,
    OpenAIServer,
    moderation_adapter,
    replay_upstream,
    safety_classifier,
)


@pytest.fixture(scope="session")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServer]:
    with replay_upstream(tmp_path_factory.mktemp("replay")) as server:
        yield server


@pytest.fixture(scope="session")
def adapter_on_replay(tmp_path_factory: pytest.TempPathFactory, replay: OpenAIServer) -> Iterator[Adapter]:
    """The adapter in front of the replay upstream, with a 2 s upstream timeout."""
    with moderation_adapter(tmp_path_factory.mktemp("adapter"), replay, SAFETY_TIMEOUT_S="2") as adapter:
        yield adapter


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIServer]:
    if not INGEST_PYTHON.exists():
        pytest.fail(f"{INGEST_PYTHON} is missing: build it with `make venv-ingest`")
    with safety_classifier(tmp_path_factory.mktemp("classifier")) as server:
        yield server


@pytest.fixture(scope="session")
def adapter_on_classifier(tmp_path_factory: pytest.TempPathFactory, classifier: OpenAIServer) -> Iterator[Adapter]:
    """The adapter in front of the local stand-in, as `make demo` runs it."""
    with moderation_adapter(
        tmp_path_factory.mktemp("adapter"), classifier, SAFETY_MODEL="local-safety-classifier", SAFETY_TIMEOUT_S="30"
    ) as adapter:
        yield adapter
