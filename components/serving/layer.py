"""The serving layer of a stack: every model server, the CPU tier, and in llm-d mode the inference gateway.

`ModelServing` takes the serving config slice, the resolved models (`stacks.models.served_models`), where it
runs (`ServingSite`, `ClusterOutputs`) and the quantize Jobs' artifacts; it creates the shared pieces (API key,
KEDA, CRDs, dashboard), the prefetch Jobs that copy weights from the hub into the model store
(components/serving/prefetch.py, the only pods that get the Hugging Face token), and one server (and route) per
model: vLLM on GPU pools, text-embeddings-inference for embedding and reranker models on the system pool. It
exposes `ServingOutputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, ClusterOutputs
from components.serving import cpu_tier, crds, dashboard, monitoring, resolve
from components.serving.cpu_tier import CpuTierArgs, LlamaCppServer
from components.serving.gateway import InferenceGateway, InferenceGatewayArgs, ModelRoute, ModelRouteArgs
from components.serving.pod import API_KEY_KEY, VllmPodSpec
from components.serving.prefetch import PrefetchArgs, Prefetched, model_specs, prefetch_weights
from components.serving.resolve import ServingSite
from components.serving.text_embeddings import TextEmbeddingsArgs, TextEmbeddingsServer
from components.serving.vllm_server import VllmServer, VllmServerArgs
from components.serving.weights import LocalWeights, PrefetchTarget, local_weights
from stacks.config.serving import ModelRole, ServingConfig
from stacks.models import GgufWeights, ModelStore, Runtime, ServedModel
from stacks.uris import BucketUri, PvcUri

API_KEY_SECRET = "serving-api-key"
DASHBOARD_CONFIGMAP = "vllm-dashboard"


@dataclass(frozen=True)
class EmbeddingEndpoint:
    """The stack's embedding model: what the RAG app (OGX) and the ingest Job embed with."""

    model: str
    """Served model name: what clients send as `model`."""
    hub_id: str
    """The Hugging Face id (compare with platform.app.embeddingModel)."""
    dimension: int | None
    """Vector length (serving.embedding.dimension; None for a serving.models[] entry, which declares none)."""
    base_url: str
    """In-cluster OpenAI-compatible base URL: POST <base_url>/embeddings. Needs the serving API key (Bearer)."""
    runtime: Runtime
    """tei (CPU, system pool) or vllm (GPU pool)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hubId": self.hub_id,
            "dimension": self.dimension,
            "baseUrl": self.base_url,
            "runtime": self.runtime,
        }


@dataclass(frozen=True)
class RerankerEndpoint:
    """The stack's reranker (cross-encoder) for the second retrieval stage; None when none is served."""

    model: str
    hub_id: str
    rerank_url: str
    """In-cluster URL to POST a query and candidate passages to. Needs the serving API key (Bearer)."""
    api: Literal["tei", "cohere"]
    """The request shape at rerank_url. tei (text-embeddings-inference): {"query", "texts": [...]} ->
    [{"index", "score"}]. cohere (vLLM /v1/rerank, Cohere/Jina-compatible): {"model", "query", "documents":
    [...], "top_n"} -> {"results": [{"index", "relevance_score"}]}."""
    runtime: Runtime

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hubId": self.hub_id,
            "rerankUrl": self.rerank_url,
            "api": self.api,
            "runtime": self.runtime,
        }


@dataclass(frozen=True)
class ServingOutputs:
    """What the serving layer offers the layers above it and the stack outputs."""

    openai_base_url: str | None
    """The URL clients get by default: the first chat model's, else the CPU tier's, else the first model's."""
    openai_base_urls: dict[str, str]
    """Served model name -> in-cluster OpenAI-compatible base URL (llm-d: the inference gateway's)."""
    api_key: pulumi.Output[str]
    """Secret: the Bearer key every model server expects."""
    fallbacks: dict[str, str]
    """Served model name -> the CPU-tier model its requests fall back to."""
    roles: dict[str, ModelRole]
    """Served model name -> role (chat, safety, embedding); the CPU tier is a chat model."""
    model_ids: dict[str, str]
    """Model name (GPU and text-embeddings-inference servers) -> its Hugging Face id."""
    embedding: EmbeddingEndpoint | None = None
    """The embedding model the app and the ingest Job use (serving.embedding, else the first serving.models[]
    entry with role embedding); None when none is served."""
    reranker: RerankerEndpoint | None = None
    """The reranker (serving.reranker, else the first serving.models[] entry with role reranker); None when none
    is served (retrieval is then one stage). Not in openai_base_urls: its API is not OpenAI's."""

    @property
    def served_models(self) -> list[str]:
        return list(self.openai_base_urls)

    def as_dict(self) -> dict[str, Any]:
        return {
            "openaiBaseUrl": self.openai_base_url,
            "openaiBaseUrls": self.openai_base_urls,
            "servedModels": self.served_models,
            "apiKey": self.api_key,
            "fallbacks": self.fallbacks,
            "embedding": self.embedding.as_dict() if self.embedding else None,
            "reranker": self.reranker.as_dict() if self.reranker else None,
        }


