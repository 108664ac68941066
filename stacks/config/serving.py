"""The serving layer: which models run where, and the vLLM engine knobs for each."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from stacks.catalog import Precision
from stacks.config.base import ConfigModel, DnsLabel
from stacks.config.jobs import JobLimits
from stacks.config.platform import Resources
from stacks.config.serving_modes import DisaggregationConfig, KServeConfig, KvOffloadConfig, RouterConfig

ModelRole = Literal["chat", "safety", "embedding", "reranker"]
POOLING_ROLES: tuple[ModelRole, ...] = ("embedding", "reranker")
"""Roles a pooling model serves (vectors or relevance scores, no generation): on a GPU pool with vLLM's pooling
runner, or on the system pool with text-embeddings-inference on CPU."""
MOVED_TO_MONITORING = ("monitoring", "grafanaDashboard", "grafana_dashboard")
"""Former serving keys (as written in a stack file, or by field name), now under leanrag:monitoring."""


class ModelShape(ConfigModel):
    """Architecture numbers for models that are not in the catalog (from the model's config.json)."""

    params_b: float = Field(gt=0)
    layers: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    embedding_params_b: float = Field(default=0.0, ge=0)
    max_context: int = Field(default=131072, gt=0)


class EngineConfig(ConfigModel):
    """vLLM engine settings; each maps to one flag."""

    gpu_memory_utilization: float = Field(default=0.90, gt=0.1, le=0.98)
    """--gpu-memory-utilization: share of GPU memory vLLM may use (weights + KV cache + activations)."""
    max_num_seqs: int = Field(default=64, ge=1)
    """--max-num-seqs: sequences batched per step."""
    max_num_batched_tokens: int | None = Field(default=None, ge=256)
    """--max-num-batched-tokens: tokens per step (chunked prefill budget); unset lets vLLM choose."""
    enable_prefix_caching: bool = True
    """--enable-prefix-caching: reuse KV cache across requests that share a prefix (RAG system prompts)."""
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    """--kv-cache-dtype: fp8 halves KV memory; needs compute capability 8.9+ (L4, L40S, H100)."""
    shutdown_timeout_s: int = Field(default=30, ge=0, le=600)
    """--shutdown-timeout: seconds to drain in-flight requests on SIGTERM."""
    concurrency: int = Field(default=4, ge=1)
    """Sequences at full context that must fit in the KV cache at once (used by preflight)."""


class ModelConfig(ConfigModel):
    name: DnsLabel
    """Served model name (what clients send as `model`); also names the Kubernetes objects."""
    id: str
    """Hugging Face model id; looked up in the catalog for its shape."""
    revision: str | None = None
    """Hub branch, tag or commit the prefetch Job copies (unset: main); pin a commit for reproducible deploys."""
    artifact_uri: str | None = None
    """Load weights from this s3:// or gs:// prefix (written by the quantize or prefetch job) with the Run:ai
    streamer, or from a volume: pvc://<claim>/<path> mounts the PersistentVolumeClaim read-only. Unset: the
    prefetch Job copies `id` from the hub into the model store first (serving.prefetch)."""
    quantize_from: str | None = None
    """Run the quantize job from this Hugging Face id to `precision` first; serving waits for the artifact."""
    precision: Precision = "bf16"
    """Weights precision: bf16 | fp8 | w8a8-int8 | w4a16."""
    max_context: int = Field(default=8192, ge=256)
    """--max-model-len."""
    tensor_parallel: int = Field(default=1, ge=1)
    """--tensor-parallel-size: GPUs per replica; at most the pool's GPUs per node."""
    pool: DnsLabel
    """Node pool that runs it: a GPU pool (vLLM), or for embedding and reranker models the system pool
    (text-embeddings-inference on CPU)."""
    role: ModelRole = "chat"
    """chat, safety (Llama Guard shield, served like chat), embedding or reranker (vLLM --runner pooling on a
    GPU pool: /v1/embeddings, /rerank and /score)."""
    min_replicas: int = Field(default=1, ge=0)
    """0 allows scale to zero (needs autoscaling)."""
    max_replicas: int = Field(default=1, ge=1)
    engine: EngineConfig = EngineConfig()
    kv_offload: KvOffloadConfig = KvOffloadConfig()
    """KV-cache offloading to CPU memory (vLLM's native offloading connector)."""
    disaggregation: DisaggregationConfig = DisaggregationConfig()
    """Prefill/decode disaggregation (llm-d mode)."""
    shape: ModelShape | None = None
    """Architecture, for models that are not in the catalog."""
    cpu: str | None = None
    """CPU request of each replica; unset: the node's vCPUs per GPU x tensorParallel, less one for the
    system."""
    memory: str | None = None
    """Memory request (and limit) of each replica, e.g. 24Gi; unset: 80% of the node's memory per GPU
    share."""

    @model_validator(mode="after")
    def _replicas(self) -> ModelConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) is larger than maxReplicas ({self.max_replicas})")
        if self.artifact_uri and self.quantize_from:
            raise ValueError("set either artifactUri (an existing artifact) or quantizeFrom (make one), not both")
        return self


