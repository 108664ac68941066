"""Preflight of the serving mode: llm-d's gateway address and scorers, scale to zero, the CPU tier's name and its
fallbacks (the router choice itself: serving_modes.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.preflight.problem import Problem


def _in_subnet(address: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)
    except ValueError:
        return False


def check_serving_mode(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    s = cfg.serving
    names = {m.name: m for m in s.models}
    if s.mode == "llm-d":
        if not s.models:
            yield Problem(
                "serving.mode",
                "llm-d mode routes to GPU model servers, but serving.models is empty",
                "add a model, or use mode: vllm (the CPU tier alone needs no gateway)",
            )
        address = s.inference_gateway.address
        subnet = cfg.cluster.gcp.subnet_cidr
        if cfg.cloud == "gcp" and address is not None and not _in_subnet(address, subnet):
            yield Problem(
                "serving.inferenceGateway.address",
                f"{address} is not an IP of the cluster subnet "
                f"{cfg.cluster.gcp.subnet_cidr}: GKE's internal gateway takes an address from it",
                "pick an unused IP of cluster.gcp.subnetCidr, or remove address to use the default",
            )
        if not any(s.inference_gateway.scorer_weights.model_dump().values()):
            yield Problem(
                "serving.inferenceGateway.scorerWeights",
                "every scorer weight is 0",
                "give prefixCache, queue or kvCacheUtilization a weight > 0",
            )
    for i, model in enumerate(s.models):
        if model.min_replicas == 0 and s.mode == "vllm" and s.autoscaling.enabled:
            yield Problem(
                f"serving.models[{i}].minReplicas",
                "scale to zero needs a request signal while no "
                "replica runs; in mode vllm only the vLLM pods themselves report one",
                "use mode: llm-d (the endpoint picker counts requests), or minReplicas >= 1",
            )
    cpu = s.cpu_tier
    if cpu.enabled and cpu.name in names:
        yield Problem(
            "serving.cpuTier.name",
            f"{cpu.name!r} is also the name of a GPU model",
            "give the CPU tier its own served model name",
        )
    for name in cpu.fallback_for:
        target = names.get(name)
        if target is not None and target.role != "chat":
            yield Problem(
                "serving.cpuTier.fallbackFor",
                f"{name!r} is a {target.role} model; the CPU tier is a chat model and cannot stand in for it",
                "list only chat models in fallbackFor",
            )
