"""What was benchmarked, from the run's own metadata, and labels that tell compared runs apart.

A run records its model, precision, hardware (instance type or GPU), engine settings (`--engine-arg`),
routing (`--routing`) and scenario. A comparison labels each run by the fields whose values differ between
the runs, so no hand-made label is needed (an explicit `--label` still wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FIELDS = ("model", "precision", "hardware", "routing", "scenario")


def hardware(pricing: dict[str, Any] | None, roofline: dict[str, Any] | None) -> str | None:
    """'aws g6.xlarge (L4)', 'L4', or None when the run names neither an instance type nor a GPU."""
    pricing = pricing or {}
    gpu = pricing.get("gpu") or (roofline or {}).get("gpu")
    if pricing.get("instance_type"):
        where = " ".join(str(x) for x in (pricing.get("cloud"), pricing["instance_type"]) if x)
        return f"{where} ({gpu})" if gpu else f"{where} (CPU)" if pricing.get("source") == "catalog" else where
    return str(gpu) if gpu else None


def of(summary: dict[str, Any]) -> dict[str, str]:
    """The identity fields of a run (manifest or summary), each a short string; unknown fields left out."""
    run = summary.get("run", {})
    out: dict[str, str] = {}
    model = run.get("model_id") or run.get("model")
    if model:
        out["model"] = str(model)
    if run.get("precision"):
        out["precision"] = str(run["precision"])
    hw = hardware(summary.get("pricing"), summary.get("roofline"))
    if hw:
        out["hardware"] = hw
    for key, value in sorted((run.get("engine") or {}).items()):
        out[f"engine.{key}"] = str(value)
    if run.get("routing"):
        out["routing"] = str(run["routing"])
    if run.get("scenario"):
        out["scenario"] = str(run["scenario"])
    return out


def _part(key: str, value: str) -> str:
    if key.startswith("engine."):
        return f"{key.removeprefix('engine.')}={value}"
    return value if key in ("model", "hardware", "precision") else f"{key}={value}"


def describe(fields: dict[str, str], skip: tuple[str, ...] = ()) -> str:
    """The identity fields of one run (but `skip`), for its own report's title."""
    return ", ".join(_part(k, v) for k, v in fields.items() if k not in skip) or "unlabelled run"


def labels(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """One label per run from the fields that differ between them (e.g. 'm7i.large threads=1').

    Runs that differ in nothing recorded are told apart by start time, then by position."""
    fields = [of(s) for s in summaries]
    keys: list[str] = []
    for f in fields:
        keys += [k for k in f if k not in keys]
    differing = [k for k in keys if len({f.get(k, "-") for f in fields}) > 1]
    out = [" ".join(_part(k, f.get(k, "-")) for k in differing) for f in fields]
    if len(set(out)) < len(out):
        starts = [str(s.get("started_at") or "") for s in summaries]
        out = [" ".join(x for x in (label, start) if x) for label, start in zip(out, starts, strict=True)]
    if len(set(out)) < len(out):
        out = [f"{label} #{i}".strip() for i, label in enumerate(out, start=1)]
    return out
