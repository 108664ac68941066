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


@dataclass(frozen=True)
class Point:
    """One GuideLLM invocation. Constant rates run one per invocation, so each finished rate survives an
    interruption; a sweep is one invocation (its rates depend on its own first two benchmarks)."""

    name: str
    profile: dict[str, Any]


def points(load: Load) -> list[Point]:
    if load.profile == "synchronous":
        return [Point("synchronous", {"kind": "synchronous"})]
    if load.profile == "sweep":
        return [Point("sweep", {"kind": "sweep", "sweep_size": load.sweep_size})]
    return [Point(f"constant-{rate:g}rps", {"kind": "constant", "rate": [rate]}) for rate in load.rates]


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
    seed: int = 42,
) -> dict[str, Any]:
    """The file given to `guidellm run --scenario`: everything in one place, the API key included
    (so it never appears on a command line). GuideLLM masks the key in what it writes."""
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
        "outputs": [{"kind": "json", "path": str(output_json)}],
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