class LlamaCppConfig(ConfigModel):
    """A small GGUF model served by llama.cpp's llama-server on the system pool (CPU nodes)."""

    enabled: bool = False
    name: DnsLabel = "smollm2-cpu"
    """Served model name."""
    gguf_uri: str = "hf://bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_K_M.gguf"
    """GGUF weights: hf://<org>/<repo>/<file>.gguf (copied into the model store by the prefetch Job, then read
    from there), or pvc://<claim>/<path>.gguf (already on a volume)."""
    revision: str | None = None
    """Hub branch, tag or commit of an hf:// GGUF that the prefetch Job copies (unset: main)."""
    replicas: int = Field(default=1, ge=1)
    cpu: str = "2"
    memory: str = "2Gi"
    context: int = Field(default=4096, ge=256)


class CpuTierConfig(LlamaCppConfig):
    """A small model on CPU nodes (llama.cpp server): cheap short requests, and the GPU tier's fallback."""

    fallback_for: list[str] = Field(default_factory=list)
    """Served model names whose requests fall back to the CPU tier when the GPU tier is unavailable."""


class PoolingModelConfig(ConfigModel):
    """A model that turns text into vectors or relevance scores. Served where it is cheapest: on the system pool
    by Hugging Face text-embeddings-inference on CPU (pool unset), or on a GPU pool by vLLM's pooling runner."""

    enabled: bool
    name: DnsLabel
    """Served model name (what clients send as `model`); also names the Kubernetes objects."""
    id: str
    """Hugging Face model id; looked up in the catalog for its shape."""
    revision: str | None = None
    """Hub branch, tag or commit the prefetch Job copies (unset: main)."""
    artifact_uri: str | None = None
    """Weights already in the model store (s3://, gs:// or pvc://); unset: the prefetch Job copies `id`."""
    pool: DnsLabel | None = None
    """Unset: the system pool, served on CPU by text-embeddings-inference. A GPU pool: vLLM --runner pooling."""
    replicas: int = Field(default=1, ge=1)
    """Replicas of its server (more than one: a PodDisruptionBudget keeps one serving through node drains)."""
    max_context: int = Field(default=512, ge=256)
    """Longest input in tokens: --max-model-len on a GPU pool; on CPU, longer inputs are truncated at the model's
    own limit (TEI's --auto-truncate)."""
    cpu: str | None = None
    """CPU request of each replica; unset: 1 on the system pool, the node's share on a GPU pool."""
    memory: str | None = None
    """Memory request (and limit) of each replica; unset: sized from the model's weights on the system pool
    (float32 weights x 1.5 + 0.5 GB), the node's share on a GPU pool."""
    engine: EngineConfig = EngineConfig()
    """vLLM settings on a GPU pool. On CPU, maxNumBatchedTokens is --max-batch-tokens (unset: 16384) and
    maxNumSeqs is --max-client-batch-size (inputs per request)."""
    shape: ModelShape | None = None
    """Architecture, for models that are not in the catalog."""


