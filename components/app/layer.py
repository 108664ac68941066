"""The app layer of a stack: the LiteLLM gateway in front of the served models, and the RAG app behind it.

Inputs are the typed outputs of the layers below (`ServingOutputs`, `DataOutputs`). The gateway routes every
chat and embedding model (GPU models fall back to the CPU tier where cpuTier.fallbackFor says so) and caches in
Redis; the app reaches models only through the gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import kube
from components.app.deployment import RagApp, RagAppArgs, Shield
from components.app.gateway_deployment import Gateway, GatewayArgs, UpstreamSpec
from components.cluster.base import ClusterOutputs
from components.data import DataOutputs
from components.kube import SecretRef
from components.serving import ServingOutputs
from stacks.config.platform import PlatformConfig


@dataclass(frozen=True)
class AppOutputs:
    """Where clients reach the gateway and the app, and the keys they need (secrets)."""

    gateway_base_url: str
    gateway_master_key: pulumi.Output[str]
    """Secret: the gateway's master key (sk-...)."""
    rag_app_url: str
    rag_app_api_key: pulumi.Output[str] | None
    """Secret: the Bearer token of the app's API; None when platform.app.auth is off."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "gatewayBaseUrl": self.gateway_base_url,
            "gatewayMasterKey": self.gateway_master_key,
            "ragAppUrl": self.rag_app_url,
            "ragAppApiKey": self.rag_app_api_key,
        }


def upstream_specs(serving: ServingOutputs) -> list[UpstreamSpec]:
    """Every chat and embedding model behind the gateway, with its CPU-tier fallback. Safety models are not
    routed: they are called for moderation only."""
    role = serving.roles
    return [
        UpstreamSpec(
            name=name,
            base_url=url,
            kind="embedding" if role.get(name) == "embedding" else "chat",
            fallback=serving.fallbacks.get(name),
        )
        for name, url in serving.openai_base_urls.items()
        if role.get(name, "chat") != "safety"
    ]


def embedding_model(wanted: str, serving: ServingOutputs, routed: Sequence[str]) -> str:
    """The served name of the embedding model the app uses: the one whose Hugging Face id is `wanted`
    (platform.app.embeddingModel), else the first one served; `wanted` itself when none is."""
    embedders = [n for n, role in serving.roles.items() if role == "embedding" and n in routed]
    exact = [n for n in embedders if serving.model_ids.get(n) == wanted]
    return (exact or embedders or [wanted])[0]


def shield(moderation_url: str | None, key: SecretRef | None) -> Shield | None:
    """OGX 1.5.0's guardrails call an OpenAI-compatible /v1/moderations endpoint only; a Llama Guard served
    as a chat model (role: safety) needs such an endpoint in front of it before the app can use it."""
    return Shield(moderation_url=moderation_url, key=key) if moderation_url else None


@dataclass
class AppLayerArgs:
    config: PlatformConfig
    """The platform slice: the app and gateway settings and the platform namespace."""
    cluster: ClusterOutputs
    """Where the pods run (the system pool) and what they wait for."""
    jobs_namespace: str
    """The benchmark Job's pods there may call the gateway and the app."""
    serving: ServingOutputs
    data: DataOutputs
    data_ready: Sequence[pulumi.Resource]
    """Milvus and Redis: the gateway and the app start after them."""
    storage_class: str | None
    """StorageClass of the app's data volume; None uses the cluster's default."""
    moderation_url: str | None = None
    """An OpenAI-compatible /v1/moderations endpoint for the app's shield (none yet: see `shield`)."""
    scraper: kube.Peer | None = None
    """The Prometheus pods that scrape the gateway's and the app's metrics ports (the monitoring layer's)."""


class AppLayer(pulumi.ComponentResource):
    """The gateway and the app; neither (with a warning naming the fix) when no chat model is served."""

    outputs: AppOutputs | None
    """None when no chat model is served."""
    gateway: Gateway | None
    app: RagApp | None

    def __init__(self, name: str, args: AppLayerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:app:AppLayer", name, None, opts)
        platform = args.config
        ns = platform.namespace
        waits = list(args.data_ready)
        routes = upstream_specs(args.serving)
        self.outputs, self.gateway, self.app = None, None, None
        if not any(u.kind == "chat" for u in routes):
            pulumi.log.warn(
                "no chat model is served, so the gateway and the RAG app are left out; add "
                "serving.models[] with role: chat, or set serving.cpuTier.enabled: true"
            )
            self.register_outputs({})
            return
        # The gateway and the app were created at the stack's root before this layer existed: the alias keeps
        # their URNs, so `pulumi up` on an existing stack moves them under the layer instead of replacing them.
        child = pulumi.ResourceOptions(
            parent=self, depends_on=list(args.cluster.ready), aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
        )
        benchmark = kube.Peer(args.jobs_namespace, kube.BENCHMARK_JOB_POD_LABELS)
        self.gateway = Gateway(
            name,
            GatewayArgs(
                config=platform.gateway,
                namespace=ns,
                placement=args.cluster.system,
                upstreams=routes,
                upstream_api_key=args.serving.api_key,
                redis=args.data.redis,
                clients=[kube.Peer(ns, kube.APP_POD_LABELS), benchmark],
                scraper=args.scraper,
                depends_on=waits,
            ),
            opts=child,
        )
        chat = [u.name for u in routes if u.kind == "chat"]
        self.app = RagApp(
            name,
            RagAppArgs(
                config=platform.app,
                namespace=ns,
                placement=args.cluster.system,
                gateway_url=self.gateway.base_url,
                gateway_key=self.gateway.master_key_ref,
                chat_models=chat,
                embedding_model=embedding_model(platform.app.embedding_model, args.serving, [u.name for u in routes]),
                milvus=args.data.milvus,
                redis=args.data.redis,
                shield=shield(args.moderation_url, self.gateway.upstream_key_ref),
                clients=[benchmark],
                scraper=args.scraper,
                storage_class=args.storage_class,
                depends_on=[*waits, self.gateway],
            ),
            opts=child,
        )
        self.outputs = AppOutputs(
            gateway_base_url=self.gateway.base_url,
            gateway_master_key=self.gateway.master_key,
            rag_app_url=self.app.base_url,
            rag_app_api_key=self.app.api_key,
        )
        self.register_outputs(self.outputs.as_dict())
