"""Preflight for the data and app layer: each rule fails on a bad config with the key path and a fix, and
passes on the stacks in the repo."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.load import parse
from stacks.preflight import PreflightError
from tests.renderkit import STACKS, stack_values

BASE: dict[str, Any] = {
    "cloud": "existing",
    "cluster": {"systemPool": {"name": "system", "instanceType": "kind-node"}},
    "serving": {"cpuTier": {"enabled": True}},
}


def problems(platform: dict[str, Any] | None = None, **top: Any) -> dict[str, str]:
    raw = copy.deepcopy(BASE)
    raw.update(top)
    if platform is not None:
        raw["platform"] = platform
    try:
        parse(raw)
    except PreflightError as e:
        return {p.path: f"{p.message} | {p.fix}" for p in e.problems}
    return {}


@pytest.mark.parametrize("stack", STACKS)
def test_the_repo_stacks_pass(stack):
    raw = stack_values(stack)
    secrets = frozenset(k for k in ("hfToken", "kubeconfig") if k in raw)
    parse({k: v for k, v in raw.items()}, secrets)


def test_base_passes():
    assert problems() == {}


def test_bad_quantities_are_reported_with_their_key():
    found = problems(
        {
            "redis": {"resources": {"cpu": "two", "memory": "1GB"}},
            "app": {"resources": {"cpu": "500m", "memory": "1Gi", "memoryLimit": "512Mi"}},
        }
    )
    assert set(found) == {
        "platform.redis.resources.cpu",
        "platform.redis.resources.memory",
        "platform.app.resources.memoryLimit",
    }
    assert "e.g. 2 or 500m" in found["platform.redis.resources.cpu"]
    assert (
        found["platform.redis.resources.memory"]
        == "'1GB' is not a Kubernetes memory quantity | use e.g. 512Mi, 1Gi or 2G"
    )
    assert "below the request 1Gi" in found["platform.app.resources.memoryLimit"]


def test_redis_needs_room_for_maxmemory():
    found = problems({"redis": {"resources": {"cpu": "100m", "memory": "64Mi"}}})
    assert set(found) == {"platform.redis.resources.memory"}
    assert "at least 128Mi" in found["platform.redis.resources.memory"]
    assert problems({"redis": {"resources": {"cpu": "100m", "memory": "64Mi", "memoryLimit": "256Mi"}}}) == {}


@pytest.mark.parametrize("clash", ["rag", "serving", "jobs"])
def test_milvus_needs_a_namespace_of_its_own(clash):
    found = problems({"milvus": {"namespace": clash}})
    assert list(found) == ["platform.milvus.namespace"]
    assert "namespace of its own" in found["platform.milvus.namespace"]


def test_the_corpus_version_must_fit_a_cache_key():
    found = problems({"gateway": {"cache": {"corpusVersion": "v 2/final"}}})
    assert list(found) == ["platform.gateway.cache.corpusVersion"]
    assert problems({"gateway": {"cache": {"corpusVersion": "2026-11-23"}}}) == {}