@dataclass
class ModelServingArgs:
    config: ServingConfig
    models: Sequence[ServedModel]
    """serving.models, resolved (sources, shapes, node sizes)."""
    site: ServingSite
    cluster: ClusterOutputs
    """Placements of the system and GPU pools; what pods wait for (`ready`)."""
    namespace: pulumi.Resource
    """The serving Namespace: every object in it waits for it."""
    model_store_account: pulumi.Resource | None = None
    """The model-store ServiceAccount of the serving namespace (pods that stream from the bucket use it)."""
    hf_token: pulumi.Output[str] | None = None
    """Secret; only the prefetch Jobs get it (never a model server)."""
    store: ModelStore = field(default_factory=lambda: ModelStore(scheme=None, volume=None))
    """The stack's model store (stacks.models.model_store): where the prefetch Jobs write and servers read."""
    gguf: GgufWeights | None = None
    """The CPU tier's weights (stacks.models.cpu_tier_weights) when it is enabled."""
    quantized: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Served model name -> artifact prefix written by its quantize Job (models with quantizeFrom)."""
    quantize_jobs: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """Served model name -> its quantize Job: the model server is created only after the Job completed."""


class ModelServing(pulumi.ComponentResource):
    """Every model server of the stack, and the gateway in front of them in llm-d mode."""

    outputs: ServingOutputs
    servers: dict[str, VllmServer]
    """Served model name -> its vLLM server."""
    embedding_servers: dict[str, TextEmbeddingsServer]
    """Served model name -> its text-embeddings-inference server (embedding and reranker models on CPU)."""
    prefetched: Prefetched
    """The prefetch Jobs (model name -> Job) and where their copies are."""
    cpu_tier: LlamaCppServer | None
    gateway: InferenceGateway | None
    routes: dict[str, ModelRoute]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:ModelServing", name, None, opts)
        serving, site = args.config, args.site
        ns = serving.namespace
        cluster_ready = list(args.cluster.ready)
        ns_ready: list[pulumi.Resource] = [args.namespace, *cluster_ready]
        child = pulumi.ResourceOptions(parent=self, depends_on=ns_ready)

        key = random.RandomPassword(
            f"{name}-api-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        api_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
        key_secret = kube.secret(f"{name}-api-key", API_KEY_SECRET, ns, {API_KEY_KEY: key.result}, child)
        pod_deps: list[pulumi.Resource] = [*ns_ready, key_secret]
        if args.model_store_account is not None:
            pod_deps.append(args.model_store_account)
        store_deps = [*ns_ready, *([args.model_store_account] if args.model_store_account is not None else [])]
        self.prefetched = prefetch_weights(
            name,
            PrefetchArgs(
                specs=model_specs(args.models, args.gguf, serving.cpu_tier.name),
                target=PrefetchTarget(
                    model_store_uri=args.cluster.model_store_uri,
                    scheme=args.store.scheme,
                    volume=args.store.volume,
                    region=site.region,
                ),
                config=serving.prefetch,
                namespace=ns,
                placement=args.cluster.system,
                hf_token=args.hf_token,
                storage_class=site.storage_class,
                depends_on=store_deps,
            ),
            parent=self,
        )
        if self.prefetched.volume is not None:
            pod_deps.append(self.prefetched.volume)
        jobs = self.prefetched.jobs

        keda_ready: list[pulumi.Resource] = []
        if serving.autoscaling.enabled and serving.autoscaling.install_keda and serving.models:
            keda_ready = [
                crds.install_keda(
                    name,
                    args.cluster.system.node_selector,
                    pulumi.ResourceOptions(parent=self, depends_on=cluster_ready),
                )
            ]
        monitors = resolve.service_monitors_on(serving)
        monitor_labels = dict(serving.monitoring.service_monitor_labels)
        clients = resolve.clients(serving, site)

        self.servers = {}
        for model in [m for m in args.models if m.runtime == "vllm"]:
            quantized = args.quantized.get(model.name) or self.prefetched.prefixes.get(model.name)
            quantize_job = [args.quantize_jobs[model.name]] if model.name in args.quantize_jobs else []
            quantize_job += [jobs[model.name]] if model.name in jobs else []
            self.servers[model.name] = VllmServer(
                f"{name}-{model.name}",
                VllmServerArgs(
                    pod=VllmPodSpec(
                        model=model,
                        placement=resolve.placement(model, args.cluster.gpu_pools),
                        pre_stop_s=serving.pre_stop_s,
                        api_key_secret=API_KEY_SECRET,
                        service_account=MODEL_STORE_SERVICE_ACCOUNT if model.source.streamed else None,
                        extra_env={"AWS_REGION": site.region} if model.bucket_scheme == "s3" else {},
                        quantized=quantized,
                        pod_annotations=self.prefetched.annotations.get(model.name, {}),
                    ),
                    namespace=ns,
                    clients=clients,
                    autoscaling=serving.autoscaling,
                    service_monitor=monitors,
                    service_monitor_labels=monitor_labels,
                    keda_ready=keda_ready,
                    depends_on=[*pod_deps, *quantize_job],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.embedding_servers = {}
        for model in [m for m in args.models if m.runtime == "tei"]:
            self.embedding_servers[model.name] = TextEmbeddingsServer(
                f"{name}-{model.name}",
                TextEmbeddingsArgs(
                    model=model,
                    weights=self._local_weights(model, args),
                    namespace=ns,
                    placement=args.cluster.system,
                    api_key_secret=API_KEY_SECRET,
                    clients=clients,
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=[*pod_deps, *([jobs[model.name]] if model.name in jobs else [])],
                    pod_annotations=self.prefetched.annotations.get(model.name, {}),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.cpu_tier = None
        if serving.cpu_tier.enabled:
            cpu_name = serving.cpu_tier.name
            self.cpu_tier = LlamaCppServer(
                f"{name}-{cpu_name}",
                CpuTierArgs(
                    config=serving.cpu_tier,
                    weights=self._gguf_weights(args),
                    namespace=ns,
                    placement=args.cluster.system,
                    api_key_secret=API_KEY_SECRET,
                    clients=clients,
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=[*pod_deps, *([jobs[cpu_name]] if cpu_name in jobs else [])],
                    pod_annotations=self.prefetched.annotations.get(cpu_name, {}),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        roles = {m.name: m.config.role for m in args.models}
        urls: dict[str, str] = {m: s.base_url for m, s in self.servers.items() if roles[m] != "reranker"}
        urls.update({m: s.base_url for m, s in self.embedding_servers.items() if roles[m] != "reranker"})
        if self.cpu_tier is not None:
            urls[self.cpu_tier.service_name] = self.cpu_tier.base_url
        self.gateway = None
        self.routes = {}
        server_urls = {m: s.base_url for m, s in self.servers.items()}
        if serving.mode == "llm-d":
            gateway_url = self._llm_d(name, args, monitors, monitor_labels)
            # models behind the inference gateway; text-embeddings-inference servers are reached directly
            urls = {m: u if m in self.embedding_servers else gateway_url for m, u in urls.items()}
            server_urls = {m: gateway_url for m in server_urls}

        if serving.grafana_dashboard:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": DASHBOARD_CONFIGMAP,
                    "namespace": ns,
                    "labels": {**kube.PART_OF, **dashboard.SIDECAR_LABEL},
                },
                data={"vllm.json": dashboard.dashboard_json(ns)},
                opts=child,
            )

        self.outputs = ServingOutputs(
            openai_base_url=urls.get(resolve.primary_model(serving) or "") or next(iter(urls.values()), None),
            openai_base_urls=urls,
            api_key=api_key,
            fallbacks=resolve.fallbacks(serving),
            roles=resolve.served_roles(serving),
            model_ids={m.name: m.config.id for m in args.models},
            embedding=self._embedding_endpoint(args.models, {**server_urls, **urls}),
            reranker=self._reranker_endpoint(args.models, server_urls),
        )
        self.register_outputs(self.outputs.as_dict())

    def _local_weights(self, model: ServedModel, args: ModelServingArgs) -> LocalWeights:
        """A text-embeddings-inference server's model folder: the store's claim, or synced from the bucket."""
        source = model.source
        location: pulumi.Input[str] | PvcUri
        if isinstance(source.artifact, (PvcUri, BucketUri)):
            location = source.artifact if isinstance(source.artifact, PvcUri) else source.artifact.prefix
        else:
            location = self.prefetched.prefixes[model.name]
        scheme = source.artifact.scheme if isinstance(source.artifact, BucketUri) else model.bucket_scheme
        return local_weights(location, scheme=scheme, size_gb=model.cpu_memory_gb, region=args.site.region)

    def _gguf_weights(self, args: ModelServingArgs) -> LocalWeights:
        """The CPU tier's GGUF file: on the store's claim (or a pvc:// file), or synced from the bucket."""
        gguf = args.gguf
        if gguf is None:
            raise ValueError("the CPU tier is enabled: pass its weights (stacks.models.cpu_tier_weights)")
        if gguf.kind == "huggingface":  # preflight refuses this; never rendered as a download
            raise ValueError(f"{gguf.repo}/{gguf.file} is not prefetched: set serving.prefetch.enabled: true")
        location: pulumi.Input[str] | PvcUri = (
            gguf.artifact if gguf.artifact is not None else self.prefetched.prefixes[args.config.cpu_tier.name]
        )
        return local_weights(
            location,
            scheme=gguf.bucket_scheme,
            size_gb=cpu_tier.GGUF_ASSUMED_GB,
            file=gguf.file,
            region=args.site.region,
        )

    def _embedding_endpoint(self, models: Sequence[ServedModel], urls: dict[str, str]) -> EmbeddingEndpoint | None:
        model = resolve.first_with(models, "serving.embedding", "embedding")
        if model is None or model.name not in urls:
            return None
        dimension = model.dimension
        return EmbeddingEndpoint(model.name, model.config.id, dimension, urls[model.name], model.runtime)

    def _reranker_endpoint(self, models: Sequence[ServedModel], gpu_urls: dict[str, str]) -> RerankerEndpoint | None:
        model = resolve.first_with(models, "serving.reranker", "reranker")
        if model is None:
            return None
        if model.name in self.embedding_servers:
            url = self.embedding_servers[model.name].rerank_url
            return RerankerEndpoint(model.name, model.config.id, url, "tei", "tei")
        return RerankerEndpoint(model.name, model.config.id, f"{gpu_urls[model.name]}/rerank", "cohere", "vllm")

    def _llm_d(self, name: str, args: ModelServingArgs, monitors: bool, monitor_labels: dict[str, str]) -> str:
        serving, gw = args.config, args.config.inference_gateway
        klass = resolve.gateway_class(serving, args.site)
        if klass is None:  # preflight reports it with the key and the fix
            raise ValueError("serving.inferenceGateway.className is required in llm-d mode outside GKE")
        cluster_ready = list(args.cluster.ready)
        opts = pulumi.ResourceOptions(parent=self, depends_on=cluster_ready)
        crd_set = (
            crds.install_inference_crds(name, opts)
            if resolve.install_inference_crds(serving, args.site)
            else crds.managed_inference_crds(cluster_ready)
        )
        ready = [args.namespace, *cluster_ready]
        self.gateway = InferenceGateway(
            f"{name}-gateway",
            InferenceGatewayArgs(
                namespace=serving.namespace,
                class_name=klass,
                address=resolve.gateway_address(serving, args.site, klass),
                placement=args.cluster.system,
                crds=crd_set,
                depends_on=ready,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for model in [m for m in args.models if m.name in self.servers]:
            self.routes[model.name] = ModelRoute(
                f"{name}-{model.name}-route",
                ModelRouteArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    gateway=self.gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=gw.scorer_weights,
                    epp_replicas=gw.epp_replicas,
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if monitors:  # the endpoint picker's request counter wakes a model scaled to zero
                epp = f"{model.name}-epp"
                monitoring.service_monitor(
                    f"{name}-{model.name}-epp-metrics",
                    epp,
                    serving.namespace,
                    kube.selector(epp, kube.ENDPOINT_PICKER),
                    {**kube.PART_OF, **monitor_labels},
                    pulumi.ResourceOptions(parent=self, depends_on=ready),
                    port="http-metrics",
                )
        if self.cpu_tier is not None:
            cpu = serving.cpu_tier.name
            self.routes[cpu] = ModelRoute(
                f"{name}-{cpu}-route",
                ModelRouteArgs(
                    model=cpu,
                    namespace=serving.namespace,
                    gateway=self.gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=None,
                    service_port=cpu_tier.PORT,
                    depends_on=[*ready, self.cpu_tier.service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self.gateway.base_url
