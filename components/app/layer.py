"""Wire the app layer of a stack: the LiteLLM gateway in front of the served models, and the RAG app.

Inputs are the serving layer's contract (`ServingEndpoints`: its stack outputs `openaiBaseUrls`,
`servingFallbacks` and `apiKey`, see components.serving.layer.stack_outputs) and the data layer. The gateway
routes every chat and embedding model (GPU models fall back to the CPU tier where cpuTier.fallbackFor says
so) and caches in Redis; the app reaches models only through the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.app.deployment import RagApp, RagAppArgs, Shield
from components.app.gateway_deployment import Gateway, GatewayArgs, UpstreamSpec
from components.cluster.base import ClusterOutputs
from components.data.kube import APP_POD_LABELS, Peer, SecretRef
from components.data.layer import DataLayer, storage_class
from components.serving.labels import BENCHMARK_JOB_LABELS
from stacks.config import StackConfig


@dataclass(frozen=True)
class ServingEndpoints:
    """What the app layer needs from the serving layer."""

    base_urls: Mapping[str, pulumi.Input[str | None]]
    """Served model name -> OpenAI-compatible base URL (llm-d: the inference gateway's, once assigned)."""
    fallbacks: Mapping[str, str]
    """Served model name -> the CPU-tier model its requests fall back to."""
    api_key: pulumi.Input[str]
    """Secret: the Bearer key every model server expects."""

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> ServingEndpoints:
        """From the serving layer's stack outputs (components.serving.layer.stack_outputs)."""
        missing = [k for k in ("openaiBaseUrls", "servingFallbacks", "apiKey") if k not in outputs]
        if missing:
            raise KeyError(f"the serving layer's outputs lack {missing}: build the serving layer first")
        return cls(
            base_urls=outputs["openaiBaseUrls"], fallbacks=outputs["servingFallbacks"], api_key=outputs["apiKey"]
        )


@dataclass
class AppLayer:
    gateway: Gateway
    app: RagApp


def roles(cfg: StackConfig) -> dict[str, str]:
    """Served model name -> role; the CPU tier is a chat model."""
    out: dict[str, str] = {m.name: m.role for m in cfg.serving.models}
    if cfg.serving.cpu_tier.enabled:
        out[cfg.serving.cpu_tier.name] = "chat"
    return out


def upstream_specs(
    cfg: StackConfig, base_urls: Mapping[str, pulumi.Input[str | None]], fallbacks: Mapping[str, str]
) -> list[UpstreamSpec]:
    """Every chat and embedding model behind the gateway, with its CPU-tier fallback. Safety models are not
    routed: they are called for moderation only."""
    role = roles(cfg)
    return [
        UpstreamSpec(
            name=name,
            base_url=url,
            kind="embedding" if role.get(name) == "embedding" else "chat",
            fallback=fallbacks.get(name),
        )
        for name, url in base_urls.items()
        if role.get(name, "chat") != "safety"
    ]


def embedding_model(cfg: StackConfig, routed: Sequence[str]) -> str:
    """The served name of the embedding model the app uses: the one whose Hugging Face id is
    platform.app.embeddingModel, else the first one served; platform.app.embeddingModel when none is."""
    wanted = cfg.platform.app.embedding_model
    embedders = [m for m in cfg.serving.models if m.role == "embedding" and m.name in routed]
    exact = [m.name for m in embedders if m.id == wanted]
    return (exact or [m.name for m in embedders] or [wanted])[0]


def shield(moderation_url: str | None, key: SecretRef | None) -> Shield | None:
    """OGX 1.5.0's guardrails call an OpenAI-compatible /v1/moderations endpoint only; a Llama Guard served
    as a chat model (role: safety) needs such an endpoint in front of it before the app can use it."""
    return Shield(moderation_url=moderation_url, key=key) if moderation_url else None


def build_app_layer(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    data: DataLayer,
    serving: ServingEndpoints,
    opts: pulumi.ResourceOptions,
    moderation_url: str | None = None,
) -> AppLayer | None:
    """The gateway and the app; None (with a warning naming the fix) when no chat model is served."""
    platform = cfg.platform
    ns = platform.namespace
    waits: list[pulumi.Resource] = [data.milvus, data.redis]
    routes = upstream_specs(cfg, serving.base_urls, serving.fallbacks)
    if not any(u.kind == "chat" for u in routes):
        pulumi.log.warn(
            "no chat model is served, so the gateway and the RAG app are left out; add "
            "serving.models[] with role: chat, or set serving.cpuTier.enabled: true"
        )
        return None
    benchmark = Peer(cfg.jobs.namespace, BENCHMARK_JOB_LABELS)
    gateway = Gateway(
        name,
        GatewayArgs(
            config=platform.gateway,
            namespace=ns,
            placement=cluster.system,
            upstreams=routes,
            upstream_api_key=serving.api_key,
            redis_host=data.redis.host,
            redis_port=data.redis.port,
            redis_password=data.redis.password_ref,
            clients=[Peer(ns, APP_POD_LABELS), benchmark],
            depends_on=waits,
        ),
        opts=opts,
    )
    chat = [u.name for u in routes if u.kind == "chat"]
    app = RagApp(
        name,
        RagAppArgs(
            config=platform.app,
            namespace=ns,
            placement=cluster.system,
            gateway_url=gateway.base_url,
            gateway_key=gateway.master_key_ref,
            chat_models=chat,
            embedding_model=embedding_model(cfg, [u.name for u in routes]),
            milvus_uri=data.milvus.uri,
            milvus_token=data.milvus.token_ref,
            redis_host=data.redis.host,
            redis_port=data.redis.port,
            redis_password=data.redis.password_ref,
            shield=shield(moderation_url, gateway.upstream_key_ref),
            clients=[benchmark],
            storage_class=storage_class(cfg),
            depends_on=[*waits, gateway],
        ),
        opts=opts,
    )
    return AppLayer(gateway=gateway, app=app)


def data_app_outputs(data: DataLayer, layer: AppLayer | None) -> dict[str, Any]:
    """Stack outputs of the data and app layers; credentials are secret outputs."""
    outputs: dict[str, Any] = {
        "milvusUri": data.milvus.uri,
        "milvusToken": data.milvus.token,
        "redisUrl": data.redis.url,
    }
    if layer is None:
        return outputs
    outputs.update(
        {
            "gatewayBaseUrl": layer.gateway.base_url,
            "gatewayMasterKey": layer.gateway.master_key,
            "ragAppUrl": layer.app.base_url,
            "ragAppApiKey": layer.app.api_key,
        }
    )  # None when platform.app.auth is off
    return outputs
