"""Preflight: every problem in a stack's configuration, found before any resource is declared.

Each check returns `Problem`s naming the config key path and a fix; `run` collects all of them so a
user sees every mistake at once. Pure functions over `StackConfig` and the catalog.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stacks import catalog, memory
from stacks.catalog import FP8_MIN_COMPUTE_CAPABILITY, GpuSpec, ModelSpec
from stacks.config import NAMESPACE, StackConfig
from stacks.config.cluster import NodePool
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
        yield Problem("region", f"a region is required for cloud {cfg.cloud}",
                      f"pulumi config set {NAMESPACE}:region {example}")
    if cfg.cloud == "gcp" and not cfg.cluster.gcp.project:
        yield Problem("cluster.gcp.project", "a GCP project id is required for cloud gcp",
                      "set cluster.gcp.project to your project id")
    if not cfg.cluster.private_endpoint:
        cidrs = cfg.cluster.public_access_cidrs
        if not cidrs:
            yield Problem("cluster.publicAccessCidrs", "the API endpoint is public but no CIDRs are allowed",
                          "list your office/VPN CIDRs, or set cluster.privateEndpoint: true")
        if any(c.endswith("/0") for c in cidrs):
            yield Problem("cluster.publicAccessCidrs", "the public API endpoint is open to the whole internet",
                          "replace 0.0.0.0/0 with your office/VPN CIDRs, or set cluster.privateEndpoint: true")


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
                yield Problem(f"{path}.gpu", f"GPU pool {pool.name!r} must declare its GPU and gpuCount",
                              f"set gpu to one of {', '.join(catalog.gpus())} and gpuCount >= 1")
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
            msg = (f"{pool.instance_type} is a {other} type with GPU {elsewhere.gpu}, "
                   f"which {cfg.cloud} does not offer")
        elif elsewhere is not None:
            msg = f"{pool.instance_type} is a {other} instance type, not a {cfg.cloud} one"
        else:
            msg = f"unknown {cfg.cloud} instance type {pool.instance_type!r}"
        yield Problem(f"{path}.instanceType", msg,
                      f"use one of: {', '.join(gpu_types if is_gpu_pool else sorted(offered))}")
        return
    if pool.gpu is not None and pool.gpu != spec.gpu:
        where = catalog.clouds_offering(pool.gpu) if pool.gpu in catalog.gpus() else []
        why = f"{pool.gpu} is not offered on {cfg.cloud}" if cfg.cloud not in where else (
            f"{pool.instance_type} has {spec.gpu or 'no GPU'}, not {pool.gpu}")
        with_gpu = sorted(n for n, s in offered.items() if s.gpu == pool.gpu)
        fix = f"use one of: {', '.join(with_gpu)}" if with_gpu else f"pick a GPU offered on {cfg.cloud}: " + \
            ", ".join(sorted({s.gpu for s in offered.values() if s.gpu}))
        yield Problem(f"{path}.gpu", why, fix)
    if is_gpu_pool and not spec.gpu:
        yield Problem(f"{path}.instanceType", f"{pool.instance_type} has no GPU but is listed as a GPU pool",
                      f"use a GPU type ({', '.join(gpu_types)}) or move it to systemPool")


def _check_models(cfg: StackConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    models = cfg.serving.models
    for name, n in Counter(m.name for m in models).items():
        if n > 1:
            yield Problem("serving.models", f"served model name {name!r} is used {n} times",
                          "give every model a unique name")
    for i, model in enumerate(models):
        yield from _check_model(cfg, f"serving.models[{i}]", model, secrets)
    cpu = cfg.serving.cpu_tier
    for name in cpu.fallback_for:
        if name not in {m.name for m in models}:
            yield Problem("serving.cpuTier.fallbackFor", f"{name!r} is not a served model",
                          f"use names from serving.models: {', '.join(m.name for m in models) or '(none)'}")
    if cpu.fallback_for and not cpu.enabled:
        yield Problem("serving.cpuTier.enabled", "fallbackFor is set but the CPU tier is disabled",
                      "set serving.cpuTier.enabled: true")


def _check_model(cfg: StackConfig, path: str, model: ModelConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    pool = cfg.pool(model.pool)
    gpu_pools = [p.name for p in cfg.cluster.gpu_pools]
    if pool is None or pool.name == cfg.cluster.system_pool.name:
        yield Problem(f"{path}.pool", f"model {model.name!r} names pool {model.pool!r}, which is not a GPU pool",
                      f"use one of cluster.gpuPools: {', '.join(gpu_pools) or '(none defined)'}")
        return
    if model.min_replicas == 0 and not cfg.serving.autoscaling.enabled:
        yield Problem(f"{path}.minReplicas", "minReplicas 0 (scale to zero) needs autoscaling",
                      "set serving.autoscaling.enabled: true, or minReplicas >= 1")
    gated = model.id.startswith(GATED_PREFIXES) or (model.quantize_from or "").startswith(GATED_PREFIXES)
    if gated and model.artifact_uri is None and "hfToken" not in secrets:
        yield Problem(f"{path}.id", f"{model.quantize_from or model.id} is gated on Hugging Face and "
                      "the secret hfToken is missing", f"pulumi config set --secret {NAMESPACE}:hfToken hf_...")
    hw = pool_hardware(cfg, pool)
    if hw is None or hw.gpu is None:
        return  # reported by the pool checks
    tp = model.tensor_parallel
    if tp > hw.gpu_count:
        yield Problem(f"{path}.tensorParallel", f"tensor parallel {tp} needs {tp} GPUs per node, "
                      f"but pool {pool.name!r} has {hw.gpu_count} {hw.gpu.name} per node",
                      f"set tensorParallel <= {hw.gpu_count}, or use an instance type with {tp}+ GPUs")
    elif hw.gpu_count % tp:
        yield Problem(f"{path}.tensorParallel", f"tensor parallel {tp} does not divide the node's "
                      f"{hw.gpu_count} GPUs", f"use a divisor of {hw.gpu_count}")
    if not hw.gpu.fp8:
        for key, value in (("precision", model.precision), ("engine.kvCacheDtype", model.engine.kv_cache_dtype)):
            if value == "fp8":
                yield Problem(f"{path}.{key}", f"FP8 needs compute capability {FP8_MIN_COMPUTE_CAPABILITY}+; "
                              f"{hw.gpu.name} has {hw.gpu.compute_capability}",
                              "use w8a8-int8 or w4a16 weights / kvCacheDtype auto, or an L4, L40S or H100 pool"
                              if key == "precision" else "set engine.kvCacheDtype: auto, or use an L4/L40S/H100 pool")
    replicas_fit = (pool.max_nodes * hw.gpu_count) // tp
    if tp <= hw.gpu_count and model.max_replicas > replicas_fit:
        yield Problem(f"{path}.maxReplicas", f"maxReplicas {model.max_replicas} x {tp} GPU(s) exceeds pool "
                      f"{pool.name!r}: {pool.max_nodes} node(s) x {hw.gpu_count} GPU(s)",
                      f"set maxReplicas <= {replicas_fit} or raise the pool's maxNodes")
    yield from _check_fit(path, model, hw)


def _check_fit(path: str, model: ModelConfig, hw: PoolHardware) -> Iterator[Problem]:
    assert hw.gpu is not None
    shape = model_shape(model)
    if shape is None:
        yield Problem(f"{path}.shape", f"{model.id} is not in the catalog, so its memory cannot be checked",
                      "add shape: {paramsB, layers, kvHeads, headDim} from its config.json, or add it to "
                      "stacks/catalog.yaml")
        return
    if model.max_context > shape.max_context:
        yield Problem(f"{path}.maxContext", f"{model.max_context} exceeds the model's context of "
                      f"{shape.max_context}", f"set maxContext <= {shape.max_context}")

    gpu = hw.gpu

    def fit(precision: str, tp: int) -> memory.MemoryEstimate:
        return memory.estimate(
            shape, precision=precision, max_context=model.max_context, concurrency=model.engine.concurrency,
            kv_cache_dtype=model.engine.kv_cache_dtype, tensor_parallel=tp, gpu_memory_gb=gpu.memory_gb,
            gpu_memory_utilization=model.engine.gpu_memory_utilization)

    est = fit(model.precision, model.tensor_parallel)
    if est.fits:
        return
    hints = []
    tps = [t for t in (2, 4, 8) if model.tensor_parallel < t <= hw.gpu_count and hw.gpu_count % t == 0]
    if tp_ok := next((t for t in tps if fit(model.precision, t).fits), None):
        hints.append(f"tensorParallel: {tp_ok}")
    lower = _PRECISION_ORDER[_PRECISION_ORDER.index(model.precision) + 1:]
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
        yield Problem("monthlyBudgetUsd", f"GPU pools at maxNodes cost ${cost:,.0f}/month "
                      f"({HOURS_PER_MONTH} h), over the budget of ${cfg.monthly_budget_usd:,.0f}",
                      "lower gpuPools[].maxNodes, use smaller/spot instances, or raise monthlyBudgetUsd")


CHECKS: list[Callable[[StackConfig, frozenset[str]], Iterator[Problem]]] = [
    lambda cfg, _: _check_cloud(cfg),
    lambda cfg, _: _check_pools(cfg),
    lambda cfg, secrets: _check_models(cfg, secrets),
    lambda cfg, _: _check_budget(cfg),
]


def run(cfg: StackConfig, secrets_present: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem in `cfg`; `secrets_present` names the secret keys that are set (values never needed)."""
    secrets = frozenset(secrets_present)
    return [p for check in CHECKS for p in check(cfg, secrets)]
