"""Preflight: every problem in a stack's configuration, found before any resource is declared.

Each check returns `Problem`s naming the config key path and a fix; `run` collects all of them so a
user sees every mistake at once. Pure functions over `StackConfig` and the catalog.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stacks import catalog, memory
from stacks.catalog import FP8_MIN_COMPUTE_CAPABILITY, GpuSpec, ModelSpec
from stacks.config import NAMESPACE, StackConfig
from stacks.config.cluster import NodePool
from stacks.config.platform import Resources
from stacks.config.serving import ModelConfig
from stacks.cost import HOURS_PER_MONTH, monthly_gpu_cost_usd

GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")
_PRECISION_ORDER = ["bf16", "fp8", "w8a8-int8", "w4a16"]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{NAMESPACE}:{self.path}: {self.message}\n    fix: {self.fix}"


class PreflightError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the stack configuration:\n{lines}")


@dataclass(frozen=True)
class PoolHardware:
    """What one node of a pool offers, resolved from the catalog (or declared, for `existing`)."""

    gpu: GpuSpec | None
    gpu_count: int


def pool_hardware(cfg: StackConfig, pool: NodePool) -> PoolHardware | None:
    """None when the pool's instance type is unknown (reported by `_check_pools`)."""
    if cfg.cloud == "existing":
        if pool.gpu is None or pool.gpu not in catalog.gpus():
            return PoolHardware(gpu=None, gpu_count=0)
        return PoolHardware(gpu=catalog.gpu(pool.gpu), gpu_count=pool.gpu_count)
    spec = catalog.instances(cfg.cloud).get(pool.instance_type)
    if spec is None:
        return None
    return PoolHardware(gpu=catalog.gpu(spec.gpu) if spec.gpu else None, gpu_count=spec.gpu_count)


def model_shape(model: ModelConfig) -> ModelSpec | None:
    if model.shape is not None:
        return ModelSpec.model_validate(model.shape.model_dump())
    source = model.quantize_from or model.id
    return catalog.models().get(source) or catalog.models().get(model.id)


