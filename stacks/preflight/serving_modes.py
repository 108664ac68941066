"""Preflight of the serving modes: llm-d's router choice, KServe, prefill/decode disaggregation (pools, GPUs and
the KV transfer network) and CPU KV offload (host memory)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from stacks import catalog
from stacks.config import StackConfig
from stacks.config.serving import ModelConfig
from stacks.models import served_model
from stacks.pools import pool_hardware, pool_instance
from stacks.preflight.models import check_fit
from stacks.preflight.problem import Problem
from stacks.serving_modes import (
    ROLES,
    host_memory_fits,
    host_memory_needed_gib,
    replica_memory_gib,
    role_config,
    router_choice,
)
from stacks.uris import UriError


def check_router(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """The router of llm-d and KServe modes: an implementation that exists on this cloud, a GatewayClass for an
    external one, and a Gateway for KServe."""
    s = cfg.serving
    if s.mode == "vllm":
        return
    if s.mode == "kserve" and s.router.kind == "standalone":
        yield Problem(
            "serving.router.kind",
            "KServe's LLMInferenceService is reached through a Gateway (its HTTPRoute), not a standalone router",
            "set router.kind: gateway (or remove it), or use mode: llm-d for the standalone router",
        )
        return
    choice = router_choice(s, cfg.cloud)
    if choice.kind != "gateway":
        return
    if choice.implementation == "gke" and cfg.cloud != "gcp":
        yield Problem(
            "serving.router.implementation",
            f"gke is GKE's managed gateway, and this stack runs on {cfg.cloud}",
            "use agentgateway (installed by the stack), external (one the cluster runs), or router.kind: standalone",
        )
    if choice.implementation == "external" and choice.class_name is None:
        yield Problem(
            "serving.inferenceGateway.className",
            "router implementation external needs the GatewayClass of the Gateway implementation the cluster runs",
            "set inferenceGateway.className (e.g. istio), or use implementation: agentgateway",
        )


def check_kserve(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """KServe mode serves generative models as LLMInferenceServices with fixed replica counts."""
    s = cfg.serving
    if s.mode != "kserve":
        return
    if not s.models:
        yield Problem(
            "serving.mode",
            "kserve mode serves GPU models as LLMInferenceServices, but serving.models is empty",
            "add a model, or use mode: vllm (the CPU tier alone needs no KServe)",
        )
    if s.autoscaling.enabled:
        yield Problem(
            "serving.autoscaling.enabled",
            "the stack's KEDA autoscaling targets its own vLLM Deployments; in kserve mode the KServe controller "
            "owns them",
            "set autoscaling.enabled: false in kserve mode (replicas come from minReplicas), or use mode: llm-d",
        )
    for i, model in enumerate(s.models):
        if model.role == "embedding":
            yield Problem(
                f"serving.models[{i}].role",
                "KServe's LLMInferenceService serves generative models; an embedding model has no place in it",
                "serve embedding models in mode vllm or llm-d",
            )


def _role_pool_problems(cfg: StackConfig, path: str, model: ModelConfig) -> Iterator[Problem]:
    """Each role's pool, GPUs per replica, replicas x GPUs against the pool, and the memory fit."""
    used: Counter[str] = Counter()
    for role in ROLES:
        rc = role_config(model, role)
        role_path = f"{path}.disaggregation.{role}"
        pool = cfg.pool(rc.pool)
        if pool is None or pool.name == cfg.cluster.system_pool.name:
            gpu_pools = ", ".join(p.name for p in cfg.cluster.gpu_pools) or "(none defined)"
            yield Problem(f"{role_path}.pool", f"{rc.pool!r} is not a GPU pool", f"use one of: {gpu_pools}")
            continue
        hw = pool_hardware(cfg, pool)
        if hw is None or hw.gpu is None:
            continue  # reported by the pool checks
        tp = rc.tensor_parallel
        if tp > hw.gpu_count or hw.gpu_count % tp:
            yield Problem(
                f"{role_path}.tensorParallel",
                f"{role} replicas use {tp} GPU(s) each; pool {pool.name!r} has {hw.gpu_count} {hw.gpu.name} per node",
                f"use a divisor of {hw.gpu_count}, or a pool with {tp}+ GPUs per node",
            )
            continue
        used[pool.name] += rc.max_replicas * tp
        for problem in check_fit(role_path, rc, hw):  # reported at the role's key: its GPUs per replica
            yield Problem(f"{role_path}.tensorParallel", f"{role}: {problem.message}", problem.fix)
    for pool_name, gpus in used.items():
        pool = cfg.pool(pool_name)
        hw = pool_hardware(cfg, pool) if pool is not None else None
        if pool is None or hw is None:
            continue
        capacity = pool.max_nodes * hw.gpu_count
        if gpus > capacity:
            yield Problem(
                f"{path}.disaggregation",
                f"prefill and decode replicas need {gpus} GPUs of pool {pool_name!r}, which has {capacity} "
                f"({pool.max_nodes} node(s) x {hw.gpu_count})",
                "lower the roles' replicas or tensorParallel, or raise the pool's maxNodes",
            )


