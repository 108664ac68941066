"""Resolve the serving config against the rest of the stack: the router (standalone or a Gateway: its class,
address and CRDs), who may call the model servers, the Hugging Face token and the CPU-tier fallbacks.

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
from stacks.serving_modes import RouterChoice, router_choice


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
    storage_class: str | None = None
    """Existing clusters: StorageClass of the model store's claim (None: the cluster's default)."""
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


def router(config: ServingConfig, site: ServingSite) -> RouterChoice:
    """The router of llm-d and KServe modes (standalone, or a Gateway implementation and its class)."""
    return router_choice(config, site.cloud)


def gateway_class(config: ServingConfig, site: ServingSite) -> str | None:
    """The GatewayClass of the gateway router (None for the standalone router, or an external implementation
    without className: a preflight error)."""
    return router(config, site).class_name


def gateway_address(config: ServingConfig, site: ServingSite, class_name: str) -> str:
    """Where in-cluster clients reach the Gateway: a fixed internal IP of the cluster subnet on GKE, else the
    Service the implementation creates for the Gateway (agentgateway names it after the Gateway; an external
    implementation is assumed to follow Istio's <gateway>-<class>)."""
    configured = config.inference_gateway.address
    if configured is not None:
        return configured
    if gateway.is_gke_class(class_name):
        subnet = ipaddress.ip_network(site.cluster_subnet_cidr)
        return str(subnet.broadcast_address - 5)
    if router(config, site).implementation == "agentgateway":
        return f"{gateway.GATEWAY_NAME}.{config.namespace}.svc.cluster.local"
    return f"{gateway.GATEWAY_NAME}-{class_name}.{config.namespace}.svc.cluster.local"


def install_inference_crds(config: ServingConfig, site: ServingSite) -> bool:
    """GKE with the Gateway API enabled installs and upgrades both CRD sets (1.34+); elsewhere the stack does."""
    configured = config.inference_gateway.install_crds
    return configured if configured is not None else site.cloud != "gcp"


GATEWAY_POD_LABEL = "gateway.networking.k8s.io/gateway-name"
"""The label Gateway API implementations (agentgateway, Istio) put on a Gateway's proxy pods."""


def clients(config: ServingConfig, site: ServingSite) -> Clients:
    cidrs: tuple[str, ...] = ()
    gateway_pods: dict[str, str] | None = None
    klass = gateway_class(config, site) if config.mode != "vllm" else None
    if klass is not None and gateway.is_gke_class(klass):
        cidrs = (config.inference_gateway.proxy_subnet_cidr, *GKE_HEALTH_CHECK_CIDRS)
    elif klass is not None:
        gateway_pods = {GATEWAY_POD_LABEL: gateway.GATEWAY_NAME}
    return Clients(
        app_namespace=site.app_namespace,
        jobs_namespace=site.jobs_namespace,
        serving_namespace=config.namespace,
        scraper=site.scraper,
        gateway_cidrs=cidrs,
        gateway_pods=gateway_pods,
    )


def fallbacks(config: ServingConfig) -> dict[str, str]:
    """Served model name -> the CPU-tier model its requests fall back to."""
    cpu = config.cpu_tier
    return {name: cpu.name for name in cpu.fallback_for} if cpu.enabled else {}


def served_roles(config: ServingConfig) -> dict[str, ModelRole]:
    """Served model name -> role, in serving order; the CPU tier is a chat model, the CPU safety model a safety
    model."""
    out: dict[str, ModelRole] = {m.name: m.role for m in config.models}
    if config.embedding.enabled:
        out[config.embedding.name] = "embedding"
    if config.reranker.enabled:
        out[config.reranker.name] = "reranker"
    if config.cpu_tier.enabled:
        out[config.cpu_tier.name] = "chat"
    if config.cpu_safety.enabled:
        out[config.cpu_safety.name] = "safety"
    return out


def first_with(models: Sequence[ServedModel], key: str, role: ModelRole) -> ServedModel | None:
    """The model of config section `key` (serving.embedding, serving.reranker), else the first serving.models[]
    entry with `role`."""
    return next((m for m in models if m.key == key), None) or next((m for m in models if m.config.role == role), None)


def primary_model(config: ServingConfig) -> str | None:
    """The model clients get by default: the first chat model, else the CPU tier, else the first model (None when
    only the embedding and reranker sections are served)."""
    chat = [m.name for m in config.models if m.role == "chat"]
    if chat:
        return chat[0]
    if config.cpu_tier.enabled:
        return config.cpu_tier.name
    return config.models[0].name if config.models else None