class EmbeddingConfig(PoolingModelConfig):
    """The embedding model the RAG app queries with and the ingest Job embeds with (served in every stack by
    default). platform.app.embeddingModel and embeddingDimension must name the same model (preflight)."""

    enabled: bool = True
    """Serve it (false: the app needs a serving.models[] entry with role embedding and its embeddingModel id)."""
    name: DnsLabel = "all-minilm-l6-v2"
    """Served model name."""
    id: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Hugging Face id: the model the ingest Job embeds with by default."""
    dimension: int = Field(default=384, ge=8)
    """Length of the vectors it returns."""


class RerankerConfig(PoolingModelConfig):
    """A cross-encoder that scores (query, passage) pairs for the second retrieval stage. Off by default: without
    it retrieval is one stage. CPU: text-embeddings-inference POST /rerank; GPU: vLLM POST /v1/rerank."""

    enabled: bool = False
    """Serve it; its URL is the stack output `reranker`."""
    name: DnsLabel = "ms-marco-minilm-l6"
    """Served model name."""
    id: str = "cross-encoder/ms-marco-MiniLM-L-6-v2"
    """Hugging Face id of a sequence-classification (cross-encoder) model."""


class PrefetchConfig(ConfigModel):
    """Model weights come from the stack's model store, never from the hub when a server starts: a prefetch Job
    (workloads/prefetch) copies each model without artifactUri from the hub once, before its server starts."""

    enabled: bool = True
    """false: every model (and an hf:// CPU-tier GGUF) needs weights already in the store (artifactUri)."""
    resources: Resources = Resources(cpu="1", memory="2Gi")
    """Each prefetch Job's container (hashing and uploading one file at a time needs little)."""
    staging_gb: int = Field(default=20, ge=1)
    """Scratch disk for one hub file while it is uploaded: the largest weights file must fit."""
    limits: JobLimits = JobLimits(active_deadline_s=7200, backoff_limit=3)
    """Retries and deadline of each prefetch Job (a retry resumes: only missing files are copied)."""
    volume_gb: int | None = Field(default=50, ge=1)
    """Existing clusters (a pvc:// model store): size of the PersistentVolumeClaim the stack creates for the
    weights; null when the claim exists already."""
    volume_access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"
    """ReadWriteOnce (e.g. kind): every reader on one node at a time; ReadWriteMany when replicas of one model
    run on several nodes (needs a storage class that supports it)."""


class CpuSafetyConfig(LlamaCppConfig):
    """Llama Guard 3 1B on CPU nodes (llama.cpp): the `role: safety` model of stacks without a GPU to spare for
    it. The moderation service (platform.moderation) calls it; answers take about a second per request on 2
    cores."""

    name: DnsLabel = "llama-guard-3-1b-cpu"
    gguf_uri: str = "hf://bartowski/Llama-Guard-3-1B-GGUF/Llama-Guard-3-1B-Q8_0.gguf"
    """Llama Guard 3 1B quantized to 8 bits (about 1.6 GB): Q8_0 keeps the verdicts close to the original."""
    memory: str = "3Gi"
    context: int = Field(default=4096, ge=256)
    """Llama Guard's prompt holds the 14 hazard categories (about 400 tokens) plus the checked text."""


class AutoscalingConfig(ConfigModel):
    enabled: bool = False
    """Scale model servers with KEDA on vLLM's queue length and KV-cache usage. KEDA queries the Prometheus
    that monitoring.prometheus names (installed by the stack unless you bring one)."""
    queue_target: int = Field(default=4, ge=1)
    """Target of vllm:num_requests_waiting per replica."""
    kv_cache_target: float = Field(default=0.8, gt=0, le=1)
    """Target of vllm:kv_cache_usage_perc (0-1) per replica."""
    install_keda: bool = True
    """Install KEDA from its pinned Helm chart; false when the cluster already runs KEDA."""
    polling_interval_s: int = Field(default=15, ge=5)
    """How often KEDA queries Prometheus."""
    cooldown_s: int = Field(default=600, ge=60)
    """Wait after the last activity before scaling to zero, and the HPA's scale-down stabilization window:
    a replica costs minutes of model loading to get back."""


class ScorerWeights(ConfigModel):
    """Weights of the endpoint picker's scorers (llm-d mode); 0 turns a scorer off."""

    prefix_cache: int = Field(default=3, ge=0)
    """Prefer the replica that most likely holds the request's prefix in its KV cache."""
    queue: int = Field(default=2, ge=0)
    """Prefer replicas with fewer waiting requests (load-aware)."""
    kv_cache_utilization: int = Field(default=2, ge=0)
    """Prefer replicas with free KV-cache blocks (load-aware)."""


class InferenceGatewayConfig(ConfigModel):
    """The Gateway API inference gateway of llm-d mode: a Gateway, and one InferencePool with its endpoint
    picker per model."""

    class_name: str | None = None
    """GatewayClass; unset: gke-l7-rilb for router implementation gke (GKE's managed regional internal L7 load
    balancer), agentgateway for agentgateway. Required for an external implementation that supports
    InferencePool (e.g. istio)."""
    install_crds: bool | None = None
    """Install the Gateway API and InferencePool CRDs from their pinned release manifests. Unset: not on gcp
    (GKE with the Gateway API enabled installs and upgrades both), yes elsewhere."""
    address: str | None = None
    """The Gateway's in-cluster address, so clients know the URL before the first deploy. GKE: an internal IP
    of the cluster subnet that the load balancer takes (unset: the subnet's broadcast address - 5, e.g.
    10.50.15.250). Other classes: the host name of the Service the implementation creates (unset:
    <gateway>-<className>.<namespace>.svc.cluster.local, Istio's naming)."""
    proxy_subnet_cidr: str = "10.58.0.0/23"
    """GKE: the region's proxy-only subnet, where the managed gateway's proxies connect from
    (NetworkPolicy)."""
    scorer_weights: ScorerWeights = ScorerWeights()
    epp_replicas: int = Field(default=1, ge=1)
    """Endpoint picker replicas per model; more than one runs active-passive with leader election."""
    request_timeout_s: int = Field(default=300, ge=10)
    """Gateway timeout for one request (a long generation streams for minutes)."""


class ServingConfig(ConfigModel):
    mode: Literal["vllm", "llm-d", "kserve"] = "vllm"
    """vllm: plain vLLM behind a ClusterIP Service. llm-d: llm-d's router (prefix-cache and load-aware endpoint
    picking), standalone or behind a Gateway (see router). kserve: KServe LLMInferenceServices (vLLM with llm-d's
    scheduler) behind the router's Gateway."""
    namespace: DnsLabel = "serving"
    models: list[ModelConfig] = Field(default_factory=list)
    cpu_tier: CpuTierConfig = CpuTierConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    reranker: RerankerConfig = RerankerConfig()
    prefetch: PrefetchConfig = PrefetchConfig()
    cpu_safety: CpuSafetyConfig = CpuSafetyConfig()
    """A Llama Guard safety model on CPU (llama.cpp), for stacks that serve no safety model on a GPU."""
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    router: RouterConfig = RouterConfig()
    """llm-d and kserve modes: standalone router or a Gateway, and which implementation."""
    inference_gateway: InferenceGatewayConfig = InferenceGatewayConfig()
    """llm-d and kserve modes with a gateway router."""
    kserve: KServeConfig = KServeConfig()
    """kserve mode only."""
    pre_stop_s: int = Field(default=20, ge=0, le=120)
    """Seconds a terminating model server keeps serving before SIGTERM, so the Service endpoints and the
    gateway stop sending it new requests first (preStop sleep)."""

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        """Keys that moved to leanrag:monitoring: say where, instead of only "extra inputs are not permitted"."""
        if not isinstance(data, dict):
            return data
        moved = [f"serving.{k}" for k in MOVED_TO_MONITORING if k in data]
        autoscaling = data.get("autoscaling")
        if isinstance(autoscaling, dict) and {"prometheusUrl", "prometheus_url"} & set(autoscaling):
            moved.append("serving.autoscaling.prometheusUrl")
        if moved:
            raise ValueError(
                f"{', '.join(moved)} moved to leanrag:monitoring: set monitoring.prometheus (provider, url, "
                "podMonitorLabels), monitoring.namespace and monitoring.dashboards instead (docs/monitoring.md)"
            )
        return data
