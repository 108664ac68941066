"""What each served model is, worked out once from its config and the catalog.

`model_source` says where a model's weights come from (a bucket, a volume, the quantize Job's artifact, or the
prefetch Job's copy of the Hugging Face Hub repository in the stack's model store), whether they are gated and
which Hub id they derive from; `model_shape` finds its architecture; `served_models` resolves every model of a
valid stack (`serving.models[]`, and the `serving.embedding` and `serving.reranker` sections when enabled) into
a `ServedModel` that the serving layer and the Jobs read instead of working these out again; `gguf_weights`
does the same for the GGUF file of a llama.cpp server (the CPU tier, the CPU safety model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from stacks import catalog, memory
from stacks.catalog import InstanceSpec, ModelSpec
from stacks.config import StackConfig
from stacks.config.serving import LlamaCppConfig, ModelConfig, PoolingModelConfig
from stacks.pools import pool_instance
from stacks.quantity import memory_bytes
from stacks.uris import (
    BUCKET_SCHEMES,
    BucketScheme,
    BucketUri,
    HubFile,
    PvcUri,
    UriError,
    parse_artifact_uri,
    parse_gguf_uri,
    parse_pvc_uri,
)

GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")
"""Hugging Face organisations whose models need an accepted licence and a token to download."""
FALLBACK_WEIGHTS_GB = 16.0
"""Weights assumed for a model of unknown shape (startup budget, cache size; preflight requires a shape for GPU
models)."""
DEFAULT_CPU, DEFAULT_MEMORY = "4", "16Gi"
"""Requests of a model server when the node's size is unknown (cloud: existing)."""
CPU_SERVER_CPU = "1"
"""CPU request of a text-embeddings-inference replica when none is configured."""
GGUF_LABEL = "gguf"
"""The store folder label of a llama.cpp server's GGUF file (models/<name>/gguf/)."""

SourceKind = Literal["huggingface", "bucket", "volume", "quantized", "prefetched"]
Runtime = Literal["vllm", "tei"]
"""vllm: on a GPU pool; tei: Hugging Face text-embeddings-inference on the system pool's CPUs."""


@dataclass(frozen=True)
class ModelStore:
    """Where the stack keeps model weights: its bucket (aws, gcp; the name is known at deploy time) or, on an
    existing cluster, a PersistentVolumeClaim (cluster.existing.modelStoreUri)."""

    scheme: BucketScheme | None
    """s3 or gs on aws and gcp; None on an existing cluster."""
    volume: PvcUri | None
    """The model store's claim (and folder inside it) on an existing cluster."""


def model_store(cfg: StackConfig) -> ModelStore:
    """The stack's model store; an unusable pvc:// URI on an existing cluster is a preflight error."""
    if cfg.cloud in BUCKET_SCHEMES:
        return ModelStore(scheme=BUCKET_SCHEMES[cfg.cloud], volume=None)
    uri = cfg.cluster.existing.model_store_uri
    try:
        volume = parse_pvc_uri(uri)
    except UriError:
        return ModelStore(scheme=None, volume=None)
    return ModelStore(scheme=None, volume=volume if volume.claim_is_valid else None)


def store_path(name: str, label: str) -> str:
    """The folder of a served model's weights inside the model store: models/<served-name>/<label>, where the
    label is its precision (as the quantize Job writes it) or `gguf` for a llama.cpp server's file."""
    return f"models/{name}/{label}"


