"""Put two or more runs side by side (e.g. BF16 vs W8A8, plain Service vs llm-d), with ratios to the first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads.benchmark import plots
from workloads.benchmark.render import Document, Image, Section, Table, fmt, to_html, to_markdown
from workloads.benchmark.results import BenchmarkStats

Getter = Callable[[dict[str, Any]], float | None]


def load_summary(path: Path) -> dict[str, Any]:
    """A run's summary.json, given the run directory or the file."""
    file = path / "summary.json" if path.is_dir() else path
    try:
        return dict(json.loads(file.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{file} not found: pass run directories made by `run` (or regenerate with `report RUN_DIR`)"
        ) from None


def _bench(summary: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((b for b in summary["benchmarks"] if b["name"] == name), None)


def _p50(key: str) -> Getter:
    return lambda b: b[key]["p50"] if b and b.get(key) else None


def _sync(getter: Getter) -> Getter:
    def get(summary: dict[str, Any]) -> float | None:
        bench = _bench(summary, "synchronous")
        return getter(bench) if bench else None

    return get


HEADLINE: list[tuple[str, Getter, str]] = [
    ("peak output tok/s", lambda s: s["headline"]["max_output_tokens_per_s"], "higher is better"),
    ("lowest $/M output tokens", lambda s: s["headline"]["min_cost_per_million_output_tokens_usd"],
     "lower is better"),
    ("synchronous TTFT p50 (ms)", _sync(_p50("ttft_ms")), "lower is better"),
    ("synchronous ITL p50 (ms)", _sync(_p50("itl_ms")), "lower is better"),
    ("synchronous latency p50 (s)", _sync(_p50("latency_s")), "lower is better"),
    ("roofline ratio", lambda s: (s.get("roofline") or {}).get("ratio"), "higher is better"),
]  # fmt: skip

PER_BENCHMARK: list[tuple[str, Getter]] = [
    ("out tok/s", lambda b: b["output_tokens_per_s"]),
    ("TTFT p50 ms", _p50("ttft_ms")),
    ("ITL p50 ms", _p50("itl_ms")),
    ("latency p50 s", _p50("latency_s")),
    ("$/M out tok", lambda b: b["cost_per_million_output_tokens_usd"]),
]


def ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def compare(runs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Headline metrics and the benchmarks every run has (by name), each with its ratio to the first run."""
    if len(runs) < 2:
        raise ValueError("compare needs at least two runs")
    base = runs[0][1]
    headline = []
    for metric, get, better in HEADLINE:
        values = {label: get(s) for label, s in runs}
        headline.append(
            {
                "metric": metric,
                "better": better,
                "values": values,
                "ratios": {label: ratio(v, get(base)) for label, v in values.items()},
            }
        )
    common = [b["name"] for b in base["benchmarks"] if all(_bench(s, b["name"]) for _, s in runs[1:])]
    shared = []
    for name in common:
        for metric, get in PER_BENCHMARK:
            values = {label: get(_bench(s, name)) for label, s in runs}  # type: ignore[arg-type]
            base_value = values[runs[0][0]]
            shared.append(
                {
                    "benchmark": name,
                    "metric": metric,
                    "values": values,
                    "ratios": {label: ratio(v, base_value) for label, v in values.items()},
                }
            )
    return {
        "baseline": runs[0][0],
        "runs": {
            label: {
                "status": s["status"],
                "message": s["message"],
                "model": s["run"].get("model"),
                "target": s["run"].get("target"),
            }
            for label, s in runs
        },
        "headline": headline,
        "benchmarks": shared,
    }


def _rows(entries: list[dict[str, Any]], labels: list[str], first: list[str]) -> list[list[str]]:
    rows = []
    for entry in entries:
        cells = [str(entry[k]) for k in first]
        for label in labels:
            cells.append(fmt(entry["values"][label], 2))
        cells += [fmt(entry["ratios"][label], 3) + "x" if entry["ratios"][label] else "-" for label in labels[1:]]
        rows.append(cells)
    return rows


def document(result: dict[str, Any], images: list[Image]) -> Document:
    labels = list(result["runs"])
    base = result["baseline"]
    ratio_cols = [f"{label} / {base}" for label in labels[1:]]
    partial = [label for label, r in result["runs"].items() if r["status"] != "complete"]
    banner = f"Includes partial runs: {', '.join(partial)}" if partial else None
    runs = Table(
        ["run", "status", "model", "endpoint"],
        [[label, r["status"], str(r["model"]), str(r["target"])] for label, r in result["runs"].items()],
    )
    sections = [
        Section("Runs", [runs]),
        Section(
            "Headline",
            [
                Table(
                    ["metric", "better", *labels, *ratio_cols],
                    _rows(result["headline"], labels, ["metric", "better"]),
                )
            ],
        ),
    ]
    if result["benchmarks"]:
        sections.append(
            Section(
                "Benchmarks in every run",
                [
                    Table(
                        ["benchmark", "metric", *labels, *ratio_cols],
                        _rows(result["benchmarks"], labels, ["benchmark", "metric"]),
                    )
                ],
            )
        )
    if images:
        sections.append(Section("Plots", list(images)))
    return Document(f"Benchmark comparison (baseline: {base})", banner, sections)


def write(run_paths: list[Path], labels: list[str] | None, out_dir: Path) -> dict[str, Any]:
    """Write compare.json, compare.md, compare.html and a throughput-latency overlay into `out_dir`."""
    if labels and len(labels) != len(run_paths):
        raise ValueError(f"got {len(labels)} --label for {len(run_paths)} runs; give one per run or none")
    summaries = [load_summary(p) for p in run_paths]
    names = labels or [str(s["run"].get("label") or p.name) for p, s in zip(run_paths, summaries, strict=True)]
    if len(set(names)) != len(names):
        raise ValueError(f"run labels must differ, got {names}; pass --label once per run")
    runs = list(zip(names, summaries, strict=True))
    result = compare(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.json").write_text(json.dumps(result, indent=2))
    series = {label: [BenchmarkStats.from_dict(b) for b in s["benchmarks"]] for label, s in runs}
    images = []
    if any(series.values()):
        plots.throughput_latency(series, out_dir / "plots" / "compare_throughput_latency.png")
        images.append(Image(Path("plots/compare_throughput_latency.png"), "throughput vs latency, all runs"))
    doc = document(result, images)
    (out_dir / "compare.md").write_text(to_markdown(doc))
    (out_dir / "compare.html").write_text(to_html(doc, out_dir))
    return result
