"""The app layer of a stack: the LiteLLM gateway in front of the served models, the RAG app behind it, and the
moderation service in front of the safety model.

Inputs are the typed outputs of the layers below (`ServingOutputs`, `DataOutputs`). The gateway routes every
chat and embedding model (GPU models fall back to the CPU tier where cpuTier.fallbackFor says so) and caches in
Redis; the app reaches models only through the gateway. When the stack serves a `role: safety` model, the
moderation service puts it on the request path of both: the gateway's `llama-guard` guardrail and the app's
moderation_endpoint call it, and both refuse when it flags a request or cannot answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube
from components.app.client_keys import ClientKeys
from components.app.deployment import API_KEY_SECRET, RagApp, RagAppArgs
from components.app.exposure import ExposureSite
from components.app.gateway_deployment import Gateway, GatewayArgs, UpstreamSpec
from components.app.moderation import Moderation, ModerationArgs, ModerationEndpoint
from components.app.ogx_config import EMBEDDING_PROVIDER_ID
from components.cluster.base import ClusterOutputs
from components.data import DataOutputs
from components.kube import SecretRef
from components.serving import ServingOutputs
from stacks.config.images import WorkloadImages
from stacks.config.platform import PlatformConfig


@dataclass(frozen=True)
class AppOutputs:
    """Where clients reach the gateway and the app, and the keys they need (secrets)."""

    gateway_url: pulumi.Output[str]
    """What a client outside the cluster uses (.../v1): the exposure's URL, the in-cluster one when not exposed."""
    gateway_in_cluster_url: str
    gateway_master_key: pulumi.Output[str]
    """Secret: the gateway's master key (sk-...): the operator's, never a client's (clients get `client_keys`)."""
    rag_app_url: pulumi.Output[str]
    """What a client outside the cluster uses (.../v1), like `gateway_url`."""
    rag_app_in_cluster_url: str
    """The app's Service (.../v1): the ingest and benchmark Jobs call it."""
    client_keys: pulumi.Output[dict[str, str]] | None
    """Secret: client name -> its key (platform.clients); None without clients."""
    dns_records: pulumi.Output[dict[str, str]]
    """Each exposed endpoint's hostname -> the load balancer address it should resolve to."""
    rag_app_api_key: pulumi.Output[str] | None
    """Secret: the Bearer token of the app's API; None when platform.app.auth is off."""
    rag_app_api_key_ref: SecretRef | None
    """The app's API key Secret in the platform namespace (None when auth is off), for clients' copies."""
    vector_store_name: str
    """The app's vector store: the ingest Job creates or finds it by this name, clients find it by name."""
    embedding_model: str
    """OGX's id of the model the app embeds queries with (`embeddings/<served name>`): the store's model."""
    moderation_url: str | None
    """The moderation service's base URL (in-cluster); None when the stack serves no safety model."""
    default_chat_model: str | None
    """The gateway's first chat route (a served name; the app lists it as `vllm/<name>`): the model clients are
    told to ask (`leanrag client-env`); None when the stack serves no chat model."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "gatewayUrl": self.gateway_url,
            "gatewayInClusterUrl": self.gateway_in_cluster_url,
            "gatewayBaseUrl": self.gateway_url,  # the name before exposure existed: kept, same value
            "gatewayMasterKey": self.gateway_master_key,
            "ragAppUrl": self.rag_app_url,
            "ragAppInClusterUrl": self.rag_app_in_cluster_url,
            "ragAppApiKey": self.rag_app_api_key,
            # always secret, {} without clients: `pulumi stack output --json` shows "[secret]" either way
            "clientKeys": self.client_keys if self.client_keys is not None else pulumi.Output.secret({}),
            "dnsRecords": self.dns_records,
            "vectorStoreName": self.vector_store_name,
            "ragAppEmbeddingModel": self.embedding_model,
            "moderationUrl": self.moderation_url,
            "defaultChatModel": self.default_chat_model,
        }


def dns_records(named: Sequence[tuple[str | None, pulumi.Output[str]]]) -> pulumi.Output[dict[str, str]]:
    """hostname -> address for each exposed endpoint with a hostname (the records its DNS zone needs)."""
    pairs = [(host, address) for host, address in named if host]
    return pulumi.Output.all(*[a for _, a in pairs]).apply(
        lambda addresses: {host: a for (host, _), a in zip(pairs, addresses, strict=True) if a}
    )


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
    """The served name of the embedding model the app uses: the stack's embedding model
    (`ServingOutputs.embedding`, the one the ingest Job's documents are embedded like) when the gateway routes it,
    else the one whose Hugging Face id is `wanted` (platform.app.embeddingModel), else the first one served;
    `wanted` itself when none is."""
    if serving.embedding is not None and serving.embedding.model in routed:
        return serving.embedding.model
    embedders = [n for n, role in serving.roles.items() if role == "embedding" and n in routed]
    exact = [n for n in embedders if serving.model_ids.get(n) == wanted]
    return (exact or embedders or [wanted])[0]


def safety_model(serving: ServingOutputs) -> str | None:
    """The served name of the safety model the moderation service calls: the first `role: safety` model in
    serving order (GPU models, then the CPU one); None when none is served."""
    return next((n for n, role in serving.roles.items() if role == "safety" and n in serving.openai_base_urls), None)


def moderation_on(config: PlatformConfig, serving: ServingOutputs) -> bool:
    """platform.moderation.enabled, or (unset) whether a safety model is served. Preflight refuses `true`
    without one; here that is an error too, never a silently unguarded stack."""
    wanted = config.moderation.enabled
    served = safety_model(serving) is not None
    if wanted and not served:
        raise ValueError(
            "platform.moderation.enabled is true but no safety model is served; add serving.models[] with "
            "role: safety or set serving.cpuSafety.enabled: true"
        )
    return served if wanted is None else wanted


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
    images: WorkloadImages
    """Where the moderation image is pulled from."""
    ingest_enabled: bool
    """The ingest Job's pods (jobs namespace) may call the app to write its vector store."""
    scraper: kube.Peer | None = None
    """The Prometheus pods that scrape the gateway's and the app's metrics ports (the monitoring layer's)."""
    site: ExposureSite = field(default_factory=lambda: ExposureSite("existing"))
    """Where the stack runs: how the gateway's and the app's exposure are rendered."""


class AppLayer(pulumi.ComponentResource):
    """The gateway and the app; neither (with a warning naming the fix) when no chat model is served."""

    outputs: AppOutputs | None
    """None when no chat model is served."""
    gateway: Gateway | None
    app: RagApp | None
    """The ingest Job waits for it (its Deployment ready)."""
    moderation: Moderation | None
    client_keys: ClientKeys | None

    def __init__(self, name: str, args: AppLayerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:app:AppLayer", name, None, opts)
        platform = args.config
        ns = platform.namespace
        waits = list(args.data_ready)
        routes = upstream_specs(args.serving)
        self.outputs, self.gateway, self.app, self.moderation = None, None, None, None
        self.client_keys = None
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
        app_peer, gateway_peer = kube.Peer(ns, kube.APP_POD_LABELS), kube.Peer(ns, kube.GATEWAY_POD_LABELS)
        endpoint: ModerationEndpoint | None = None
        guarded: list[pulumi.Resource] = []
        safety = safety_model(args.serving)
        if moderation_on(platform, args.serving) and safety is not None:
            self.moderation = Moderation(
                name,
                ModerationArgs(
                    config=platform.moderation,
                    namespace=ns,
                    placement=args.cluster.system,
                    image=args.images.image("moderation"),
                    safety_model=safety,
                    safety_base_url=args.serving.openai_base_urls[safety],
                    safety_api_key=args.serving.api_key,
                    clients=[app_peer, gateway_peer],
                    scraper=args.scraper,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready)),
            )
            endpoint, guarded = self.moderation.endpoint, [self.moderation.key_secret]
        if platform.clients:
            self.client_keys = ClientKeys(
                name,
                platform.clients,
                ns,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready)),
            )
        self.gateway = Gateway(
            name,
            GatewayArgs(
                config=platform.gateway,
                namespace=ns,
                placement=args.cluster.system,
                upstreams=routes,
                upstream_api_key=args.serving.api_key,
                redis=args.data.redis,
                clients=[app_peer, benchmark],
                moderation=endpoint,
                scraper=args.scraper,
                site=args.site,
                client_keys=self.client_keys,
                depends_on=[*waits, *guarded],
            ),
            opts=child,
        )
        chat = [u.name for u in routes if u.kind == "chat"]
        embedder = embedding_model(platform.app.embedding_model, args.serving, [u.name for u in routes])
        app_clients = [benchmark]
        if args.ingest_enabled:
            app_clients.append(kube.Peer(args.jobs_namespace, kube.INGEST_JOB_POD_LABELS))
        self.app = RagApp(
            name,
            RagAppArgs(
                config=platform.app,
                namespace=ns,
                placement=args.cluster.system,
                gateway_url=self.gateway.base_url,
                gateway_key=self.gateway.master_key_ref,
                chat_models=chat,
                embedding_model=embedder,
                milvus=args.data.milvus,
                moderation=endpoint,
                clients=app_clients,
                scraper=args.scraper,
                storage_class=args.storage_class,
                site=args.site,
                client_keys=self.client_keys,
                depends_on=[*waits, self.gateway, *guarded],
            ),
            opts=child,
        )
        self.outputs = AppOutputs(
            gateway_url=self.gateway.url,
            gateway_in_cluster_url=self.gateway.base_url,
            gateway_master_key=self.gateway.master_key,
            rag_app_url=self.app.url,
            rag_app_in_cluster_url=self.app.base_url,
            client_keys=self.client_keys.keys if self.client_keys else None,
            dns_records=dns_records(
                [
                    (platform.gateway.exposure.hostname, self.gateway.address),
                    (platform.app.exposure.hostname, self.app.address),
                ]
            ),
            rag_app_api_key=self.app.api_key,
            rag_app_api_key_ref=API_KEY_SECRET if platform.app.auth else None,
            vector_store_name=platform.app.vector_store,
            embedding_model=f"{EMBEDDING_PROVIDER_ID}/{embedder}",
            moderation_url=endpoint.base_url if endpoint else None,
            default_chat_model=chat[0] if chat else None,
        )
        self.register_outputs(self.outputs.as_dict())
