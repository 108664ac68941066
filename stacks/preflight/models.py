"""Preflight of the served models: pools, replicas, gated downloads, memory fit, weight sources and the vLLM
engine settings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from stacks import memory
from stacks.catalog import FP8_MIN_COMPUTE_CAPABILITY
from stacks.config import NAMESPACE, StackConfig
from stacks.config.serving import POOLING_ROLES, ModelConfig
from stacks.models import ModelSource, model_entries, model_shape, model_source
from stacks.pools import PoolHardware, pool_hardware
from stacks.preflight.problem import Problem
from stacks.quantity import is_cpu_quantity, is_memory_quantity
from stacks.uris import BUCKET_SCHEMES, BucketUri, UriError, parse_artifact_uri, parse_gguf_uri

PRECISION_ORDER = ["bf16", "fp8", "w8a8-int8", "w4a16"]
"""From the largest weights to the smallest: the order fixes are suggested in."""


def check_models(cfg: StackConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    entries = model_entries(cfg)
    models = cfg.serving.models
    for name, n in Counter(m.name for _, m in entries).items():
        if n > 1:
            yield Problem(
                "serving.models",
                f"served model name {name!r} is used {n} times (serving.models, serving.embedding, serving.reranker)",
                "give every model a unique name",
            )
    for path, model in entries:
        yield from _check_model(cfg, path, model, secrets)
    cpu = cfg.serving.cpu_tier
    for name in cpu.fallback_for:
        if name not in {m.name for m in models}:
            yield Problem(
                "serving.cpuTier.fallbackFor",
                f"{name!r} is not a served model",
                f"use names from serving.models: {', '.join(m.name for m in models) or '(none)'}",
            )
    if cpu.fallback_for and not cpu.enabled:
        yield Problem(
            "serving.cpuTier.enabled",
            "fallbackFor is set but the CPU tier is disabled",
            "set serving.cpuTier.enabled: true",
        )


def _source(model: ModelConfig) -> ModelSource | None:
    """None for an artifactUri of an unsupported scheme (check_model_sources reports it)."""
    try:
        return model_source(model)
    except UriError:
        return None


def _check_model(cfg: StackConfig, path: str, model: ModelConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    pool = cfg.pool(model.pool)
    gpu_pools = [p.name for p in cfg.cluster.gpu_pools]
    source = _source(model)
    if source is not None and source.needs_hf_token and "hfToken" not in secrets:
        yield Problem(
            f"{path}.id",
            f"{source.hub_id} is gated on Hugging Face and the secret hfToken is missing",
            f"pulumi config set --secret {NAMESPACE}:hfToken hf_...",
        )
    on_system = pool is not None and pool.name == cfg.cluster.system_pool.name
    if on_system and model.role in POOLING_ROLES:
        return  # served on CPU by text-embeddings-inference: sized by stacks/preflight/pooling.py
    if pool is None or on_system:
        cpu_too = " (the system pool serves only embedding and reranker models)" if on_system else ""
        yield Problem(
            f"{path}.pool",
            f"model {model.name!r} names pool {model.pool!r}, which is not a GPU pool{cpu_too}",
            f"use one of cluster.gpuPools: {', '.join(gpu_pools) or '(none defined)'}",
        )
        return
    if model.min_replicas == 0 and not cfg.serving.autoscaling.enabled:
        yield Problem(
            f"{path}.minReplicas",
            "minReplicas 0 (scale to zero) needs autoscaling",
            "set serving.autoscaling.enabled: true, or minReplicas >= 1",
        )
    hw = pool_hardware(cfg, pool)
    if hw is None or hw.gpu is None:
        return  # reported by the pool checks
    tp = model.tensor_parallel
    if tp > hw.gpu_count:
        yield Problem(
            f"{path}.tensorParallel",
            f"tensor parallel {tp} needs {tp} GPUs per node, "
            f"but pool {pool.name!r} has {hw.gpu_count} {hw.gpu.name} per node",
            f"set tensorParallel <= {hw.gpu_count}, or use an instance type with {tp}+ GPUs",
        )
    elif hw.gpu_count % tp:
        yield Problem(
            f"{path}.tensorParallel",
            f"tensor parallel {tp} does not divide the node's {hw.gpu_count} GPUs",
            f"use a divisor of {hw.gpu_count}",
        )
    if not hw.gpu.fp8:
        for key, value in (("precision", model.precision), ("engine.kvCacheDtype", model.engine.kv_cache_dtype)):
            if value == "fp8":
                yield Problem(
                    f"{path}.{key}",
                    f"FP8 needs compute capability {FP8_MIN_COMPUTE_CAPABILITY}+; "
                    f"{hw.gpu.name} has {hw.gpu.compute_capability}",
                    "use w8a8-int8 or w4a16 weights / kvCacheDtype auto, or an L4, L40S or H100 pool"
                    if key == "precision"
                    else "set engine.kvCacheDtype: auto, or use an L4/L40S/H100 pool",
                )
    replicas_fit = (pool.max_nodes * hw.gpu_count) // tp
    if tp <= hw.gpu_count and model.max_replicas > replicas_fit:
        yield Problem(
            f"{path}.maxReplicas",
            f"maxReplicas {model.max_replicas} x {tp} GPU(s) exceeds pool "
            f"{pool.name!r}: {pool.max_nodes} node(s) x {hw.gpu_count} GPU(s)",
            f"set maxReplicas <= {replicas_fit} or raise the pool's maxNodes",
        )
    yield from check_fit(path, model, hw)


def check_fit(path: str, model: ModelConfig, hw: PoolHardware) -> Iterator[Problem]:
    assert hw.gpu is not None
    shape = model_shape(model)
    if shape is None:
        yield Problem(
            f"{path}.shape",
            f"{model.id} is not in the catalog, so its memory cannot be checked",
            "add shape: {paramsB, layers, kvHeads, headDim} from its config.json, or add it to stacks/catalog.yaml",
        )
        return
    if model.max_context > shape.max_context:
        yield Problem(
            f"{path}.maxContext",
            f"{model.max_context} exceeds the model's context of {shape.max_context}",
            f"set maxContext <= {shape.max_context}",
        )

    gpu = hw.gpu

    def fit(precision: str, tp: int) -> memory.MemoryEstimate:
        return memory.estimate(
            shape,
            precision=precision,
            max_context=model.max_context,
            concurrency=model.engine.concurrency,
            kv_cache_dtype=model.engine.kv_cache_dtype,
            tensor_parallel=tp,
            gpu_memory_gb=gpu.memory_gb,
            gpu_memory_utilization=model.engine.gpu_memory_utilization,
        )

    est = fit(model.precision, model.tensor_parallel)
    if est.fits:
        return
    hints = []
    tps = [t for t in (2, 4, 8) if model.tensor_parallel < t <= hw.gpu_count and hw.gpu_count % t == 0]
    if tp_ok := next((t for t in tps if fit(model.precision, t).fits), None):
        hints.append(f"tensorParallel: {tp_ok}")
    lower = PRECISION_ORDER[PRECISION_ORDER.index(model.precision) + 1 :]
    usable = [p for p in lower if p != "fp8" or hw.gpu.fp8]
    if p_ok := next((p for p in usable if fit(p, model.tensor_parallel).fits), None):
        hints.append(f"precision: {p_ok}")
    hints.append("a smaller maxContext or engine.concurrency, or a pool with more GPU memory")
    yield Problem(
        f"{path}.precision",
        f"{model.id} in {model.precision} at {model.max_context} tokens x {model.engine.concurrency} sequences "
        f"needs {est.per_gpu_needed_gb:.1f} GB per GPU (weights {est.weights_gb:.1f} GB + KV cache "
        f"{est.kv_cache_gb:.1f} GB over {model.tensor_parallel} GPU(s) + {memory.RUNTIME_OVERHEAD_GB} GB runtime), "
        f"but {hw.gpu.name} gives {est.per_gpu_budget_gb:.1f} GB at gpuMemoryUtilization "
        f"{model.engine.gpu_memory_utilization}",
        "try " + "; or ".join(hints),
    )


def check_model_sources(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """artifactUri: a bucket of this cloud (read with the Run:ai streamer) or pvc://<claim>/<path>; the CPU
    tier's GGUF: hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf."""
    for key, model in model_entries(cfg):
        uri, path = model.artifact_uri, f"{key}.artifactUri"
        if uri is None:
            continue
        try:
            artifact = parse_artifact_uri(uri)
        except UriError:
            yield Problem(
                path,
                f"unsupported artifactUri {uri!r}",
                "use s3:// (aws) or gs:// (gcp), read with the Run:ai streamer, or pvc://<claim>/<path>",
            )
            continue
        if isinstance(artifact, BucketUri):
            scheme = BUCKET_SCHEMES.get(cfg.cloud)
            if artifact.scheme != scheme:
                where = f"{cfg.cloud} stores models at {scheme}://" if scheme else "an existing cluster has no bucket"
                yield Problem(
                    path,
                    f"{uri} is not readable here: {where}",
                    f"use the stack's modelStoreUri ({scheme + '://' if scheme else 'pvc://<claim>'}...), "
                    "or pvc://<claim>/<path>",
                )
            elif not artifact.folder:
                yield Problem(
                    path,
                    f"{uri} names a bucket but no model folder in it",
                    "point at the folder with config.json and the weights, e.g. s3://bucket/model",
                )
        elif not artifact.claim_is_valid:
            yield Problem(
                path,
                f"{uri} does not start with a PersistentVolumeClaim name",
                "use pvc://<claim>/<path>, with the claim in the serving namespace",
            )
    cpu = cfg.serving.cpu_tier
    if cpu.enabled:
        try:
            parse_gguf_uri(cpu.gguf_uri)
        except UriError:
            yield Problem(
                "serving.cpuTier.ggufUri",
                f"{cpu.gguf_uri!r} is not a GGUF file llama-server can load",
                "use hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf",
            )


