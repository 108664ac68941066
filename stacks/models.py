"""What each served model is, worked out once from its config and the catalog.

`model_source` says where a model's weights come from (the Hugging Face Hub, a bucket, a volume, or the
quantize Job's artifact), whether they are gated and which Hub id they derive from; `model_shape` finds its
architecture; `served_models` resolves every `serving.models[]` entry of a valid stack into a `ServedModel`
that the serving layer and the Jobs read instead of working these out again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from stacks import catalog, memory
from stacks.catalog import InstanceSpec, ModelSpec
from stacks.config import StackConfig
from stacks.config.serving import ModelConfig
from stacks.pools import pool_instance
from stacks.uris import BUCKET_SCHEMES, BucketScheme, BucketUri, PvcUri, parse_artifact_uri

GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")
"""Hugging Face organisations whose models need an accepted licence and a token to download."""
FALLBACK_WEIGHTS_GB = 16.0
"""Weights assumed for a model of unknown shape (startup budget, cache size; preflight requires a shape for GPU
models)."""
DEFAULT_CPU, DEFAULT_MEMORY = "4", "16Gi"
"""Requests of a model server when the node's size is unknown (cloud: existing)."""

SourceKind = Literal["huggingface", "bucket", "volume", "quantized"]


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from."""

    kind: SourceKind
    """huggingface: the model server downloads `hub_id`; bucket: it streams artifactUri from object storage;
    volume: it reads artifactUri from a PersistentVolumeClaim; quantized: it streams the artifact the quantize
    Job writes to the stack's model store (whose URI is known only at deploy time)."""
    hub_id: str
    """The Hugging Face id the weights derive from: quantizeFrom when set, else id (tokenizer, catalog shape)."""
    artifact: BucketUri | PvcUri | None
    """artifactUri, parsed (bucket and volume kinds)."""
    gated: bool
    """The model (or the one it is quantized from) is gated on Hugging Face."""

    @property
    def from_hub(self) -> bool:
        """Someone in the cluster downloads the weights from the Hub: the model server, or the quantize Job."""
        return self.kind in ("huggingface", "quantized")

    @property
    def needs_hf_token(self) -> bool:
        """The Hub download needs the secret hfToken."""
        return self.gated and self.from_hub

    @property
    def streamed(self) -> bool:
        """The model server streams the weights from a bucket (Run:ai streamer, with the bucket identity)."""
        return self.kind in ("bucket", "quantized")


def is_gated(model_id: str) -> bool:
    return model_id.startswith(GATED_PREFIXES)


def model_source(model: ModelConfig) -> ModelSource:
    """The source of `model`'s weights; UriError for an artifactUri of an unsupported scheme."""
    hub_id = model.quantize_from or model.id
    gated = is_gated(model.id) or is_gated(model.quantize_from or "")
    if model.quantize_from:
        return ModelSource(kind="quantized", hub_id=hub_id, artifact=None, gated=gated)
    if model.artifact_uri is None:
        return ModelSource(kind="huggingface", hub_id=hub_id, artifact=None, gated=gated)
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
    """The object storage its weights stream from (artifactUri's, or the model store's for quantized ones)."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def weights_gb(self) -> float:
        if self.shape is None:
            return FALLBACK_WEIGHTS_GB
        return memory.weights_gb(self.shape, self.config.precision)

    @property
    def requests(self) -> tuple[str, str]:
        """CPU and memory of a replica: as configured, else its share of the pool's node, else fixed defaults."""
        cpu, mem = DEFAULT_CPU, DEFAULT_MEMORY
        node = self.instance
        if node is not None and node.gpu_count:
            cpu, mem = default_requests(node.vcpus, node.memory_gb, node.gpu_count, self.config.tensor_parallel)
        return self.config.cpu or cpu, self.config.memory or mem


def served_model(cfg: StackConfig, model: ModelConfig) -> ServedModel:
    """`model` of a stack that passed preflight (UriError for an artifactUri preflight would reject)."""
    source = model_source(model)
    pool = cfg.pool(model.pool)
    scheme: BucketScheme | None = None
    if isinstance(source.artifact, BucketUri):
        scheme = source.artifact.scheme
    elif source.kind == "quantized":
        scheme = BUCKET_SCHEMES.get(cfg.cloud)
    return ServedModel(
        config=model,
        source=source,
        shape=model_shape(model),
        instance=pool_instance(cfg, pool) if pool is not None else None,
        bucket_scheme=scheme,
    )


def served_models(cfg: StackConfig) -> list[ServedModel]:
    """Every GPU model of the stack, in config order."""
    return [served_model(cfg, m) for m in cfg.serving.models]
