"""Resolve the serving config against the cluster: per model, where it runs and with what resources.

Pure functions over StackConfig, the catalog and ClusterOutputs' placements; the component code only wires
what these return.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from components.cluster.base import Placement
from components.serving import gateway
from components.serving.engine import model_source
from components.serving.network import GKE_HEALTH_CHECK_CIDRS, Clients
from components.serving.pod import DEFAULT_CPU, DEFAULT_MEMORY, default_requests
from stacks import catalog, memory, preflight
from stacks.config import StackConfig
from stacks.config.serving import ModelConfig

FALLBACK_WEIGHTS_GB = 16.0
"""Startup budget and cache size for a model of unknown shape (preflight requires one for GPU models)."""


@dataclass(frozen=True)
class ResolvedModel:
    config: ModelConfig
    placement: Placement
    cpu: str
    memory: str
    weights_gb: float


def weights_gb(model: ModelConfig) -> float:
    shape = preflight.model_shape(model)
    return memory.weights_gb(shape, model.precision) if shape else FALLBACK_WEIGHTS_GB


def requests_for(cfg: StackConfig, model: ModelConfig) -> tuple[str, str]:
    """The configured CPU/memory, else the model's share of its pool's node (catalog), else fixed defaults."""
    pool = cfg.pool(model.pool)
    cpu, mem = DEFAULT_CPU, DEFAULT_MEMORY
    if pool is not None and cfg.cloud != "existing":
        spec = catalog.instances(cfg.cloud).get(pool.instance_type)
        if spec is not None and spec.gpu_count:
            cpu, mem = default_requests(spec.vcpus, spec.memory_gb, spec.gpu_count, model.tensor_parallel)
    return model.cpu or cpu, model.memory or mem


def resolve_model(cfg: StackConfig, model: ModelConfig, gpu_pools: dict[str, Placement]) -> ResolvedModel:
    if model.pool not in gpu_pools:
        raise KeyError(
            f"serving model {model.name!r}: pool {model.pool!r} is not a GPU pool of the cluster "
            f"({', '.join(gpu_pools) or 'none'})"
        )
    cpu, mem = requests_for(cfg, model)
    return ResolvedModel(
        config=model, placement=gpu_pools[model.pool], cpu=cpu, memory=mem, weights_gb=weights_gb(model)
    )


def gateway_class(cfg: StackConfig) -> str | None:
    """The GatewayClass of llm-d mode (None when it is not set and no default exists: a preflight error)."""
    configured = cfg.serving.inference_gateway.class_name
    if configured is not None:
        return configured
    return gateway.GKE_DEFAULT_CLASS if cfg.cloud == "gcp" else None


def gateway_address(cfg: StackConfig, class_name: str) -> str:
    """Where in-cluster clients reach the Gateway: a fixed internal IP of the cluster subnet on GKE, else the
    Service the implementation creates for the Gateway."""
    configured = cfg.serving.inference_gateway.address
    if configured is not None:
        return configured
    if gateway.is_gke_class(class_name):
        subnet = ipaddress.ip_network(cfg.cluster.gcp.subnet_cidr)
        return str(subnet.broadcast_address - 5)
    return f"{gateway.GATEWAY_NAME}-{class_name}.{cfg.serving.namespace}.svc.cluster.local"


def install_inference_crds(cfg: StackConfig) -> bool:
    configured = cfg.serving.inference_gateway.install_crds
    return configured if configured is not None else cfg.cloud != "gcp"


def service_monitors_on(cfg: StackConfig) -> bool:
    configured = cfg.serving.monitoring.service_monitor
    return configured if configured is not None else cfg.serving.autoscaling.enabled


def clients(cfg: StackConfig) -> Clients:
    s = cfg.serving
    cidrs: tuple[str, ...] = ()
    klass = gateway_class(cfg)
    if s.mode == "llm-d" and klass is not None and gateway.is_gke_class(klass):
        cidrs = (s.inference_gateway.proxy_subnet_cidr, *GKE_HEALTH_CHECK_CIDRS)
    return Clients(
        app_namespace=cfg.platform.namespace,
        jobs_namespace=cfg.jobs.namespace,
        serving_namespace=s.namespace,
        prometheus_namespace=s.monitoring.prometheus_namespace,
        gateway_cidrs=cidrs,
    )


def needs_hf_token(cfg: StackConfig) -> bool:
    return any(model_source(m).kind == "huggingface" and not m.quantize_from for m in cfg.serving.models)


def fallbacks(cfg: StackConfig) -> dict[str, str]:
    cpu = cfg.serving.cpu_tier
    return {name: cpu.name for name in cpu.fallback_for} if cpu.enabled else {}