def _transport_problems(cfg: StackConfig, path: str, model: ModelConfig) -> Iterator[Problem]:
    """The KV transfer network: EFA needs EFA-capable AWS instance types; RDMA needs the cluster's RDMA resource."""
    d = model.disaggregation
    if d.transport == "efa":
        if cfg.cloud != "aws":
            yield Problem(
                f"{path}.disaggregation.transport",
                f"EFA is AWS's RDMA network, and this stack runs on {cfg.cloud}",
                "use transport: tcp, or rdma on an existing cluster with an RDMA device plugin",
            )
            return
        for role in ROLES:
            pool = cfg.pool(role_config(model, role).pool)
            spec = pool_instance(cfg, pool) if pool is not None else None
            if spec is not None and not spec.efa:
                capable = sorted(n for n, i in catalog.instances("aws").items() if i.efa)
                yield Problem(
                    f"{path}.disaggregation.transport",
                    f"the {role} pool's {spec.name} has no EFA",
                    f"use an EFA instance type ({', '.join(capable)}), or transport: tcp",
                )
    elif d.transport == "rdma":
        if cfg.cloud != "existing":
            fix = "transport: efa" if cfg.cloud == "aws" else "transport: tcp"
            yield Problem(
                f"{path}.disaggregation.transport",
                f"rdma names an RDMA device plugin's resource on a cluster you run; on {cfg.cloud} the stack "
                "creates the nodes and installs none",
                f"use {fix}",
            )
        elif not d.rdma_resource:
            yield Problem(
                f"{path}.disaggregation.rdmaResource",
                "transport rdma needs the extended resource the cluster's RDMA device plugin offers",
                "set rdmaResource (e.g. rdma/ib, or rdma/roce_gdr), or use transport: tcp",
            )


def check_disaggregation(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """Prefill/decode disaggregation: llm-d mode, generative models, pools and GPUs that fit, a KV transfer
    network the nodes have, and fixed replica counts."""
    s = cfg.serving
    for i, model in enumerate(s.models):
        if not model.disaggregation.enabled:
            continue
        path = f"serving.models[{i}]"
        if s.mode != "llm-d":
            yield Problem(
                f"{path}.disaggregation.enabled",
                f"prefill/decode disaggregation is routed by llm-d's endpoint picker; mode is {s.mode}",
                "set serving.mode: llm-d, or disable disaggregation",
            )
            continue
        if model.role == "embedding":
            yield Problem(
                f"{path}.disaggregation.enabled",
                "an embedding model has no decode phase to separate",
                "disable disaggregation for embedding models",
            )
            continue
        if s.autoscaling.enabled:
            yield Problem(
                f"{path}.disaggregation.enabled",
                "prefill and decode run fixed replica counts; the stack's autoscaler scales one Deployment per model",
                "set serving.autoscaling.enabled: false, or disable disaggregation",
            )
        if model.kv_offload.cpu_gib:
            yield Problem(
                f"{path}.kvOffload.cpuGib",
                "the prefill/decode servers already use the KV connector (NIXL); CPU offload would need both "
                "through vLLM's MultiConnector, which this stack does not render",
                "set kvOffload.cpuGib: 0, or disable disaggregation",
            )
        yield from _role_pool_problems(cfg, path, model)
        yield from _transport_problems(cfg, path, model)


def check_kv_offload(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """CPU KV offload: a model with a KV cache, and a memory request that holds vLLM, the buffer and /dev/shm."""
    for i, model in enumerate(cfg.serving.models):
        gib = model.kv_offload.cpu_gib
        if not gib:
            continue
        path = f"serving.models[{i}].kvOffload.cpuGib"
        if model.role == "embedding":
            yield Problem(path, "an embedding model keeps no KV cache to offload", "set kvOffload.cpuGib: 0")
            continue
        pool = cfg.pool(model.pool)
        if pool is None:
            continue  # reported by the model checks
        try:
            served = served_model(cfg, model)
        except UriError:
            continue  # reported by the model-source checks
        if host_memory_fits(served):
            continue
        need = host_memory_needed_gib(model)
        memory = replica_memory_gib(served)
        node = f"; its node has {served.instance.memory_gb:.0f} GB" if served.instance else ""
        yield Problem(
            path,
            f"{gib} GiB of offloaded KV blocks + vLLM's own host memory need {need} GiB per replica, but the "
            f"replica's memory request is {memory:.0f} GiB{node}",
            f"lower cpuGib to at most {max(0, int(memory or 0) - (need - gib))}, raise the model's memory, or use a "
            "pool with more memory per GPU",
        )