def check_engine_settings(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """Settings vLLM would reject at start-up, and resources that are not Kubernetes quantities."""
    for path, model in model_entries(cfg):
        e = model.engine
        if e.max_num_batched_tokens is not None and e.max_num_batched_tokens < e.max_num_seqs:
            yield Problem(
                f"{path}.engine.maxNumBatchedTokens",
                f"{e.max_num_batched_tokens} tokens per step cannot hold {e.max_num_seqs} "
                "sequences (vLLM needs maxNumBatchedTokens >= maxNumSeqs)",
                f"set maxNumBatchedTokens >= {e.max_num_seqs}, or lower maxNumSeqs",
            )
        if model.role in POOLING_ROLES:
            kind = "an embedding" if model.role == "embedding" else "a reranker"
            if e.max_num_batched_tokens is not None and e.max_num_batched_tokens < model.max_context:
                yield Problem(
                    f"{path}.engine.maxNumBatchedTokens",
                    f"{kind} model takes each input in one step (no chunked prefill), but "
                    f"{e.max_num_batched_tokens} < maxContext {model.max_context}",
                    f"set maxNumBatchedTokens >= {model.max_context}, or unset it",
                )
            if e.kv_cache_dtype == "fp8":
                yield Problem(
                    f"{path}.engine.kvCacheDtype",
                    f"{kind} model keeps no KV cache between steps",
                    "remove kvCacheDtype (auto)",
                )
        if model.cpu is not None and not is_cpu_quantity(model.cpu):
            yield Problem(f"{path}.cpu", f"{model.cpu!r} is not a CPU quantity", 'use e.g. "4" or "3500m"')
        if model.memory is not None and not is_memory_quantity(model.memory):
            yield Problem(f"{path}.memory", f"{model.memory!r} is not a memory quantity", "use e.g. 24Gi")
