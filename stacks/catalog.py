"""GPU, instance, price and model catalog, loaded from `catalog.yaml` beside this file.

Used by preflight validation (does the model fit? is FP8 supported?), the stack's cost estimate
(`stacks/cost.py`: instance, spot, storage, network and control-plane prices, the usage assumptions) and the
benchmark report (price per hour, memory bandwidth). Every price carries its date and source. Workload images
copy this module and its YAML, so it depends only on pydantic and PyYAML.
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
    """On-demand list price."""
    price_date: str
    """When the price was read (the cloud's price_date unless the instance has its own)."""
    region: str
    gpu: str | None = None
    gpu_count: int = 0
    spot_price_per_hour_usd: float | None = None
    """Spot price from the last price refresh; None: on-demand x (1 - the cloud's spot discount)."""
    efa: bool = Field(default=False, description="supports AWS Elastic Fabric Adapter (RDMA between nodes)")


class Price(_Frozen):
    """One dated list price of a cloud service."""

    usd: float
    unit: str
    date: str
    source: str
    free_tier_monthly_usd: float | None = None
    """A monthly credit the provider grants against this price, where its conditions apply."""


class SpotDiscount(_Frozen):
    """The typical spot saving on a cloud, for instances without a refreshed spot price."""

    discount: float = Field(ge=0, lt=1)
    date: str
    source: str


class Assumptions(_Frozen):
    """Usage the estimate cannot read from the config."""

    nat_gb_per_month: float
    load_balancer_gb_per_month: float
    load_balancer_proxy_instances: int
    bucket_gb: float
    benchmark_reports_gb: float


class ModelSpec(_Frozen):
    params_b: float = Field(description="parameters, billions")
    layers: int
    kv_heads: int
    head_dim: int
    embedding_params_b: float = Field(default=0.0, description="input embedding parameters, kept in 16-bit")
    max_context: int


PriceKey = Literal[
    "control_plane_hour",
    "nat_gateway_hour",
    "nat_vm_hour",
    "nat_gb",
    "public_ipv4_hour",
    "load_balancer_hour",
    "load_balancer_proxy_hour",
    "load_balancer_gb",
    "block_storage_gb_month",
    "object_storage_gb_month",
]


class CloudPrices(_Frozen):
    """A cloud's region, where its instance prices come from, its spot discount and its service prices."""

    region: str
    """The region the prices are for."""
    price_date: str
    price_source: str
    spot: SpotDiscount
    prices: dict[PriceKey, Price]
    regions: list[str]
    """Every region of the cloud a stack may name."""
    instances: dict[str, dict[str, object]]

    def price(self, key: PriceKey) -> Price:
        if key not in self.prices:
            raise KeyError(f"catalog.yaml: no price {key!r} for the cloud of region {self.region}")
        return self.prices[key]


class _CatalogFile(_Frozen):
    gpus: dict[str, dict[str, object]]
    clouds: dict[Cloud, CloudPrices]
    assumptions: Assumptions
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


def validate(raw: object) -> None:
    """Raise pydantic's ValidationError when `raw` (a parsed catalog.yaml) is not a valid catalog."""
    _CatalogFile.model_validate(raw)


def cloud(name: Cloud) -> CloudPrices:
    """A cloud's region, spot discount and service prices."""
    return _load().clouds[name]


def assumptions() -> Assumptions:
    return _load().assumptions


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
