"""The serving layer of a stack: every model server, the CPU tier, and llm-d's router or KServe in front.

`ModelServing` takes the serving config slice, the resolved models (`stacks.models.served_models`), where it
runs (`ServingSite`, `ClusterOutputs`) and the quantize Jobs' artifacts; it creates the shared pieces (API key,
KEDA, CRDs), the prefetch Jobs that copy weights from the hub into the model store
(components/serving/prefetch.py, the only pods that get the Hugging Face token), and one server (and route) per
model: vLLM on GPU pools, text-embeddings-inference for embedding and reranker models on the system pool,
llama.cpp for the CPU tier and the CPU safety model. It exposes `ServingOutputs`. Modes: vllm (a ClusterIP
Service per model), llm-d (router.py's standalone router or gateway.py's Gateway; disaggregated models as
disaggregation.py's prefill/decode servers), kserve (kserve.py's LLMInferenceServices behind the Gateway).
Metrics: the pods carry prometheus.io/* scrape annotations; the monitoring layer's Prometheus scrapes them and
KEDA's triggers query it (`ServingSite.prometheus_url`). The dashboards live in the monitoring layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_random as random

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, ClusterOutputs
from components.serving import cpu_tier, crds, kserve, resolve, router
from components.serving.clients import Clients
from components.serving.cpu_tier import CpuTierArgs, LlamaCppServer
from components.serving.disaggregation import DisaggregatedServer, DisaggregatedServerArgs
from components.serving.gateway import (
    InferenceGateway,
    InferenceGatewayArgs,
    ModelRoute,
    ModelRouteArgs,
    is_gke_class,
    model_base_url,
)
from components.serving.kserve import KServeModel, KServeModelArgs
from components.serving.pod import API_KEY_KEY, VllmPodSpec
from components.serving.prefetch import PrefetchArgs, Prefetched, model_specs, prefetch_weights
from components.serving.resolve import ServingSite
from components.serving.router import StandaloneRouter, StandaloneRouterArgs
from components.serving.text_embeddings import TextEmbeddingsArgs, TextEmbeddingsServer
from components.serving.vllm_server import VllmServer, VllmServerArgs
from components.serving.weights import LocalWeights, PrefetchTarget, local_weights
from stacks.config.serving import LlamaCppConfig, ModelRole, ServingConfig
from stacks.models import GgufWeights, ModelStore, Runtime, ServedModel
from stacks.serving_modes import Role
from stacks.uris import BucketUri, PvcUri

API_KEY_SECRET = "serving-api-key"


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
    """Served model name -> role (chat, safety, embedding, reranker); the CPU tier is a chat model, the CPU
    safety model a safety model."""
    model_ids: dict[str, str]
    """Model name (GPU and text-embeddings-inference servers) -> its Hugging Face id."""
    mode: str = "vllm"
    """serving.mode: vllm, llm-d or kserve."""
    router: str | None = None
    """llm-d and kserve modes: standalone, or gateway/<implementation> (gateway/gke, gateway/agentgateway,
    gateway/external); None in vllm mode."""
    inference_pools: dict[str, str] = field(default_factory=dict)
    """GPU model name -> its InferencePool (llm-d mode; KServe names its own)."""
    embedding: EmbeddingEndpoint | None = None
    """The embedding model the app and the ingest Job use (serving.embedding, else the first serving.models[]
    entry with role embedding); None when none is served."""
    reranker: RerankerEndpoint | None = None
    """The reranker (serving.reranker, else the first serving.models[] entry with role reranker); None when none
    is served (retrieval is then one stage). Not in openai_base_urls: its API is not OpenAI's."""
    rerankers: dict[str, RerankerEndpoint] = field(default_factory=dict)
    """Every served reranker by served name (platform.app.retrieval.rerankerModel may name any of them)."""

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
    gguf: Mapping[str, GgufWeights] = field(default_factory=dict)
    """Served name -> the GGUF weights of each enabled llama.cpp server, the CPU tier and the CPU safety model
    (stacks.models.llama_cpp_weights)."""
    quantized: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Served model name -> artifact prefix written by its quantize Job (models with quantizeFrom)."""
    quantize_jobs: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """Served model name -> its quantize Job: the model server is created only after the Job completed."""
    roles: Mapping[str, Mapping[Role, ServedModel]] = field(default_factory=dict)
    """Served model name -> its prefill and decode servers (models with disaggregation enabled;
    stacks.serving_modes.role_models)."""


class ModelServing(pulumi.ComponentResource):
    """Every model server of the stack, and llm-d's router or KServe in front of the GPU models."""

    outputs: ServingOutputs
    servers: dict[str, VllmServer | DisaggregatedServer]
    """Served model name -> its vLLM server(s) (modes vllm and llm-d)."""
    embedding_servers: dict[str, TextEmbeddingsServer]
    """Served model name -> its text-embeddings-inference server (embedding and reranker models on CPU)."""
    prefetched: Prefetched
    """The prefetch Jobs (model name -> Job) and where their copies are."""
    cpu_tier: LlamaCppServer | None
    cpu_safety: LlamaCppServer | None
    """Llama Guard on CPU (serving.cpuSafety), reached at its own Service (also in llm-d mode)."""
    gateway: InferenceGateway | None
    routes: dict[str, ModelRoute]
    routers: dict[str, StandaloneRouter]
    """Served model name -> its standalone router (llm-d mode, router standalone)."""
    kserve_models: dict[str, KServeModel]

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
                specs=model_specs(args.models, args.gguf),
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
        clients = resolve.clients(serving, site)

        self.servers = {}
        self.pod_specs: dict[str, VllmPodSpec] = {}
        self._pod_deps: dict[str, list[pulumi.Resource]] = {}
        vllm_models = [m for m in args.models if m.runtime == "vllm"]
        for model in vllm_models:
            waits = [args.quantize_jobs[model.name]] if model.name in args.quantize_jobs else []
            waits += [jobs[model.name]] if model.name in jobs else []
            self._pod_deps[model.name] = [*pod_deps, *waits]

            def pod_spec(served: ServedModel, model_name: str = model.name) -> VllmPodSpec:
                return VllmPodSpec(
                    model=served,
                    placement=resolve.placement(served, args.cluster.gpu_pools),
                    pre_stop_s=serving.pre_stop_s,
                    api_key_secret=API_KEY_SECRET,
                    service_account=MODEL_STORE_SERVICE_ACCOUNT if served.source.streamed else None,
                    extra_env={"AWS_REGION": site.region} if served.bucket_scheme == "s3" else {},
                    quantized=args.quantized.get(model_name) or self.prefetched.prefixes.get(model_name),
                    pod_annotations=self.prefetched.annotations.get(model_name, {}),
                )

            self.pod_specs[model.name] = pod_spec(model)
            if serving.mode == "kserve":
                continue  # KServe's controller creates the servers (_kserve)
            if model.name in args.roles:
                self.servers[model.name] = DisaggregatedServer(
                    f"{name}-{model.name}",
                    DisaggregatedServerArgs(
                        roles={role: pod_spec(m) for role, m in args.roles[model.name].items()},
                        disaggregation=model.config.disaggregation,
                        namespace=ns,
                        clients=clients,
                        depends_on=self._pod_deps[model.name],
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                continue
            self.servers[model.name] = VllmServer(
                f"{name}-{model.name}",
                VllmServerArgs(
                    pod=self.pod_specs[model.name],
                    namespace=ns,
                    clients=clients.for_reranker() if model.config.role == "reranker" else clients,
                    autoscaling=serving.autoscaling,
                    prometheus_url=site.prometheus_url,
                    keda_ready=keda_ready,
                    depends_on=self._pod_deps[model.name],
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
                    clients=clients.for_reranker() if model.config.role == "reranker" else clients,
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=[*pod_deps, *([jobs[model.name]] if model.name in jobs else [])],
                    pod_annotations=self.prefetched.annotations.get(model.name, {}),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.cpu_tier = self._llama_cpp(name, args, serving.cpu_tier, clients, pod_deps, jinja=False)
        # Llama Guard's GGUF carries its own chat template (the hazard taxonomy and the answer format)
        self.cpu_safety = self._llama_cpp(name, args, serving.cpu_safety, clients, pod_deps, jinja=True)

        roles = {m.name: m.config.role for m in args.models}
        gpu_urls: dict[str, str] = {m: s.base_url for m, s in self.servers.items()}
        cpu_urls: dict[str, str] = {}
        if self.cpu_tier is not None:
            cpu_urls[self.cpu_tier.service_name] = self.cpu_tier.base_url
        self.gateway = None
        self.routes = {}
        self.routers = {}
        self.kserve_models = {}
        choice = resolve.router(serving, site)
        routed: dict[str, str] = {}
        if serving.mode == "llm-d" and choice.kind == "standalone":
            routed = self._standalone(name, args, vllm_models, clients)
        elif serving.mode == "llm-d":
            routed = self._llm_d(name, args, vllm_models)
        elif serving.mode == "kserve":
            routed = self._kserve(name, args, vllm_models)
        gpu_urls.update({m: u for m, u in routed.items() if m in roles})
        cpu_urls.update({m: u for m, u in routed.items() if m not in roles})
        # the reranker's API is not OpenAI's: not routed as a chat or embedding model
        urls: dict[str, str] = {m: u for m, u in gpu_urls.items() if roles[m] != "reranker"}
        # text-embeddings-inference servers are reached at their own Service in every mode
        urls.update({m: s.base_url for m, s in self.embedding_servers.items() if roles[m] != "reranker"})
        urls.update(cpu_urls)
        if self.cpu_safety is not None:  # its own Service in every mode: moderation calls it directly
            urls[self.cpu_safety.service_name] = self.cpu_safety.base_url

        self.outputs = ServingOutputs(
            openai_base_url=urls.get(resolve.primary_model(serving) or "") or next(iter(urls.values()), None),
            openai_base_urls=urls,
            api_key=api_key,
            fallbacks=resolve.fallbacks(serving),
            roles=resolve.served_roles(serving),
            model_ids={m.name: m.config.id for m in args.models},
            embedding=self._embedding_endpoint(args.models, urls),
            reranker=self._reranker_endpoint(resolve.first_with(args.models, "serving.reranker", "reranker"), gpu_urls),
            rerankers={
                m.name: endpoint
                for m in args.models
                if m.config.role == "reranker" and (endpoint := self._reranker_endpoint(m, gpu_urls)) is not None
            },
            mode=serving.mode,
            router=None
            if serving.mode == "vllm"
            else choice.kind
            if choice.kind == "standalone"
            else f"gateway/{choice.implementation}",
            inference_pools={m.name: m.name for m in vllm_models} if serving.mode == "llm-d" else {},
        )
        self.register_outputs(self.outputs.as_dict())

    def _llama_cpp(
        self,
        name: str,
        args: ModelServingArgs,
        config: LlamaCppConfig,
        clients: Clients,
        pod_deps: list[pulumi.Resource],
        jinja: bool,
    ) -> LlamaCppServer | None:
        """A llama.cpp server (the CPU tier, the CPU safety model) on the system pool, its GGUF from the model
        store: after its prefetch Job, and rolled when the Job copies another file or revision."""
        if not config.enabled:
            return None
        jobs = self.prefetched.jobs
        return LlamaCppServer(
            f"{name}-{config.name}",
            CpuTierArgs(
                config=config,
                weights=self._gguf_weights(args, config.name),
                namespace=args.config.namespace,
                placement=args.cluster.system,
                api_key_secret=API_KEY_SECRET,
                clients=clients,
                pre_stop_s=args.config.pre_stop_s,
                depends_on=[*pod_deps, *([jobs[config.name]] if config.name in jobs else [])],
                pod_annotations=self.prefetched.annotations.get(config.name, {}),
                jinja=jinja,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

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

    def _gguf_weights(self, args: ModelServingArgs, server: str) -> LocalWeights:
        """A llama.cpp server's GGUF file: on the store's claim (or a pvc:// file), or synced from the bucket."""
        gguf = args.gguf.get(server)
        if gguf is None:
            raise ValueError(f"{server} is enabled: pass its weights (stacks.models.llama_cpp_weights)")
        if gguf.kind == "huggingface":  # preflight refuses this; never rendered as a download
            raise ValueError(f"{gguf.repo}/{gguf.file} is not prefetched: set serving.prefetch.enabled: true")
        location: pulumi.Input[str] | PvcUri = (
            gguf.artifact if gguf.artifact is not None else self.prefetched.prefixes[server]
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

    def _reranker_endpoint(self, model: ServedModel | None, gpu_urls: dict[str, str]) -> RerankerEndpoint | None:
        if model is None:
            return None
        if model.name in self.embedding_servers:
            url = self.embedding_servers[model.name].rerank_url
            return RerankerEndpoint(model.name, model.config.id, url, "tei", "tei")
        return RerankerEndpoint(model.name, model.config.id, f"{gpu_urls[model.name]}/rerank", "cohere", "vllm")

    def _inference_crds(self, name: str, args: ModelServingArgs, gateway_api: bool) -> crds.InferenceCrds:
        cluster_ready = list(args.cluster.ready)
        opts = pulumi.ResourceOptions(parent=self, depends_on=cluster_ready)
        if resolve.install_inference_crds(args.config, args.site):
            return crds.install_inference_crds(name, opts, gateway_api=gateway_api)
        return crds.managed_inference_crds(cluster_ready)

    def _gateway(self, name: str, args: ModelServingArgs) -> tuple[InferenceGateway, crds.InferenceCrds, str, str]:
        """The Gateway of the gateway router (and KServe), after its CRDs and, for agentgateway, the
        implementation's pinned release: (gateway, CRDs, GatewayClass, address)."""
        serving = args.config
        choice = resolve.router(serving, args.site)
        klass = choice.class_name
        if klass is None:  # preflight reports it with the key and the fix
            raise ValueError("serving.inferenceGateway.className is required for an external Gateway implementation")
        crd_set = self._inference_crds(name, args, gateway_api=True)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        implementation: list[pulumi.Resource] = []
        if choice.installs_implementation and serving.router.install:
            implementation = router.install_agentgateway(
                name, crd_set, pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready))
            )
        address = resolve.gateway_address(serving, args.site, klass)
        self.gateway = InferenceGateway(
            f"{name}-gateway",
            InferenceGatewayArgs(
                namespace=serving.namespace,
                class_name=klass,
                address=address,
                placement=args.cluster.system,
                crds=crd_set,
                clients=resolve.clients(serving, args.site),
                depends_on=[*ready, *implementation],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self.gateway, crd_set, klass, address

    def _standalone(
        self,
        name: str,
        args: ModelServingArgs,
        models: Sequence[ServedModel],
        clients: Clients,
    ) -> dict[str, str]:
        """llm-d's standalone router per model (after the InferencePool CRD); the CPU tier keeps its Service."""
        serving, gw = args.config, args.config.inference_gateway
        crd_set = self._inference_crds(name, args, gateway_api=False)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        urls: dict[str, str] = {}
        for model in models:
            self.routers[model.name] = StandaloneRouter(
                f"{name}-{model.name}-router",
                StandaloneRouterArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    weights=gw.scorer_weights,
                    placement=args.cluster.system,
                    clients=clients,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    epp_replicas=gw.epp_replicas,
                    disaggregation=model.config.disaggregation,
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            urls[model.name] = self.routers[model.name].base_url
        return urls

    def _cpu_route(
        self, name: str, args: ModelServingArgs, gateway: InferenceGateway, crd_set: crds.InferenceCrds, klass: str
    ) -> None:
        if self.cpu_tier is None:
            return
        serving = args.config
        cpu = serving.cpu_tier.name
        self.routes[cpu] = ModelRoute(
            f"{name}-{cpu}-route",
            ModelRouteArgs(
                model=cpu,
                namespace=serving.namespace,
                gateway=gateway,
                class_name=klass,
                crds=crd_set,
                request_timeout_s=serving.inference_gateway.request_timeout_s,
                placement=args.cluster.system,
                weights=None,
                service_port=cpu_tier.PORT,
                depends_on=[args.namespace, *args.cluster.ready, self.cpu_tier.service],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _llm_d(
        self,
        name: str,
        args: ModelServingArgs,
        models: Sequence[ServedModel],
    ) -> dict[str, str]:
        """The gateway router: one Gateway, and per model an InferencePool, its endpoint picker and a route."""
        serving, gw = args.config, args.config.inference_gateway
        gateway, crd_set, klass, address = self._gateway(name, args)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        for model in models:
            self.routes[model.name] = ModelRoute(
                f"{name}-{model.name}-route",
                ModelRouteArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    gateway=gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=gw.scorer_weights,
                    epp_replicas=gw.epp_replicas,
                    disaggregation=model.config.disaggregation,
                    clients=resolve.clients(serving, args.site),
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self._cpu_route(name, args, gateway, crd_set, klass)
        gke = is_gke_class(klass)
        names = [m.name for m in models] + ([self.cpu_tier.service_name] if self.cpu_tier else [])
        return {m: model_base_url(address, m, gke) for m in names}

    def _kserve(self, name: str, args: ModelServingArgs, models: Sequence[ServedModel]) -> dict[str, str]:
        """KServe from its pinned release, the Gateway, and an LLMInferenceService per model."""
        serving = args.config
        installed = kserve.install_kserve(
            name, serving.kserve, pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready))
        )
        gateway, crd_set, klass, address = self._gateway(name, args)
        kserve.kserve_pods_policy(
            name,
            serving.namespace,
            resolve.clients(serving, args.site),
            pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, *args.cluster.ready]),
        )
        urls: dict[str, str] = {}
        for model in models:
            self.kserve_models[model.name] = KServeModel(
                f"{name}-{model.name}",
                KServeModelArgs(
                    pod=self.pod_specs[model.name],
                    namespace=serving.namespace,
                    gateway_address=address,
                    depends_on=[
                        *self._pod_deps[model.name],
                        *installed,
                        *crd_set.inference_pool,
                        gateway.gateway,
                    ],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            urls[model.name] = self.kserve_models[model.name].base_url
        self._cpu_route(name, args, gateway, crd_set, klass)
        if self.cpu_tier is not None:
            cpu = self.cpu_tier.service_name
            urls[cpu] = model_base_url(address, cpu, is_gke_class(klass))
        return urls
