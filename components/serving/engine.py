"""vLLM's command line from the typed model config: pure functions, one flag per setting.

Flag names are those of the pinned image (components/versions.py, vLLM 0.21): `--runner pooling` replaced the
removed `--task embed`; `--shutdown-timeout` exists from 0.18; the API key is read from VLLM_API_KEY.
Where the weights come from is worked out in `stacks.models.model_source`; `weights_load` turns that into
what vLLM and its pod need to load them: the Run:ai model streamer (`--load-format runai_streamer`) from the
stack's bucket, or a read-only volume. A Hugging Face id as the model argument (a download at every start) is
what preflight refuses; it remains here only for what the source says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi

from stacks.config.serving import POOLING_ROLES, ModelConfig
from stacks.models import ModelSource, SourceKind
from stacks.uris import BucketUri, PvcUri, UriError

HTTP_PORT = 8000
"""vLLM's OpenAI-compatible API, /health and /metrics."""
MODEL_VOLUME_ROOT = "/models"
"""Where a pvc:// artifact's claim is mounted (read-only)."""
CACHE_DIR = "/cache"
"""An emptyDir for every cache vLLM, PyTorch, Triton and Hugging Face write (HOME points here too)."""

STREAMER_GBPS = 0.8
"""The Run:ai streamer from a same-region bucket, for the startup budget: a quarter of the published 3.1 GB/s
(15 GB Llama 3 8B from S3 in 4.88 s at concurrency 32, g5.12xlarge; runai-model-streamer docs/src/benchmarks.md,
the NVIDIA blog's figures), about what the smallest GPU nodes' network (up to 10 Gbit/s) sustains."""
LOAD_RATE_GBPS: dict[SourceKind, float] = {
    "huggingface": 0.1,
    "bucket": STREAMER_GBPS,
    "quantized": STREAMER_GBPS,
    "prefetched": STREAMER_GBPS,
    "volume": 0.25,
}
"""Conservative weight-loading rates in GB/s, for the startup probe budget: a Hugging Face download at
~100 MB/s (unpublished, network and rate limits decide; refused by preflight anyway), the streamer, a network
volume (EBS gp3 and GCE balanced disks default to 125-240 MB/s)."""


@dataclass(frozen=True)
class VllmLoad:
    """How vLLM loads a model's weights, and what its pod needs for that."""

    kind: SourceKind
    model_arg: pulumi.Input[str]
    """vLLM's positional model argument: a Hugging Face id, an s3:// or gs:// prefix, or a local path."""
    args: list[str] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    needs_bucket_identity: bool = False
    """Run as the model-store ServiceAccount (Pod Identity / Workload Identity reach the bucket)."""


def volume_mount(pvc: PvcUri) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(mount path, volume, volume mount) of a read-only PersistentVolumeClaim under MODEL_VOLUME_ROOT."""
    if not pvc.claim_is_valid:
        raise UriError(f"{pvc.uri!r} names no valid PersistentVolumeClaim; use pvc://<claim>/<path>")
    mount = f"{MODEL_VOLUME_ROOT}/{pvc.claim}"
    volume = {"name": "model-volume", "persistentVolumeClaim": {"claimName": pvc.claim, "readOnly": True}}
    return mount, volume, {"name": "model-volume", "mountPath": mount, "readOnly": True}


def _streamed(kind: SourceKind, prefix: pulumi.Input[str], tensor_parallel: int) -> VllmLoad:
    args = ["--load-format", "runai_streamer"]
    if tensor_parallel > 1:  # every TP rank streams its own shard instead of all ranks reading everything
        args += ["--model-loader-extra-config", json.dumps({"distributed": True})]
    return VllmLoad(kind=kind, model_arg=prefix, args=args, needs_bucket_identity=True)


def weights_load(source: ModelSource, tensor_parallel: int = 1, quantized: pulumi.Input[str] | None = None) -> VllmLoad:
    """The load of `source`: a bucket folder streamed with Run:ai, a mounted volume, or the quantize or prefetch
    Job's copy in the model store (`quantized`: its bucket prefix, known only at deploy time; a prefetched copy on
    an existing cluster is in the store's claim, `source.artifact`)."""
    if source.kind in ("quantized", "prefetched") and not isinstance(source.artifact, PvcUri):
        if quantized is None:
            raise ValueError(f"{source.hub_id} is copied by a Job of the stack: pass its model-store prefix")
        return _streamed(source.kind, quantized, tensor_parallel)
    if isinstance(source.artifact, BucketUri):
        return _streamed("bucket", source.artifact.prefix, tensor_parallel)
    if isinstance(source.artifact, PvcUri):
        mount, volume, volume_mount_ = volume_mount(source.artifact)
        path = source.artifact.path
        return VllmLoad(
            kind="volume", model_arg=f"{mount}/{path}" if path else mount, volumes=[volume], mounts=[volume_mount_]
        )
    return VllmLoad(kind="huggingface", model_arg=source.hub_id)


def from_hub(load: VllmLoad) -> bool:
    """The server would download its weights from the Hugging Face Hub when it starts."""
    return load.kind == "huggingface"


def engine_args(model: ModelConfig) -> list[str]:
    """The engine flags of one model, in a stable order (the model argument and source flags excluded)."""
    e = model.engine
    args = [
        "--served-model-name",
        model.name,
        "--max-model-len",
        str(model.max_context),
        "--gpu-memory-utilization",
        str(e.gpu_memory_utilization),
        "--max-num-seqs",
        str(e.max_num_seqs),
    ]
    if e.max_num_batched_tokens is not None:
        args += ["--max-num-batched-tokens", str(e.max_num_batched_tokens)]
    args.append("--enable-prefix-caching" if e.enable_prefix_caching else "--no-enable-prefix-caching")
    args += ["--kv-cache-dtype", e.kv_cache_dtype]
    args += ["--tensor-parallel-size", str(model.tensor_parallel)]
    args += ["--shutdown-timeout", str(e.shutdown_timeout_s)]
    if model.role in POOLING_ROLES:  # /v1/embeddings; a cross-encoder also /rerank, /v1/rerank and /score
        args += ["--runner", "pooling"]
    if model.kv_offload.cpu_gib:  # vLLM's native CPU offloading connector (summed over the TP ranks)
        args += ["--kv-offloading-size", str(model.kv_offload.cpu_gib), "--kv-offloading-backend", "native"]
    return args


def vllm_command(model: ModelConfig, load: VllmLoad) -> tuple[list[str], list[pulumi.Input[str]]]:
    """(command, args) of the vLLM container: `vllm serve <model> <flags>`."""
    args: list[pulumi.Input[str]] = [
        load.model_arg,
        "--host",
        "0.0.0.0",
        "--port",
        str(HTTP_PORT),
        *engine_args(model),
        *load.args,
    ]
    return ["vllm", "serve"], args


def flag_value(args: list[str], flag: str) -> str | None:
    """The value following `flag` in an argument list (None when absent); for tests and checks."""
    return args[args.index(flag) + 1] if flag in args else None