def _check_cloud(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.cloud in ("aws", "gcp") and not cfg.region:
        example = catalog.instances(cfg.cloud)[next(iter(catalog.instances(cfg.cloud)))].region
        yield Problem(
            "region", f"a region is required for cloud {cfg.cloud}", f"pulumi config set {NAMESPACE}:region {example}"
        )
    if cfg.cloud == "gcp" and not cfg.cluster.gcp.project:
        yield Problem(
            "cluster.gcp.project",
            "a GCP project id is required for cloud gcp",
            "set cluster.gcp.project to your project id",
        )
    if not cfg.cluster.private_endpoint:
        cidrs = cfg.cluster.public_access_cidrs
        if not cidrs:
            yield Problem(
                "cluster.publicAccessCidrs",
                "the API endpoint is public but no CIDRs are allowed",
                "list your office/VPN CIDRs, or set cluster.privateEndpoint: true",
            )
        if any(c.endswith("/0") for c in cidrs):
            yield Problem(
                "cluster.publicAccessCidrs",
                "the public API endpoint is open to the whole internet",
                "replace 0.0.0.0/0 with your office/VPN CIDRs, or set cluster.privateEndpoint: true",
            )


def _check_pools(cfg: StackConfig) -> Iterator[Problem]:
    pools = [("cluster.systemPool", cfg.cluster.system_pool)] + [
        (f"cluster.gpuPools[{i}]", p) for i, p in enumerate(cfg.cluster.gpu_pools)
    ]
    for name, n in Counter(p.name for _, p in pools).items():
        if n > 1:
            yield Problem("cluster.gpuPools", f"pool name {name!r} is used {n} times", "give every pool its own name")
    for path, pool in pools:
        is_gpu_pool = path != "cluster.systemPool"
        if cfg.cloud == "existing":
            if is_gpu_pool and (pool.gpu not in catalog.gpus() or pool.gpu_count < 1):
                yield Problem(
                    f"{path}.gpu",
                    f"GPU pool {pool.name!r} must declare its GPU and gpuCount",
                    f"set gpu to one of {', '.join(catalog.gpus())} and gpuCount >= 1",
                )
            continue
        yield from _check_instance(cfg, path, pool, is_gpu_pool)


def _check_instance(cfg: StackConfig, path: str, pool: NodePool, is_gpu_pool: bool) -> Iterator[Problem]:
    assert cfg.cloud != "existing"
    offered = catalog.instances(cfg.cloud)
    spec = offered.get(pool.instance_type)
    gpu_types = sorted(n for n, s in offered.items() if s.gpu)
    if spec is None:
        other = "gcp" if cfg.cloud == "aws" else "aws"
        elsewhere = catalog.instances(other).get(pool.instance_type)
        if elsewhere is not None and elsewhere.gpu and cfg.cloud not in catalog.clouds_offering(elsewhere.gpu):
            msg = f"{pool.instance_type} is a {other} type with GPU {elsewhere.gpu}, which {cfg.cloud} does not offer"
        elif elsewhere is not None:
            msg = f"{pool.instance_type} is a {other} instance type, not a {cfg.cloud} one"
        else:
            msg = f"unknown {cfg.cloud} instance type {pool.instance_type!r}"
        yield Problem(
            f"{path}.instanceType", msg, f"use one of: {', '.join(gpu_types if is_gpu_pool else sorted(offered))}"
        )
        return
    if pool.gpu is not None and pool.gpu != spec.gpu:
        where = catalog.clouds_offering(pool.gpu) if pool.gpu in catalog.gpus() else []
        why = (
            f"{pool.gpu} is not offered on {cfg.cloud}"
            if cfg.cloud not in where
            else (f"{pool.instance_type} has {spec.gpu or 'no GPU'}, not {pool.gpu}")
        )
        with_gpu = sorted(n for n, s in offered.items() if s.gpu == pool.gpu)
        fix = (
            f"use one of: {', '.join(with_gpu)}"
            if with_gpu
            else f"pick a GPU offered on {cfg.cloud}: " + ", ".join(sorted({s.gpu for s in offered.values() if s.gpu}))
        )
        yield Problem(f"{path}.gpu", why, fix)
    if is_gpu_pool and not spec.gpu:
        yield Problem(
            f"{path}.instanceType",
            f"{pool.instance_type} has no GPU but is listed as a GPU pool",
            f"use a GPU type ({', '.join(gpu_types)}) or move it to systemPool",
        )


def _check_models(cfg: StackConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    models = cfg.serving.models
    for name, n in Counter(m.name for m in models).items():
        if n > 1:
            yield Problem(
                "serving.models", f"served model name {name!r} is used {n} times", "give every model a unique name"
            )
    for i, model in enumerate(models):
        yield from _check_model(cfg, f"serving.models[{i}]", model, secrets)
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


def _check_model(cfg: StackConfig, path: str, model: ModelConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    pool = cfg.pool(model.pool)
    gpu_pools = [p.name for p in cfg.cluster.gpu_pools]
    if pool is None or pool.name == cfg.cluster.system_pool.name:
        yield Problem(
            f"{path}.pool",
            f"model {model.name!r} names pool {model.pool!r}, which is not a GPU pool",
            f"use one of cluster.gpuPools: {', '.join(gpu_pools) or '(none defined)'}",
        )
        return
    if model.min_replicas == 0 and not cfg.serving.autoscaling.enabled:
        yield Problem(
            f"{path}.minReplicas",
            "minReplicas 0 (scale to zero) needs autoscaling",
            "set serving.autoscaling.enabled: true, or minReplicas >= 1",
        )
    gated = model.id.startswith(GATED_PREFIXES) or (model.quantize_from or "").startswith(GATED_PREFIXES)
    if gated and model.artifact_uri is None and "hfToken" not in secrets:
        yield Problem(
            f"{path}.id",
            f"{model.quantize_from or model.id} is gated on Hugging Face and the secret hfToken is missing",
            f"pulumi config set --secret {NAMESPACE}:hfToken hf_...",
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
    yield from _check_fit(path, model, hw)


def _check_fit(path: str, model: ModelConfig, hw: PoolHardware) -> Iterator[Problem]:
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
    lower = _PRECISION_ORDER[_PRECISION_ORDER.index(model.precision) + 1 :]
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


def _check_budget(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.cloud == "existing":
        return
    cost = monthly_gpu_cost_usd(cfg.cloud, [(p.instance_type, p.max_nodes) for p in cfg.cluster.gpu_pools])
    if cost > cfg.monthly_budget_usd:
        yield Problem(
            "monthlyBudgetUsd",
            f"GPU pools at maxNodes cost ${cost:,.0f}/month "
            f"({HOURS_PER_MONTH} h), over the budget of ${cfg.monthly_budget_usd:,.0f}",
            "lower gpuPools[].maxNodes, use smaller/spot instances, or raise monthlyBudgetUsd",
        )


def _check_platform(cfg: StackConfig) -> Iterator[Problem]:
    """Milvus, Redis, the app and the gateway: quantities, namespaces, the cache key."""
    from components.app.gateway_settings import CacheSettings  # components import stacks: import late

    platform = cfg.platform
    sized = {
        "milvus.resources": platform.milvus.resources,
        "milvus.coordinatorResources": platform.milvus.coordinator_resources,
        "milvus.minioResources": platform.milvus.minio_resources,
        "redis.resources": platform.redis.resources,
        "app.resources": platform.app.resources,
        "gateway.resources": platform.gateway.resources,
    }
    for path, resources in sized.items():
        yield from _check_resources(f"platform.{path}", resources)
    others = {
        "serving.namespace": cfg.serving.namespace,
        "platform.namespace": platform.namespace,
        "jobs.namespace": cfg.jobs.namespace,
    }
    for key, ns in others.items():
        if platform.milvus.namespace == ns:
            yield Problem(
                "platform.milvus.namespace",
                f"Milvus needs a namespace of its own (Pod Security baseline), but {ns!r} is also {key}",
                "choose another name, e.g. milvus",
            )
    version = platform.gateway.cache.corpus_version
    try:
        CacheSettings(corpus_version=version)
    except ValueError:
        yield Problem(
            "platform.gateway.cache.corpusVersion",
            f"{version!r} cannot be part of a cache key",
            "use 1-64 letters, digits, '.', '_' or '-', e.g. 2026-11-23 or 2",
        )


def _check_resources(path: str, r: Resources) -> Iterator[Problem]:
    from components.data.kube import is_cpu_quantity, memory_bytes

    for key, value in (("cpu", r.cpu), ("cpuLimit", r.cpu_limit)):
        if value is not None and not is_cpu_quantity(value):
            yield Problem(
                f"{path}.{key}", f"{value!r} is not a CPU quantity", "use cores or millicores, e.g. 2 or 500m"
            )
    memory: dict[str, int] = {}
    for key, value in (("memory", r.memory), ("memoryLimit", r.memory_limit)):
        if value is None:
            continue
        try:
            memory[key] = memory_bytes(value)
        except ValueError as e:
            yield Problem(f"{path}.{key}", str(e).split(";")[0], str(e).split("; ")[-1])
    if "memory" in memory and "memoryLimit" in memory and memory["memoryLimit"] < memory["memory"]:
        yield Problem(
            f"{path}.memoryLimit",
            f"the limit {r.memory_limit} is below the request {r.memory}",
            f"set memoryLimit >= {r.memory}, or leave it out (it defaults to the request)",
        )
    limit = memory.get("memoryLimit", memory.get("memory"))
    if path == "platform.redis.resources" and limit is not None and limit < 128 * 2**20:
        yield Problem(
            f"{path}.memory",
            "Redis needs at least 128Mi (maxmemory is 75% of the limit)",
            "set platform.redis.resources.memory to 128Mi or more",
        )


_BUCKET_SCHEME = {"aws": "s3://", "gcp": "gs://"}
_QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^\d+(\.\d+)?m?$")


def _check_model_sources(cfg: StackConfig) -> Iterator[Problem]:
    """artifactUri: a bucket of this cloud (read with the Run:ai streamer) or pvc://<claim>/<path>; the CPU
    tier's GGUF: hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf."""
    for i, model in enumerate(cfg.serving.models):
        uri, path = model.artifact_uri, f"serving.models[{i}].artifactUri"
        if uri is None:
            continue
        scheme = _BUCKET_SCHEME.get(cfg.cloud)
        if uri.startswith(("s3://", "gs://")):
            if scheme is None or not uri.startswith(scheme):
                where = f"{cfg.cloud} stores models at {scheme}" if scheme else "an existing cluster has no bucket"
                yield Problem(
                    path,
                    f"{uri} is not readable here: {where}",
                    f"use the stack's modelStoreUri ({scheme or 'pvc://<claim>'}...), or pvc://<claim>/<path>",
                )
            elif not uri.split("/", 3)[3:] or not uri.split("/", 3)[3].strip("/"):
                yield Problem(
                    path,
                    f"{uri} names a bucket but no model folder in it",
                    "point at the folder with config.json and the weights, e.g. s3://bucket/model",
                )
        elif uri.startswith("pvc://"):
            claim = uri.removeprefix("pvc://").split("/", 1)[0]
            if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", claim):
                yield Problem(
                    path,
                    f"{uri} does not start with a PersistentVolumeClaim name",
                    "use pvc://<claim>/<path>, with the claim in the serving namespace",
                )
        else:
            yield Problem(
                path,
                f"unsupported artifactUri {uri!r}",
                "use s3:// (aws) or gs:// (gcp), read with the Run:ai streamer, or pvc://<claim>/<path>",
            )
    cpu = cfg.serving.cpu_tier
    if cpu.enabled:
        gguf = cpu.gguf_uri
        hf_ok = gguf.startswith("hf://") and len(gguf.split("/")) >= 5 and gguf.endswith(".gguf")
        pvc_ok = gguf.startswith("pvc://") and gguf.endswith(".gguf") and "/" in gguf.removeprefix("pvc://")
        if not (hf_ok or pvc_ok):
            yield Problem(
                "serving.cpuTier.ggufUri",
                f"{gguf!r} is not a GGUF file llama-server can load",
                "use hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf",
            )


def _check_engine_settings(cfg: StackConfig) -> Iterator[Problem]:
    """Settings vLLM would reject at start-up, and resources that are not Kubernetes quantities."""
    for i, model in enumerate(cfg.serving.models):
        path, e = f"serving.models[{i}]", model.engine
        if e.max_num_batched_tokens is not None and e.max_num_batched_tokens < e.max_num_seqs:
            yield Problem(
                f"{path}.engine.maxNumBatchedTokens",
                f"{e.max_num_batched_tokens} tokens per step cannot hold {e.max_num_seqs} "
                "sequences (vLLM needs maxNumBatchedTokens >= maxNumSeqs)",
                f"set maxNumBatchedTokens >= {e.max_num_seqs}, or lower maxNumSeqs",
            )
        if model.role == "embedding":
            if e.max_num_batched_tokens is not None and e.max_num_batched_tokens < model.max_context:
                yield Problem(
                    f"{path}.engine.maxNumBatchedTokens",
                    "an embedding model prefills each input in one step (no chunked prefill), but "
                    f"{e.max_num_batched_tokens} < maxContext {model.max_context}",
                    f"set maxNumBatchedTokens >= {model.max_context}, or unset it",
                )
            if e.kv_cache_dtype == "fp8":
                yield Problem(
                    f"{path}.engine.kvCacheDtype",
                    "an embedding model keeps no KV cache between steps",
                    "remove kvCacheDtype (auto)",
                )
        if model.cpu is not None and not _CPU.match(model.cpu):
            yield Problem(f"{path}.cpu", f"{model.cpu!r} is not a CPU quantity", 'use e.g. "4" or "3500m"')
        if model.memory is not None and not _QUANTITY.match(model.memory):
            yield Problem(f"{path}.memory", f"{model.memory!r} is not a memory quantity", "use e.g. 24Gi")


def _in_subnet(address: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)
    except ValueError:
        return False


def _check_serving_mode(cfg: StackConfig) -> Iterator[Problem]:
    """llm-d mode, scale to zero, the CPU tier's name and its fallbacks."""
    s = cfg.serving
    names = {m.name: m for m in s.models}
    if s.mode == "llm-d":
        if not s.models:
            yield Problem(
                "serving.mode",
                "llm-d mode routes to GPU model servers, but serving.models is empty",
                "add a model, or use mode: vllm (the CPU tier alone needs no gateway)",
            )
        if cfg.cloud != "gcp" and s.inference_gateway.class_name is None:
            yield Problem(
                "serving.inferenceGateway.className",
                f"llm-d mode on {cfg.cloud} needs a Gateway implementation with InferencePool "
                "support, and the cluster manages none",
                "install one (e.g. Istio) and set className to its GatewayClass, or use mode: vllm",
            )
        address = s.inference_gateway.address
        subnet = cfg.cluster.gcp.subnet_cidr
        if cfg.cloud == "gcp" and address is not None and not _in_subnet(address, subnet):
            yield Problem(
                "serving.inferenceGateway.address",
                f"{address} is not an IP of the cluster subnet "
                f"{cfg.cluster.gcp.subnet_cidr}: GKE's internal gateway takes an address from it",
                "pick an unused IP of cluster.gcp.subnetCidr, or remove address to use the default",
            )
        if not any(s.inference_gateway.scorer_weights.model_dump().values()):
            yield Problem(
                "serving.inferenceGateway.scorerWeights",
                "every scorer weight is 0",
                "give prefixCache, queue or kvCacheUtilization a weight > 0",
            )
    for i, model in enumerate(s.models):
        if model.min_replicas == 0 and s.mode == "vllm" and s.autoscaling.enabled:
            yield Problem(
                f"serving.models[{i}].minReplicas",
                "scale to zero needs a request signal while no "
                "replica runs; in mode vllm only the vLLM pods themselves report one",
                "use mode: llm-d (the endpoint picker counts requests), or minReplicas >= 1",
            )
    cpu = s.cpu_tier
    if cpu.enabled and cpu.name in names:
        yield Problem(
            "serving.cpuTier.name",
            f"{cpu.name!r} is also the name of a GPU model",
            "give the CPU tier its own served model name",
        )
    for name in cpu.fallback_for:
        target = names.get(name)
        if target is not None and target.role != "chat":
            yield Problem(
                "serving.cpuTier.fallbackFor",
                f"{name!r} is a {target.role} model; the CPU tier is a chat model and cannot stand in for it",
                "list only chat models in fallbackFor",
            )


def _check_jobs(cfg: StackConfig) -> Iterator[Problem]:
    """The quantize Job writes to the stack's bucket; the ingest Job reads a bucket of this cloud."""
    for i, model in enumerate(cfg.serving.models):
        if model.quantize_from and cfg.cloud == "existing":
            yield Problem(
                f"serving.models[{i}].quantizeFrom",
                "quantizing in the cluster needs the stack's bucket, which only aws and gcp stacks create",
                "quantize with `python -m workloads.quantize` and set artifactUri to the result",
            )
    source = cfg.jobs.ingest.source_uri
    scheme = _BUCKET_SCHEME.get(cfg.cloud)
    if source and (scheme is None or not source.startswith(scheme)):
        yield Problem(
            "jobs.ingest.sourceUri",
            f"{source!r} is not a {scheme or 'bucket'} URI of this stack's cloud",
            f"use {scheme or 's3:// or gs://'}<bucket>/<prefix>, or leave it empty for the bundled sample corpus"
            if scheme
            else "leave it empty: an existing cluster ingests the bundled sample corpus",
        )


CHECKS: list[Callable[[StackConfig, frozenset[str]], Iterator[Problem]]] = [
    lambda cfg, _: _check_cloud(cfg),
    lambda cfg, _: _check_pools(cfg),
    lambda cfg, secrets: _check_models(cfg, secrets),
    lambda cfg, _: _check_model_sources(cfg),
    lambda cfg, _: _check_engine_settings(cfg),
    lambda cfg, _: _check_serving_mode(cfg),
    lambda cfg, _: _check_budget(cfg),
    lambda cfg, _: _check_platform(cfg),
    lambda cfg, _: _check_jobs(cfg),
]


def run(cfg: StackConfig, secrets_present: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem in `cfg`; `secrets_present` names the secret keys that are set (values never needed)."""
    secrets = frozenset(secrets_present)
    return [p for check in CHECKS for p in check(cfg, secrets)]
