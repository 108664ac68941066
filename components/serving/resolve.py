"""Resolve the serving config against the rest of the stack: the inference gateway's class, address and CRDs,
who may call the model servers, the Hugging Face token and the CPU-tier fallbacks.

Pure functions over the serving config slice, the resolved models and `ServingSite`; the components only
wire what these return.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from components import kube
from components.cluster.base import Placement
from components.serving import gateway
from components.serving.clients import GKE_HEALTH_CHECK_CIDRS, Clients
from stacks.config.cluster import CloudName
from stacks.config.serving import ModelRole, ServingConfig
from stacks.models import ServedModel


@dataclass(frozen=True)
class ServingSite:
    """What the serving layer needs to know about the rest of the stack."""

    cloud: CloudName
    region: str
    """Set as AWS_REGION on pods that stream weights from S3."""
    cluster_subnet_cidr: str
    """GKE: the cluster subnet, where the internal inference gateway takes its default address."""
    app_namespace: str
    """Its pods (the RAG app and the gateway) call the model servers."""
    jobs_namespace: str
    """The benchmark Job's pods there call the model servers."""
    prometheus_url: str | None = None
    """Where KEDA's triggers query Prometheus (the monitoring layer's); None without one."""
    scraper: kube.Peer | None = None
    """The Prometheus pods that scrape the model servers and endpoint pickers (NetworkPolicy)."""


def placement(model: ServedModel, gpu_pools: dict[str, Placement]) -> Placement:
    """The GPU pool a model runs on (preflight makes sure it is one)."""
    pool = model.config.pool
    if pool not in gpu_pools:
        raise KeyError(
            f"serving model {model.name!r}: pool {pool!r} is not a GPU pool of the cluster "
            f"({', '.join(gpu_pools) or 'none'})"
        )
    return gpu_pools[pool]


def gateway_class(config: ServingConfig, site: ServingSite) -> str | None:
    """The GatewayClass of llm-d mode (None when it is not set and no default exists: a preflight error)."""
    configured = config.inference_gateway.class_name
    if configured is not None:
        return configured
    return gateway.GKE_DEFAULT_CLASS if site.cloud == "gcp" else None


def gateway_address(config: ServingConfig, site: ServingSite, class_name: str) -> str:
    """Where in-cluster clients reach the Gateway: a fixed internal IP of the cluster subnet on GKE, else the
    Service the implementation creates for the Gateway."""
    configured = config.inference_gateway.address
    if configured is not None:
        return configured
    if gateway.is_gke_class(class_name):
        subnet = ipaddress.ip_network(site.cluster_subnet_cidr)
        return str(subnet.broadcast_address - 5)
    return f"{gateway.GATEWAY_NAME}-{class_name}.{config.namespace}.svc.cluster.local"


def install_inference_crds(config: ServingConfig, site: ServingSite) -> bool:
    configured = config.inference_gateway.install_crds
    return configured if configured is not None else site.cloud != "gcp"


def clients(config: ServingConfig, site: ServingSite) -> Clients:
    cidrs: tuple[str, ...] = ()
    klass = gateway_class(config, site)
    if config.mode == "llm-d" and klass is not None and gateway.is_gke_class(klass):
        cidrs = (config.inference_gateway.proxy_subnet_cidr, *GKE_HEALTH_CHECK_CIDRS)
    return Clients(
        app_namespace=site.app_namespace,
        jobs_namespace=site.jobs_namespace,
        serving_namespace=config.namespace,
        scraper=site.scraper,
        gateway_cidrs=cidrs,
    )


def needs_hf_token(models: Sequence[ServedModel]) -> bool:
    """A model server downloads from the Hugging Face Hub (the token also lifts anonymous rate limits)."""
    return any(m.source.kind == "huggingface" for m in models)


def fallbacks(config: ServingConfig) -> dict[str, str]:
    """Served model name -> the CPU-tier model its requests fall back to."""
    cpu = config.cpu_tier
    return {name: cpu.name for name in cpu.fallback_for} if cpu.enabled else {}


def served_roles(config: ServingConfig) -> dict[str, ModelRole]:
    """Served model name -> role, in serving order; the CPU tier is a chat model."""
    out: dict[str, ModelRole] = {m.name: m.role for m in config.models}
    if config.cpu_tier.enabled:
        out[config.cpu_tier.name] = "chat"
    return out


def primary_model(config: ServingConfig) -> str:
    """The model clients get by default: the first chat model, else the CPU tier, else the first model."""
    chat = [m.name for m in config.models if m.role == "chat"]
    if chat:
        return chat[0]
    if config.cpu_tier.enabled:
        return config.cpu_tier.name
    return config.models[0].name
