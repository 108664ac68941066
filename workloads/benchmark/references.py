"""Published reference figures (references.yaml) beside the measured ones, for the same model and GPU."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from workloads.benchmark import identity

FILE = Path(__file__).with_name("references.yaml")
METRICS = {
    "single_stream_decode_tokens_per_s": "single-stream decode tokens/s",
    "output_tokens_per_s": "output tokens/s",
    "ttft_ms_p50": "TTFT p50 (ms)",
    "itl_ms_p50": "ITL p50 (ms)",
}


@dataclass(frozen=True)
class Figure:
    model: str
    gpu: str
    precision: str
    engine: str
    workload: str
    metric: str
    value: float
    source: str
    read: str
    concurrency: float | None = None
    note: str | None = None


@cache
def figures(path: Path = FILE) -> tuple[Figure, ...]:
    raw = yaml.safe_load(path.read_text()) or {}
    out = []
    for entry in raw.get("figures", []):
        figure = Figure(**entry)
        if figure.metric not in METRICS:
            raise ValueError(f"{path}: unknown metric {figure.metric!r}; known: {', '.join(METRICS)}")
        out.append(figure)
    return tuple(out)


def _norm(model: str) -> str:
    """'meta-llama/Llama-3.1-8B-Instruct' and 'llama-3.1-8b-instruct' name the same model."""
    return re.sub(r"[^a-z0-9]", "", model.rsplit("/", 1)[-1].lower())


def matching(model: str | None, gpu: str | None) -> list[Figure]:
    if not model or not gpu:
        return []
    return [f for f in figures() if _norm(f.model) == _norm(model) and f.gpu == gpu]


def _nearest(benchmarks: list[dict[str, Any]], concurrency: float | None) -> dict[str, Any] | None:
    usable = [b for b in benchmarks if b.get("successful")]
    if not usable:
        return None
    if concurrency is None:
        sync = [b for b in usable if b["strategy"] == "synchronous"]
        return sync[0] if sync else min(usable, key=lambda b: b["concurrency_mean"])
    return min(usable, key=lambda b: abs(b["concurrency_mean"] - concurrency))


def measured(figure: Figure, benchmarks: list[dict[str, Any]]) -> tuple[float | None, str | None]:
    """The measured counterpart of `figure` and the benchmark it comes from (nearest concurrency)."""
    bench = _nearest(benchmarks, figure.concurrency)
    if bench is None:
        return None, None
    p50 = {k: (bench.get(k) or {}).get("p50") for k in ("ttft_ms", "itl_ms")}
    value = {
        "single_stream_decode_tokens_per_s": 1000.0 / p50["itl_ms"] if p50["itl_ms"] else None,
        "output_tokens_per_s": bench["output_tokens_per_s"],
        "ttft_ms_p50": p50["ttft_ms"],
        "itl_ms_p50": p50["itl_ms"],
    }[figure.metric]
    return value, f"{bench['name']} (concurrency {bench['concurrency_mean']:.1f})"


def for_summary(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Rows of published vs measured figures for this run, and a sentence saying what was matched."""
    run = summary.get("run", {})
    model = run.get("model_id") or run.get("model")
    gpu = (summary.get("pricing") or {}).get("gpu") or (summary.get("roofline") or {}).get("gpu")
    found = matching(model, gpu)
    hardware = identity.hardware(summary.get("pricing"), summary.get("roofline"))
    where = f"{model} on {gpu or hardware or 'this hardware (name it with --instance-type or --gpu)'}"
    if not found:
        return [], f"No published figures for {where} in workloads/benchmark/references.yaml."
    rows = []
    for figure in found:
        value, bench = measured(figure, summary.get("benchmarks", []))
        rows.append({"figure": figure, "measured": value, "measured_at": bench})
    return rows, f"Published figures for {where} (as published; setups differ), beside this run's."
