"""Read GuideLLM's JSON report into the few numbers the report needs.

Latency statistics (TTFT, ITL, TPOT, request latency) are over successful requests. Throughput (output
tokens/s) is over all requests, like GuideLLM's "Server Throughput" table: tokens streamed by requests that
a time limit cut off were still produced by the server. Delivered output tokens/s counts successful requests
only: it is what a user received, and what cost per token is computed from. Request rate counts completed
requests.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PERCENTILES = ("p50", "p90", "p99")
"""Shown in tables and plots; the latency targets may use p95 as well (SLO_PERCENTILES)."""
SLO_PERCENTILES = ("p50", "p90", "p95", "p99")


class ResultsError(ValueError):
    """A GuideLLM JSON file that is not what we expect."""


@dataclass(frozen=True)
class Dist:
    """Percentiles and mean of one metric (None when no request succeeded)."""

    p50: float
    p90: float
    p99: float
    mean: float
    p95: float | None = None
    """None only in summaries written before p95 was kept."""

    @classmethod
    def from_guidellm(cls, metric: dict[str, Any]) -> Dist | None:
        stats = metric["successful"]
        if not stats or not stats.get("count"):
            return None
        pct = stats["percentiles"]
        return cls(p50=pct["p50"], p90=pct["p90"], p99=pct["p99"], mean=stats["mean"], p95=pct.get("p95"))

    def at(self, percentile: str) -> float | None:
        if percentile not in SLO_PERCENTILES:
            raise ValueError(f"unknown percentile {percentile!r}; choose one of: {', '.join(SLO_PERCENTILES)}")
        return float(getattr(self, percentile)) if getattr(self, percentile) is not None else None


@dataclass(frozen=True)
class RequestTiming:
    """One successful request, as GuideLLM measured it (for goodput against any latency targets)."""

    ttft_ms: float | None
    itl_ms: float | None
    latency_s: float | None
    output_tokens: int


@dataclass(frozen=True)
class BenchmarkStats:
    name: str
    point: str
    strategy: str
    target_rate: float | None
    duration_s: float
    successful: int
    errored: int
    incomplete: int
    request_rate: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    concurrency_mean: float
    prompt_tokens_mean: float
    output_tokens_mean: float
    ttft_ms: Dist | None
    itl_ms: Dist | None
    tpot_ms: Dist | None
    latency_s: Dist | None
    delivered_output_tokens_per_s: float = 0.0
    """Output tokens/s of successful requests only (over the same window as output_tokens_per_s)."""
    requests: tuple[RequestTiming, ...] = field(default=(), repr=False, compare=False)
    """Per successful request; kept out of summary.json (rebuilt from GuideLLM's JSON)."""

    @property
    def failed_ratio(self) -> float | None:
        """Errored / (successful + errored); requests cut off by the benchmark's own end are not failures."""
        finished = self.successful + self.errored
        return self.errored / finished if finished else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("requests")
        data["failed_ratio"] = self.failed_ratio
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkStats:
        fields = dict(data)
        for key in ("ttft_ms", "itl_ms", "tpot_ms", "latency_s"):
            value = fields.get(key)
            fields[key] = Dist(**value) if value else None
        known = set(cls.__dataclass_fields__) - {"requests"}
        return cls(**{k: v for k, v in fields.items() if k in known})


def _label(strategy: dict[str, Any]) -> tuple[str, float | None]:
    kind = str(strategy.get("type_", "unknown"))
    rate = strategy.get("rate")
    if rate is None:
        return kind, None
    return f"{kind}@{float(rate):.3g}rps", float(rate)


def _mean(metric: dict[str, Any], group: str) -> float:
    return float(metric[group]["mean"] or 0.0)


def _timings(bench: dict[str, Any]) -> tuple[RequestTiming, ...]:
    out = []
    for req in (bench.get("requests") or {}).get("successful") or []:
        latency = req.get("request_latency")
        out.append(
            RequestTiming(
                ttft_ms=req.get("time_to_first_token_ms"),
                itl_ms=req.get("inter_token_latency_ms"),
                latency_s=float(latency) if latency is not None else None,
                output_tokens=int(req.get("output_tokens") or 0),
            )
        )
    return tuple(out)


def parse_benchmark(bench: dict[str, Any], point: str) -> BenchmarkStats:
    try:
        metrics = bench["metrics"]
        name, rate = _label(bench["config"]["strategy"])
        totals = metrics["request_totals"]
        return BenchmarkStats(
            name=name,
            point=point,
            strategy=str(bench["config"]["strategy"].get("type_")),
            target_rate=rate,
            duration_s=float(bench["duration"]),
            successful=int(totals["successful"]),
            errored=int(totals["errored"]),
            incomplete=int(totals["incomplete"]),
            request_rate=_mean(metrics["requests_per_second"], "successful"),
            output_tokens_per_s=_mean(metrics["output_tokens_per_second"], "total"),
            total_tokens_per_s=_mean(metrics["tokens_per_second"], "total"),
            concurrency_mean=_mean(metrics["request_concurrency"], "successful"),
            prompt_tokens_mean=_mean(metrics["prompt_token_count"], "successful"),
            output_tokens_mean=_mean(metrics["output_token_count"], "successful"),
            ttft_ms=Dist.from_guidellm(metrics["time_to_first_token_ms"]),
            itl_ms=Dist.from_guidellm(metrics["inter_token_latency_ms"]),
            tpot_ms=Dist.from_guidellm(metrics["time_per_output_token_ms"]),
            latency_s=Dist.from_guidellm(metrics["request_latency"]),
            delivered_output_tokens_per_s=_mean(metrics["output_tokens_per_second"], "successful"),
            requests=_timings(bench),
        )
    except (KeyError, TypeError) as err:
        raise ResultsError(
            f"unexpected GuideLLM benchmark layout (missing {err}); was it written by guidellm 0.8?"
        ) from err


def read_json(path: Path) -> dict[str, Any]:
    """GuideLLM's JSON, plain or gzip-compressed (`.json.gz`, e.g. archived or recorded results)."""
    data = path.read_bytes()
    return dict(json.loads(gzip.decompress(data) if path.name.endswith(".gz") else data))


def load(path: Path, point: str) -> tuple[list[BenchmarkStats], str | None]:
    """The benchmarks in one GuideLLM JSON file and the GuideLLM version that wrote it."""
    try:
        report = read_json(path)
    except (OSError, ValueError, EOFError) as err:
        raise ResultsError(f"cannot read GuideLLM results {path}: {err}") from err
    version = report.get("metadata", {}).get("guidellm_version")
    return [parse_benchmark(b, point) for b in report.get("benchmarks", [])], version
