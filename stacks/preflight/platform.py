"""Preflight of the data and app layer: Milvus, Redis, the app and the gateway (quantities, namespaces, the
cache key)."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.config.platform import CORPUS_VERSION, Resources
from stacks.preflight.problem import Problem
from stacks.quantity import QuantityError, is_cpu_quantity, memory_bytes

REDIS_MIN_MEMORY = 128 * 2**20
"""Redis keeps maxmemory at 75% of its limit; less than 128Mi leaves no room for the caches."""


def check_platform(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    platform = cfg.platform
    sized = {
        "milvus.resources": platform.milvus.resources,
        "milvus.coordinatorResources": platform.milvus.coordinator_resources,
        "milvus.minioResources": platform.milvus.minio_resources,
        "redis.resources": platform.redis.resources,
        "app.resources": platform.app.resources,
        "gateway.resources": platform.gateway.resources,
    }
    for path, resources in sized.items():
        yield from check_resources(f"platform.{path}", resources)
    others = {
        "serving.namespace": cfg.serving.namespace,
        "platform.namespace": platform.namespace,
        "jobs.namespace": cfg.jobs.namespace,
    }
    for key, ns in others.items():
        if platform.milvus.namespace == ns:
            yield Problem(
                "platform.milvus.namespace",
                f"Milvus needs a namespace of its own (Pod Security baseline), but {ns!r} is also {key}",
                "choose another name, e.g. milvus",
            )
    version = platform.gateway.cache.corpus_version
    if not CORPUS_VERSION.fullmatch(version):
        yield Problem(
            "platform.gateway.cache.corpusVersion",
            f"{version!r} cannot be part of a cache key",
            "use 1-64 letters, digits, '.', '_' or '-', e.g. 2026-11-23 or 2",
        )


def check_resources(path: str, r: Resources) -> Iterator[Problem]:
    for key, value in (("cpu", r.cpu), ("cpuLimit", r.cpu_limit)):
        if value is not None and not is_cpu_quantity(value):
            yield Problem(
                f"{path}.{key}", f"{value!r} is not a CPU quantity", "use cores or millicores, e.g. 2 or 500m"
            )
    memory: dict[str, int] = {}
    for key, value in (("memory", r.memory), ("memoryLimit", r.memory_limit)):
        if value is None:
            continue
        try:
            memory[key] = memory_bytes(value)
        except QuantityError as e:
            message, _, fix = str(e).partition("; ")
            yield Problem(f"{path}.{key}", message, fix)
    if "memory" in memory and "memoryLimit" in memory and memory["memoryLimit"] < memory["memory"]:
        yield Problem(
            f"{path}.memoryLimit",
            f"the limit {r.memory_limit} is below the request {r.memory}",
            f"set memoryLimit >= {r.memory}, or leave it out (it defaults to the request)",
        )
    limit = memory.get("memoryLimit", memory.get("memory"))
    if path == "platform.redis.resources" and limit is not None and limit < REDIS_MIN_MEMORY:
        yield Problem(
            f"{path}.memory",
            "Redis needs at least 128Mi (maxmemory is 75% of the limit)",
            "set platform.redis.resources.memory to 128Mi or more",
        )
