"""GPU, instance and model catalog, loaded from `catalog.yaml` beside this file.

Used by preflight validation (does the model fit? is FP8 supported?), the cost policy and the benchmark
report (price per hour, memory bandwidth). Workload images copy this module and its YAML, so it depends
only on pydantic and PyYAML.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Cloud = Literal["aws", "gcp"]
Precision = Literal["bf16", "fp8", "w8a8-int8", "w4a16"]

FP8_MIN_COMPUTE_CAPABILITY = 8.9

# Bytes per quantized parameter, including the per-group BF16 scales of W4A16 (group size 128).
_BYTES_PER_PARAM: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "w8a8-int8": 1.0, "w4a16": 0.5 + 2 / 128}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuSpec(_Frozen):
    name: str
    memory_gb: float
    bandwidth_gbps: float = Field(description="peak memory bandwidth, GB/s")
    compute_capability: float
    gcp_accelerator: str | None = Field(default=None, description="GKE guest_accelerator type, if on GCP")

    @property
    def fp8(self) -> bool:
        return self.compute_capability >= FP8_MIN_COMPUTE_CAPABILITY


class InstanceSpec(_Frozen):
    cloud: Cloud
    name: str
    vcpus: int
    memory_gb: float
    price_per_hour_usd: float
    price_date: str
    region: str
    gpu: str | None = None
    gpu_count: int = 0
    efa: bool = Field(default=False, description="supports AWS Elastic Fabric Adapter (RDMA between nodes)")


class ModelSpec(_Frozen):
    params_b: float = Field(description="parameters, billions")
    layers: int
    kv_heads: int
    head_dim: int
    embedding_params_b: float = Field(default=0.0, description="input embedding parameters, kept in 16-bit")
    max_context: int


class _CloudSection(_Frozen):
    region: str
    """The region the prices are for."""
    price_date: str
    regions: list[str]
    """Every region of the cloud a stack may name."""
    instances: dict[str, dict[str, object]]


class _CatalogFile(_Frozen):
    gpus: dict[str, dict[str, object]]
    clouds: dict[Cloud, _CloudSection]
    models: dict[str, ModelSpec]


@cache
def _load() -> _CatalogFile:
    raw = yaml.safe_load((Path(__file__).with_name("catalog.yaml")).read_text())
    return _CatalogFile.model_validate(raw)


@cache
def gpus() -> dict[str, GpuSpec]:
    return {name: GpuSpec.model_validate({"name": name, **spec}) for name, spec in _load().gpus.items()}


@cache
def instances(cloud: Cloud) -> dict[str, InstanceSpec]:
    section = _load().clouds[cloud]
    return {
        name: InstanceSpec.model_validate(
            {"cloud": cloud, "name": name, "price_date": section.price_date, "region": section.region, **spec}
        )
        for name, spec in section.instances.items()
    }


def regions(cloud: Cloud) -> list[str]:
    """The regions of `cloud` a stack may run in (the catalog's prices are for `price_region(cloud)`)."""
    return list(_load().clouds[cloud].regions)


def price_region(cloud: Cloud) -> str:
    """The region whose list prices the catalog holds."""
    return _load().clouds[cloud].region


def models() -> dict[str, ModelSpec]:
    return dict(_load().models)


def gpu(name: str) -> GpuSpec:
    try:
        return gpus()[name]
    except KeyError:
        raise KeyError(f"unknown GPU {name!r}; known: {', '.join(sorted(gpus()))}") from None


def instance(cloud: Cloud, name: str) -> InstanceSpec:
    known = instances(cloud)
    if name not in known:
        raise KeyError(f"unknown {cloud} instance type {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def bytes_per_param(precision: str) -> float:
    try:
        return _BYTES_PER_PARAM[precision]
    except KeyError:
        raise KeyError(f"unknown precision {precision!r}; known: {', '.join(_BYTES_PER_PARAM)}") from None


def clouds_offering(gpu_name: str) -> list[str]:
    clouds: tuple[Cloud, ...] = ("aws", "gcp")
    return sorted(c for c in clouds if any(i.gpu == gpu_name for i in instances(c).values()))
