"""Latency targets (SLOs), which load points meet them, goodput, and the highest load that meets them.

A load point (one GuideLLM benchmark) meets the targets when its TTFT and its inter-token latency at the
chosen percentile are within the targets and no more than the allowed share of its requests failed.

Goodput is GuideLLM's definition: requests that meet every target, per second. Each successful request is
judged by GuideLLM's own `GoodputSLO.is_conforming` (the ITL target is its `tpot_ms`, which GuideLLM compares
with the request's inter-token latency); errored requests count as not meeting them; requests cut off by
the benchmark's own end are left out. Attainment is the share of judged requests that met every target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from workloads.benchmark.results import SLO_PERCENTILES, BenchmarkStats

DEFAULT_MAX_FAILED_RATIO = 0.05


@dataclass(frozen=True)
class Targets:
    ttft_ms: float | None = None
    itl_ms: float | None = None
    percentile: str = "p95"
    max_failed_ratio: float = DEFAULT_MAX_FAILED_RATIO
    """Above this share of failed requests a load point fails (and so does the run: exit code 3)."""

    def __post_init__(self) -> None:
        if self.percentile not in SLO_PERCENTILES:
            raise ValueError(f"--slo-percentile must be one of {', '.join(SLO_PERCENTILES)}, got {self.percentile!r}")
        for flag, value in (("--slo-ttft-ms", self.ttft_ms), ("--slo-itl-ms", self.itl_ms)):
            if value is not None and value <= 0:
                raise ValueError(f"{flag} must be a positive number of milliseconds, got {value:g}")
        if not 0 <= self.max_failed_ratio < 1:
            raise ValueError(
                f"--max-failed-ratio must be between 0 (no failure allowed) and 1 (exclusive), got "
                f"{self.max_failed_ratio:g}"
            )

    @property
    def latency(self) -> bool:
        """Whether any latency target was given."""
        return self.ttft_ms is not None or self.itl_ms is not None

    def describe(self) -> str:
        parts = []
        if self.ttft_ms is not None:
            parts.append(f"TTFT {self.percentile} <= {self.ttft_ms:g} ms")
        if self.itl_ms is not None:
            parts.append(f"ITL {self.percentile} <= {self.itl_ms:g} ms")
        return " and ".join(parts) if parts else "no latency targets"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Targets:
        if not data:
            return cls()
        return cls(**{k: data[k] for k in ("ttft_ms", "itl_ms", "percentile", "max_failed_ratio") if k in data})


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def misses(bench: BenchmarkStats, targets: Targets) -> list[str]:
    """Why `bench` does not meet the targets; empty when it does."""
    if bench.successful == 0:
        return ["no request succeeded"]
    out = []
    failed = bench.failed_ratio or 0.0
    if failed > targets.max_failed_ratio:
        out.append(
            f"{failed:.0%} of requests failed ({bench.errored} of {bench.successful + bench.errored}; "
            f"allowed {targets.max_failed_ratio:.0%})"
        )
    pct = targets.percentile
    for name, dist, target in (("TTFT", bench.ttft_ms, targets.ttft_ms), ("ITL", bench.itl_ms, targets.itl_ms)):
        if target is None:
            continue
        value = dist.at(pct) if dist else None
        if value is None:
            out.append(f"{name} {pct} not measured")
        elif value > target:
            out.append(f"{name} {pct} {_ms(value)} > {_ms(target)}")
    return out


@dataclass(frozen=True)
class Goodput:
    attainment: float | None
    """Share of judged requests that met every latency target."""
    requests_per_s: float | None
    output_tokens_per_s: float | None
    judged_requests: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def goodput(bench: BenchmarkStats, targets: Targets) -> Goodput | None:
    """GuideLLM's goodput of one benchmark against `targets`; None without latency targets or request data."""
    if not targets.latency or (bench.successful and not bench.requests):
        return None
    from guidellm.schemas.benchmark.goodput import GoodputSLO  # the library's own per-request verdict

    slo = GoodputSLO(ttft_ms=targets.ttft_ms, tpot_ms=targets.itl_ms)
    conforming = 0
    conforming_tokens = 0
    judged = bench.errored
    for req in bench.requests:
        verdict = slo.is_conforming(ttft_ms=req.ttft_ms, tpot_ms=req.itl_ms, e2el_ms=None)
        if verdict is None:
            continue
        judged += 1
        if verdict:
            conforming += 1
            conforming_tokens += req.output_tokens
    all_tokens = sum(r.output_tokens for r in bench.requests)
    return Goodput(
        attainment=conforming / judged if judged else None,
        # request_rate and delivered tokens/s count successful requests over GuideLLM's measurement window.
        requests_per_s=bench.request_rate * conforming / len(bench.requests) if bench.requests else 0.0,
        output_tokens_per_s=(
            bench.delivered_output_tokens_per_s * conforming_tokens / all_tokens if all_tokens else 0.0
        ),
        judged_requests=judged,
    )


def operating_point(benches: Sequence[BenchmarkStats], targets: Targets) -> BenchmarkStats | None:
    """The highest load (delivered output tokens/s) among the benchmarks that meet the targets."""
    meeting = [b for b in benches if not misses(b, targets)]
    return max(meeting, key=lambda b: b.delivered_output_tokens_per_s, default=None)