def in_volume(volume: PvcUri, path: str) -> PvcUri:
    """`path` inside the store's claim (below the folder the store URI names)."""
    inside = f"{volume.path}/{path}" if volume.path else path
    return PvcUri(uri=f"pvc://{volume.claim}/{inside}", claim=volume.claim, path=inside)


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from."""

    kind: SourceKind
    """bucket: the server streams artifactUri from object storage; volume: it reads artifactUri from a
    PersistentVolumeClaim; quantized: it streams the artifact the quantize Job writes to the stack's model store
    (whose URI is known only at deploy time); prefetched: the prefetch Job copies `hub_id` into the model store
    and the server reads that copy (streamed from the bucket, or from the store's claim); huggingface: the
    server would download `hub_id` at start-up, which preflight refuses (serving.prefetch.enabled: false
    without artifactUri)."""
    hub_id: str
    """The Hugging Face id the weights derive from: quantizeFrom when set, else id (tokenizer, catalog shape)."""
    artifact: BucketUri | PvcUri | None
    """artifactUri, parsed (bucket and volume kinds); the copy's path in the store's claim (prefetched on an
    existing cluster); None where the bucket's name is known only at deploy time."""
    gated: bool
    """The model (or the one it is quantized from) is gated on Hugging Face."""

    revision: str | None = None
    """The hub revision the prefetch Job copies (None: main)."""

    @property
    def from_hub(self) -> bool:
        """Someone in the cluster downloads the weights from the Hub: the prefetch or quantize Job (or, refused
        by preflight, the model server)."""
        return self.kind in ("huggingface", "quantized", "prefetched")

    @property
    def needs_hf_token(self) -> bool:
        """The Hub download needs the secret hfToken."""
        return self.gated and self.from_hub

    @property
    def streamed(self) -> bool:
        """The model server streams the weights from a bucket (Run:ai streamer, with the bucket identity)."""
        return self.kind in ("bucket", "quantized", "prefetched") and not isinstance(self.artifact, PvcUri)

    @property
    def prefetched(self) -> bool:
        """The stack's prefetch Job copies the weights into the model store before the server starts."""
        return self.kind == "prefetched"


def is_gated(model_id: str) -> bool:
    return model_id.startswith(GATED_PREFIXES)


def model_source(model: ModelConfig, prefetch_to: ModelStore | None = None) -> ModelSource:
    """The source of `model`'s weights; UriError for an artifactUri of an unsupported scheme. `prefetch_to`:
    the model store the stack's prefetch Job copies models without artifactUri into (None: no prefetch)."""
    hub_id = model.quantize_from or model.id
    gated = is_gated(model.id) or is_gated(model.quantize_from or "")
    if model.quantize_from:
        return ModelSource(kind="quantized", hub_id=hub_id, artifact=None, gated=gated)
    if model.artifact_uri is None:
        if prefetch_to is None:
            return ModelSource(kind="huggingface", hub_id=hub_id, artifact=None, gated=gated)
        where = store_path(model.name, model.precision)
        copy = in_volume(prefetch_to.volume, where) if prefetch_to.volume is not None else None
        return ModelSource(kind="prefetched", hub_id=hub_id, artifact=copy, gated=gated, revision=model.revision)
    artifact = parse_artifact_uri(model.artifact_uri)
    kind: SourceKind = "bucket" if isinstance(artifact, BucketUri) else "volume"
    return ModelSource(kind=kind, hub_id=hub_id, artifact=artifact, gated=gated)


def model_shape(model: ModelConfig) -> ModelSpec | None:
    """The architecture: the configured shape, else the catalog's entry for the source model or the id."""
    if model.shape is not None:
        return ModelSpec.model_validate(model.shape.model_dump())
    source = model.quantize_from or model.id
    return catalog.models().get(source) or catalog.models().get(model.id)


def default_requests(vcpus: int, memory_gb: float, gpus_per_node: int, tensor_parallel: int) -> tuple[str, str]:
    """CPU and memory for a replica using `tensor_parallel` of the node's GPUs: its share of the node, less
    one vCPU and 20% of memory (+2 GB) for the kubelet, system daemons and the GPU add-ons."""
    share = tensor_parallel / max(gpus_per_node, 1)
    cpu = max(1, math.floor((vcpus - 1) * share))
    memory_gi = max(4, math.floor((memory_gb * 0.8 - 2) * share))
    return str(cpu), f"{memory_gi}Gi"


@dataclass(frozen=True)
class ServedModel:
    """One entry of `serving.models`, with what the config and the catalog say about it."""

    config: ModelConfig
    source: ModelSource
    shape: ModelSpec | None
    """None for a model outside the catalog without a configured shape."""
    instance: InstanceSpec | None
    """The catalog entry of its pool's instance type; None on an existing cluster."""
    bucket_scheme: BucketScheme | None
    """The object storage its weights stream from (artifactUri's, or the model store's for quantized and
    prefetched ones)."""
    runtime: Runtime = "vllm"
    """vllm on a GPU pool; tei (text-embeddings-inference) for an embedding or reranker model on the system
    pool."""
    key: str = "serving.models"
    """Its config key path, e.g. serving.models[0] or serving.embedding (for messages)."""
    dimension: int | None = None
    """Length of the vectors of an embedding model, when configured (serving.embedding.dimension)."""
    system_node: InstanceSpec | None = None
    """The system pool's instance (tei runtime: the node it is sized against); None on an existing cluster."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def store_label(self) -> str:
        """The folder label of its weights in the model store (models/<name>/<label>)."""
        return self.config.precision

    @property
    def weights_gb(self) -> float:
        if self.shape is None:
            return FALLBACK_WEIGHTS_GB
        return memory.weights_gb(self.shape, self.config.precision)

    @property
    def cpu_memory_gb(self) -> float:
        """Memory a text-embeddings-inference replica needs (decimal GB), from the catalog shape."""
        return memory.cpu_server_gb(self.shape.params_b if self.shape is not None else None)

    @property
    def requests(self) -> tuple[str, str]:
        """CPU and memory of a replica: as configured, else its share of the pool's node (GPU) or what its weights
        need (CPU), else fixed defaults."""
        if self.runtime == "tei":
            return self.config.cpu or CPU_SERVER_CPU, self.config.memory or memory.gib_request(self.cpu_memory_gb)
        cpu, mem = DEFAULT_CPU, DEFAULT_MEMORY
        node = self.instance
        if node is not None and node.gpu_count:
            cpu, mem = default_requests(node.vcpus, node.memory_gb, node.gpu_count, self.config.tensor_parallel)
        return self.config.cpu or cpu, self.config.memory or mem

    @property
    def memory_request_bytes(self) -> int:
        return memory_bytes(self.requests[1])


def pooling_model(section: PoolingModelConfig, role: str, system_pool: str) -> ModelConfig:
    """serving.embedding or serving.reranker as the ModelConfig every model is resolved, sized and served from."""
    return ModelConfig.model_validate(
        {
            "name": section.name,
            "id": section.id,
            "revision": section.revision,
            "artifact_uri": section.artifact_uri,
            "pool": section.pool or system_pool,
            "role": role,
            "min_replicas": section.replicas,
            "max_replicas": section.replicas,
            "max_context": section.max_context,
            "engine": section.engine,
            "shape": section.shape,
            "cpu": section.cpu,
            "memory": section.memory,
        }
    )


def model_entries(cfg: StackConfig) -> list[tuple[str, ModelConfig]]:
    """(config key path, model) of every model the stack serves: serving.models[], then serving.embedding and
    serving.reranker when enabled."""
    system = cfg.cluster.system_pool.name
    entries = [(f"serving.models[{i}]", m) for i, m in enumerate(cfg.serving.models)]
    for key, section, role in (
        ("serving.embedding", cfg.serving.embedding, "embedding"),
        ("serving.reranker", cfg.serving.reranker, "reranker"),
    ):
        if section.enabled:
            entries.append((key, pooling_model(section, role, system)))
    return entries


def runtime_of(cfg: StackConfig, model: ModelConfig) -> Runtime:
    """tei for a model placed on the system pool (only embedding and reranker models may be: preflight)."""
    return "tei" if model.pool == cfg.cluster.system_pool.name else "vllm"


def served_model(cfg: StackConfig, model: ModelConfig, key: str = "serving.models") -> ServedModel:
    """`model` of a stack that passed preflight (UriError for an artifactUri preflight would reject)."""
    store = model_store(cfg)
    source = model_source(model, store if cfg.serving.prefetch.enabled else None)
    pool = cfg.pool(model.pool)
    scheme: BucketScheme | None = None
    if isinstance(source.artifact, BucketUri):
        scheme = source.artifact.scheme
    elif source.kind in ("quantized", "prefetched") and source.artifact is None:
        scheme = store.scheme
    runtime = runtime_of(cfg, model)
    embedding = cfg.serving.embedding
    dimension = embedding.dimension if key == "serving.embedding" else None
    system = pool_instance(cfg, cfg.cluster.system_pool)
    return ServedModel(
        config=model,
        source=source,
        shape=model_shape(model),
        instance=pool_instance(cfg, pool) if pool is not None else None,
        bucket_scheme=scheme,
        runtime=runtime,
        key=key,
        dimension=dimension,
        system_node=system,
    )


def served_models(cfg: StackConfig) -> list[ServedModel]:
    """Every model of the stack (GPU models, then the embedding and reranker sections), in config order."""
    return [served_model(cfg, m, key) for key, m in model_entries(cfg)]


def served_by_key(models: list[ServedModel], key: str) -> ServedModel | None:
    return next((m for m in models if m.key == key), None)


@dataclass(frozen=True)
class GgufWeights:
    """Where a llama.cpp server's GGUF file comes from and where llama-server reads it."""

    kind: Literal["prefetched", "volume", "huggingface"]
    """prefetched: the prefetch Job copies `file` of `repo` into the model store; volume: the file is already on
    a claim (`artifact`); huggingface: llama-server would download it, which preflight refuses."""
    repo: str | None
    """<org>/<repo> of an hf:// URI."""
    file: str
    """The file's path inside the repository (or inside the claim for pvc://)."""
    revision: str | None
    artifact: PvcUri | None
    """The file's folder on a claim: the store's copy (prefetched on an existing cluster) or the pvc:// URI's."""
    bucket_scheme: BucketScheme | None
    """The bucket the prefetched copy is in (aws, gcp)."""

    @property
    def gated(self) -> bool:
        return self.repo is not None and is_gated(self.repo)


def gguf_weights(cfg: StackConfig, server: LlamaCppConfig) -> GgufWeights:
    """The weights of a llama.cpp server (serving.cpuTier, serving.cpuSafety); UriError for a ggufUri preflight
    rejects."""
    weights = parse_gguf_uri(server.gguf_uri)
    if isinstance(weights, PvcUri):
        folder, _, file = weights.path.rpartition("/")
        at = PvcUri(uri=f"pvc://{weights.claim}/{folder}", claim=weights.claim, path=folder)
        return GgufWeights("volume", None, file, None, at, None)
    assert isinstance(weights, HubFile)
    if not cfg.serving.prefetch.enabled:
        return GgufWeights("huggingface", weights.repo, weights.file, server.revision, None, None)
    store = model_store(cfg)
    where = store_path(server.name, GGUF_LABEL)
    copy = in_volume(store.volume, where) if store.volume is not None else None
    return GgufWeights("prefetched", weights.repo, weights.file, server.revision, copy, store.scheme)


def llama_cpp_servers(cfg: StackConfig) -> list[tuple[str, LlamaCppConfig]]:
    """(config key path, section) of every enabled llama.cpp server: the CPU tier, then the CPU safety model."""
    sections: list[tuple[str, LlamaCppConfig]] = [
        ("serving.cpuTier", cfg.serving.cpu_tier),
        ("serving.cpuSafety", cfg.serving.cpu_safety),
    ]
    return [(key, section) for key, section in sections if section.enabled]


def llama_cpp_weights(cfg: StackConfig) -> dict[str, GgufWeights]:
    """Served name -> the GGUF weights of every enabled llama.cpp server (of a stack that passed preflight)."""
    return {section.name: gguf_weights(cfg, section) for _, section in llama_cpp_servers(cfg)}
