"""vLLM's command line from the typed model config: pure functions, one flag per setting.

Flag names are those of the pinned image (components/versions.py, vLLM 0.21): `--runner pooling` replaced the
removed `--task embed`; `--shutdown-timeout` exists from 0.18; the API key is read from VLLM_API_KEY.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components.serving.labels import HTTP_PORT
from stacks.config.serving import ModelConfig

SourceKind = Literal["huggingface", "bucket", "volume"]

MODEL_VOLUME_ROOT = "/models"
"""Where a pvc:// artifact's claim is mounted (read-only)."""
CACHE_DIR = "/cache"
"""An emptyDir for every cache vLLM, PyTorch, Triton and Hugging Face write (HOME points here too)."""

LOAD_RATE_GBPS: dict[SourceKind, float] = {"huggingface": 0.1, "bucket": 0.4, "volume": 0.25}
"""Conservative weight-loading rates in GB/s, for the startup probe budget: a Hugging Face download at
~100 MB/s, the Run:ai streamer from a same-region bucket, a network volume."""


class ModelSourceError(ValueError):
    """An artifactUri the serving layer cannot load (preflight reports it with the key path first)."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from, and what the pod needs to load them."""

    kind: SourceKind
    model_arg: pulumi.Input[str]
    """vLLM's positional model argument: a Hugging Face id, an s3:// or gs:// prefix, or a local path."""
    args: list[str] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    needs_bucket_identity: bool = False
    """Run as the model-store ServiceAccount (IRSA / Pod Identity / Workload Identity reach the bucket)."""


def parse_pvc_uri(uri: str) -> tuple[str, str]:
    """pvc://<claim>/<path> -> (claim, path); the path may be empty."""
    rest = uri.removeprefix("pvc://")
    claim, _, path = rest.partition("/")
    if not claim:
        raise ModelSourceError(f"{uri!r} names no PersistentVolumeClaim; use pvc://<claim>/<path>")
    return claim, path.strip("/")


def _streamed(model: ModelConfig, prefix: pulumi.Input[str]) -> ModelSource:
    args = ["--load-format", "runai_streamer"]
    if model.tensor_parallel > 1:  # every TP rank streams its own shard instead of all ranks reading everything
        args += ["--model-loader-extra-config", json.dumps({"distributed": True})]
    return ModelSource(kind="bucket", model_arg=prefix, args=args, needs_bucket_identity=True)


def model_source(model: ModelConfig, quantized: pulumi.Input[str] | None = None) -> ModelSource:
    """The weights' source: the quantize job's artifact (`quantized`, a bucket prefix known only at deploy
    time), artifactUri (bucket or volume) when set, else the Hugging Face id."""
    if quantized is not None:
        return _streamed(model, quantized)
    uri = model.artifact_uri
    if uri is None:
        return ModelSource(kind="huggingface", model_arg=model.id)
    if uri.startswith(("s3://", "gs://")):
        return _streamed(model, uri.rstrip("/"))
    if uri.startswith("pvc://"):
        claim, path = parse_pvc_uri(uri)
        mount = f"{MODEL_VOLUME_ROOT}/{claim}"
        return ModelSource(
            kind="volume",
            model_arg=f"{mount}/{path}" if path else mount,
            volumes=[{"name": "model-volume", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}],
            mounts=[{"name": "model-volume", "mountPath": mount, "readOnly": True}],
        )
    raise ModelSourceError(f"artifactUri {uri!r} is not s3://, gs:// or pvc://")


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
    if model.role == "embedding":
        args += ["--runner", "pooling"]
    return args


def vllm_command(
    model: ModelConfig, quantized: pulumi.Input[str] | None = None
) -> tuple[list[str], list[pulumi.Input[str]]]:
    """(command, args) of the vLLM container: `vllm serve <model> <flags>`."""
    source = model_source(model, quantized)
    args: list[pulumi.Input[str]] = [
        source.model_arg,
        "--host",
        "0.0.0.0",
        "--port",
        str(HTTP_PORT),
        *engine_args(model),
        *source.args,
    ]
    return ["vllm", "serve"], args


def flag_value(args: list[str], flag: str) -> str | None:
    """The value following `flag` in an argument list (None when absent); for tests and checks."""
    return args[args.index(flag) + 1] if flag in args else None
