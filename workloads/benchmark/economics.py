"""Cost per million output tokens and the memory-bandwidth roofline: pure math plus catalog look-ups.

Roofline: decoding one sequence reads every weight once per token, so a single stream cannot exceed
    tokens/s = memory bandwidth (bytes/s) / bytes of weights.
KV-cache reads and kernel overheads only lower the real figure; a ratio near 1 means the server is close
to the hardware limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SECONDS_PER_HOUR = 3600.0


def cost_per_million_tokens(price_per_hour_usd: float, tokens_per_s: float) -> float | None:
    """USD per 1e6 tokens when a node costing `price_per_hour_usd` produces `tokens_per_s`."""
    if price_per_hour_usd < 0:
        raise ValueError(f"price per hour must be >= 0, got {price_per_hour_usd}")
    if tokens_per_s <= 0:
        return None
    return price_per_hour_usd / SECONDS_PER_HOUR / tokens_per_s * 1e6


def model_bytes(params_b: float, bytes_per_param: float) -> float:
    """Bytes of weights for `params_b` billion parameters."""
    if params_b <= 0 or bytes_per_param <= 0:
        raise ValueError(
            f"--model-params-b and bytes per parameter must be positive, got {params_b}, {bytes_per_param}"
        )
    return params_b * 1e9 * bytes_per_param


def roofline_tokens_per_s(bandwidth_gbps: float, weight_bytes: float) -> float:
    """Upper bound on single-stream decode tokens/s: bandwidth (GB/s, 1e9 bytes) / weight bytes."""
    if bandwidth_gbps <= 0 or weight_bytes <= 0:
        raise ValueError(f"bandwidth and model bytes must be positive, got {bandwidth_gbps}, {weight_bytes}")
    return bandwidth_gbps * 1e9 / weight_bytes


def decode_tokens_per_s(itl_ms: float) -> float | None:
    """Per-stream decode speed from the inter-token latency (which excludes the first token)."""
    return 1000.0 / itl_ms if itl_ms > 0 else None


@dataclass(frozen=True)
class Pricing:
    price_per_hour_usd: float
    source: str
    """'catalog' or '--price-per-hour'."""
    cloud: str | None = None
    instance_type: str | None = None
    price_date: str | None = None
    gpu: str | None = None
    gpu_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Roofline:
    bandwidth_gbps: float
    model_bytes: float
    gpu: str | None = None
    gpus: int = 1
    precision: str | None = None
    params_b: float | None = None

    @property
    def tokens_per_s(self) -> float:
        return roofline_tokens_per_s(self.bandwidth_gbps, self.model_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decode_tokens_per_s_upper_bound": self.tokens_per_s}


def pricing(*, cloud: str | None, instance_type: str | None, price_per_hour: float | None) -> Pricing | None:
    """From --price-per-hour, or the catalog's entry for --cloud/--instance-type; None if neither."""
    if price_per_hour is not None:
        if price_per_hour < 0:
            raise ValueError(f"--price-per-hour must be >= 0, got {price_per_hour}")
        return Pricing(price_per_hour, "--price-per-hour", cloud=cloud, instance_type=instance_type)
    if instance_type is None:
        return None
    if cloud is None:
        raise ValueError("--instance-type needs --cloud aws|gcp to find its price in the catalog")
    from stacks.catalog import instance

    try:
        spec = instance(cloud, instance_type)  # type: ignore[arg-type]
    except KeyError as err:
        raise ValueError(f"--instance-type: {err.args[0]}") from None
    return Pricing(spec.price_per_hour_usd, "catalog", cloud, instance_type, spec.price_date, spec.gpu, spec.gpu_count)


def roofline(
    *,
    gpu_name: str | None,
    bandwidth_gbps: float | None,
    gpus: int,
    params_b: float | None,
    precision: str | None,
    weight_bytes: float | None,
) -> Roofline | None:
    """Roofline inputs from flags and the catalog; None if the bandwidth or the model size is unknown."""
    if weight_bytes is None and params_b is not None:
        if precision is None:
            raise ValueError("--model-params-b needs --precision bf16|fp8|w8a8-int8|w4a16")
        from stacks.catalog import bytes_per_param

        try:
            weight_bytes = model_bytes(params_b, bytes_per_param(precision))
        except KeyError as err:
            raise ValueError(f"--precision: {err.args[0]}") from None
    if bandwidth_gbps is None and gpu_name is not None:
        from stacks.catalog import gpu

        try:
            bandwidth_gbps = gpu(gpu_name).bandwidth_gbps * gpus
        except KeyError as err:
            raise ValueError(f"--gpu: {err.args[0]}") from None
    if bandwidth_gbps is None or weight_bytes is None:
        return None
    return Roofline(bandwidth_gbps, weight_bytes, gpu_name, gpus, precision, params_b)
