"""Fixtures for the moderation adapter tests (run with .venvs/gateway/bin/python -m pytest tests/workloads/moderation).

Servers are started through servers.py (the harness's launchers); the expensive ones (the MiniLM stand-in) once
per session.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from local.services import Moderation, SafetyClassifier, start_safety_classifier
from tests.workloads.moderation.servers import ReplayUpstream, start_adapter, start_replay_upstream


@pytest.fixture(scope="session")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayUpstream]:
    upstream = start_replay_upstream(tmp_path_factory.mktemp("replay"))
    with upstream.service:
        yield upstream


@pytest.fixture(scope="session")
def adapter_on_replay(tmp_path_factory: pytest.TempPathFactory, replay: ReplayUpstream) -> Iterator[Moderation]:
    """The adapter in front of the replay upstream, with a 2 s upstream timeout."""
    workdir = tmp_path_factory.mktemp("adapter")
    with start_adapter(workdir, replay.base_url, replay.api_key, safety_timeout_s=2) as adapter:
        yield adapter


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafetyClassifier]:
    log = tmp_path_factory.mktemp("classifier") / "safety-classifier.log"
    with start_safety_classifier(log, secrets.token_urlsafe(16)) as server:
        yield server


@pytest.fixture(scope="session")
def adapter_on_classifier(
    tmp_path_factory: pytest.TempPathFactory, classifier: SafetyClassifier
) -> Iterator[Moderation]:
    """The adapter in front of the local stand-in, as `make demo` is to run it."""
    workdir = tmp_path_factory.mktemp("adapter")
    with start_adapter(
        workdir, classifier.base_url, classifier.api_key, classifier.model, safety_timeout_s=30
    ) as adapter:
        yield adapter
