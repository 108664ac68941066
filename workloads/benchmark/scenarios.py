"""Named workloads, load profiles and limits, and the GuideLLM scenario file built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ProfileKind = Literal["synchronous", "sweep", "constant"]
PROFILES: tuple[ProfileKind, ...] = ("synchronous", "sweep", "constant")
REQUEST_FORMATS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}


@dataclass(frozen=True)
class Scenario:
    """Synthetic requests of a fixed shape (GuideLLM's `synthetic_text` data)."""

    name: str
    prompt_tokens: int
    output_tokens: int
    description: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("chat", 512, 128, "interactive chat turn"),
        Scenario("rag", 2048, 256, "retrieval-augmented answer: long prompt of retrieved chunks"),
        Scenario("long-context", 8192, 256, "long document question answering"),
        Scenario("smoke", 64, 16, "tiny requests for tests and CPU servers"),
    )
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown --scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None


@dataclass(frozen=True)
class Load:
    """How requests are sent: one at a time, GuideLLM's sweep, or fixed request rates."""

    profile: ProfileKind
    rates: tuple[float, ...] = ()
    sweep_size: int = 10

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown --profile {self.profile!r}; choose one of: {', '.join(PROFILES)}")
        if self.profile == "constant" and not self.rates:
            raise ValueError("--profile constant needs request rates: add --rate 1,2,4 (requests per second)")
        if self.profile != "constant" and self.rates:
            raise ValueError(f"--rate applies only to --profile constant, not {self.profile!r}; drop --rate")
        if any(r <= 0 for r in self.rates):
            raise ValueError(f"--rate values must be positive requests/s, got {list(self.rates)}")
        if self.sweep_size < 2:
            raise ValueError(f"--sweep-size must be at least 2, got {self.sweep_size}")


@dataclass(frozen=True)
class Limits:
    """Per-benchmark limits; GuideLLM stops a benchmark at whichever comes first."""

    max_seconds: float | None = 120.0
    max_requests: int | None = None

    def __post_init__(self) -> None:
        if self.max_seconds is None and self.max_requests is None:
            raise ValueError("set --max-seconds or --max-requests (or both), or a benchmark never ends")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"--max-seconds must be positive, got {self.max_seconds}")
        if self.max_requests is not None and self.max_requests <= 0:
            raise ValueError(f"--max-requests must be positive, got {self.max_requests}")

    def constraints(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.max_seconds is not None:
            out.append({"kind": "max_duration", "seconds": self.max_seconds})
        if self.max_requests is not None:
            out.append({"kind": "max_requests", "count": self.max_requests})
        return out


SWEEP_MAX_CONCURRENCY = 512
"""GuideLLM's own default for the throughput and constant-rate benchmarks of its sweep."""


@dataclass(frozen=True)
class Point:
    """One GuideLLM invocation, so that every finished point survives an interruption (GuideLLM writes its
    JSON only when an invocation ends). A sweep is planned as GuideLLM plans it (synchronous, then
    throughput, then constant rates between the two measured rates), one invocation each; the constant
    rates are placeholders (profile None) until the first two have run."""

    name: str
    profile: dict[str, Any] | None

    @property
    def planned(self) -> bool:
        return self.profile is not None


def points(load: Load) -> list[Point]:
    if load.profile == "synchronous":
        return [Point("synchronous", {"kind": "synchronous"})]
    if load.profile == "sweep":
        return [
            Point("synchronous", {"kind": "synchronous"}),
            Point("throughput", {"kind": "throughput", "max_concurrency": SWEEP_MAX_CONCURRENCY}),
            *[Point(f"sweep-{i}", None) for i in range(3, load.sweep_size + 1)],
        ]
    return [Point(f"constant-{rate:g}rps", {"kind": "constant", "rate": [rate]}) for rate in load.rates]


def sweep_rates(synchronous_rate: float, throughput_rate: float, sweep_size: int) -> list[float]:
    """GuideLLM's sweep rule: `sweep_size - 1` rates evenly spaced from the synchronous to the throughput
    request rate, without the first (synchronous already ran): `sweep_size - 2` constant rates."""
    if synchronous_rate <= 0 and throughput_rate <= 0:
        raise ValueError(
            "no request succeeded in the synchronous and throughput benchmarks, so the sweep has no rates to run"
        )
    steps = sweep_size - 2
    if steps <= 0:
        return []
    width = (throughput_rate - synchronous_rate) / steps
    # GuideLLM ends its sweep at the first rate that is not positive.
    return [rate for rate in (synchronous_rate + width * i for i in range(1, steps + 1)) if rate > 0]


def sweep_points(rates: list[float]) -> list[Point]:
    """Constant-rate points for the sweep's rates; names stay unique when two rates round alike."""
    out: list[Point] = []
    seen: set[str] = set()
    for rate in rates:
        name = base = f"constant-{rate:.3g}rps"
        n = 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        out.append(Point(name, {"kind": "constant", "rate": [rate], "max_concurrency": SWEEP_MAX_CONCURRENCY}))
    return out


@dataclass(frozen=True)
class Target:
    base_url: str
    model: str
    request_format: str = "/v1/completions"


def guidellm_scenario(
    *,
    point: Point,
    workload: Scenario,
    target: Target,
    limits: Limits,
    tokenizer: str | None,
    output_json: Path,
    api_key: str | None,
    slo: dict[str, float] | None = None,
    seed: int = 42,
) -> dict[str, Any]:
    """The file given to `guidellm run --scenario`: everything in one place, the API key included
    (so it never appears on a command line). GuideLLM masks the key in what it writes.

    GuideLLM writes its JSON (read by the report) and its own HTML and CSV reports beside it. Prompt and
    output texts are left out of them (`sample_size: 0`); every request's timings are kept. `slo` (GuideLLM's
    `ttft_ms`/`tpot_ms` objectives) makes GuideLLM's own reports show goodput too."""
    if not point.planned:
        raise ValueError(f"load point {point.name} has no profile yet (sweep rates come from its first benchmarks)")
    backend: dict[str, Any] = {
        "kind": "openai_http",
        "target": target.base_url,
        "model": target.model,
        "request_format": target.request_format,
        # We check the endpoint ourselves first; llama.cpp has no /health for GuideLLM's own check.
        "validate_backend": False,
    }
    if api_key:
        backend["api_key"] = api_key
    spec: dict[str, Any] = {
        "backend": backend,
        "profile": point.profile,
        "constraints": limits.constraints(),
        "data": [
            {
                "kind": "synthetic_text",
                "prompt_tokens": workload.prompt_tokens,
                "output_tokens": workload.output_tokens,
            }
        ],
        "seed": {"kind": "static", "value": seed},
        "outputs": [
            {"kind": "json", "path": str(output_json)},
            {"kind": "html", "path": str(output_json.with_suffix(".html"))},
            {"kind": "csv", "path": str(output_json.with_suffix(".csv"))},
        ],
        "metrics": {"kind": "generative", "sample_size": 0, **({"slo": slo} if slo else {})},
    }
    if tokenizer:
        spec["tokenizer"] = {"kind": "huggingface_auto", "model": tokenizer}
    return {
        "metadata": {"labels": {"scenario": workload.name, "point": point.name}},
        "spec": spec,
    }


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a GuideLLM scenario without the API key, safe to keep beside the results."""
    backend = dict(config["spec"]["backend"])
    if "api_key" in backend:
        backend["api_key"] = "<redacted>"
    return {**config, "spec": {**config["spec"], "backend": backend}}
