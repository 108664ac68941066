"""Compare two or more runs (e.g. BF16 vs W8A8, L4 vs L40S, plain Service vs llm-d): rank them against
latency targets, name the cheapest that meets them, and put their numbers side by side with ratios to the
first. Runs are labelled from what differs in their own metadata (model, precision, hardware, engine
settings, routing) unless --label is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads.benchmark import capacity, economics, identity, plots, report, slo
from workloads.benchmark.render import Block, Document, Image, Section, Table, fmt, to_html, to_markdown, write_atomic
from workloads.benchmark.results import BenchmarkStats

Getter = Callable[[dict[str, Any]], float | None]


def load_summary(
    path: Path, targets: slo.Targets | None = None, usage: capacity.UsageProfile | None = None
) -> dict[str, Any]:
    """A run's summary evaluated against `targets` and `usage`: rebuilt from a run directory's own results
    (run.json and GuideLLM's JSON), or re-evaluated from a summary.json (no per-request goodput then)."""
    if path.is_dir() and (path / report.MANIFEST).exists():
        manifest = report.read_manifest(path)
        benches, version = report.collect(path, manifest)
        pricing = economics.Pricing(**manifest["pricing"]) if manifest.get("pricing") else None
        roofline = economics.Roofline(**manifest["roofline"]) if manifest.get("roofline") else None
        return report.summarize(manifest, benches, pricing, roofline, version, targets, usage)
    file = path / "summary.json" if path.is_dir() else path
    try:
        saved = dict(json.loads(file.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{file} not found: pass run directories made by `run` (or regenerate with `report RUN_DIR`)"
        ) from None
    benches = [BenchmarkStats.from_dict(b) for b in saved["benchmarks"]]
    pricing = economics.Pricing(**saved["pricing"]) if saved.get("pricing") else None
    roof = saved.get("roofline")
    roofline = economics.Roofline(**{k: roof[k] for k in economics.Roofline.__dataclass_fields__}) if roof else None
    return report.summarize(saved, benches, pricing, roofline, saved.get("guidellm_version"), targets, usage)


def rank(runs: list[tuple[str, dict[str, Any]]], targets: slo.Targets) -> dict[str, Any]:
    """Runs ordered best first: those that meet the targets, cheapest first (at each run's operating point),
    then the rest; and one sentence naming the cheapest configuration that meets the targets."""
    rows = []
    for label, s in runs:
        rec = s["recommendation"]
        rows.append({
            "label": label,
            "meets_targets": rec["meets_targets"],
            "operating_point": rec.get("operating_point"),
            "cost_per_million_output_tokens_usd": rec.get("cost_per_million_output_tokens_usd"),
            "delivered_output_tokens_per_s": rec.get("delivered_output_tokens_per_s"),
            "request_rate": rec.get("request_rate"),
            "goodput_requests_per_s": (rec.get("goodput") or {}).get("requests_per_s"),
            "users_per_day": rec.get("users_per_day"),
            "status": s["status"],
            "note": "" if rec.get("operating_point") else rec["sentence"],
        })  # fmt: skip

    def key(row: dict[str, Any]) -> tuple[int, float, float]:
        usable = row["operating_point"] is not None
        cost = row["cost_per_million_output_tokens_usd"]
        return (0 if usable else 1, cost if cost is not None else float("inf"),
                -(row["delivered_output_tokens_per_s"] or 0.0))  # fmt: skip

    rows.sort(key=key)
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
    return {"targets": targets.to_dict(), "rows": rows, **_verdict(rows, targets)}


def _verdict(rows: list[dict[str, Any]], targets: slo.Targets) -> dict[str, Any]:
    usable = [r for r in rows if r["operating_point"] is not None]
    priced = [r for r in usable if r["cost_per_million_output_tokens_usd"] is not None]
    missing = [r["label"] for r in rows if r["operating_point"] is None]
    goal = f"meets {targets.describe()}" if targets.latency else "keeps failed requests within --max-failed-ratio"
    if not usable:
        closest = rows[0] if rows else None
        why = f" {closest['label']}: {closest['note']}" if closest else ""
        return {"cheapest": None, "sentence": f"No configuration {goal}.{why}"}
    if not priced:
        best = max(usable, key=lambda r: r["delivered_output_tokens_per_s"] or 0.0)
        return {
            "cheapest": None,
            "sentence": f"{len(usable)} configuration(s) {goal}, but none has a price (--instance-type or "
            f"--price-per-hour), so the cheapest cannot be named; the highest load is {best['label']}'s.",
        }
    best = priced[0]
    users = f", about {best['users_per_day']:,.0f} users/day per node" if best["users_per_day"] else ""
    lead = (
        "The cheapest configuration that " + goal
        if targets.latency
        else ("No latency targets given (--slo-ttft-ms, --slo-itl-ms); the cheapest configuration that " + goal)
    )
    sentence = (
        f"{lead} is {best['label']}: ${best['cost_per_million_output_tokens_usd']:,.2f} per million output tokens "
        f"at {best['operating_point']} ({fmt(best['delivered_output_tokens_per_s'])} output tokens/s{users})."
    )  # fmt: skip
    if len(priced) > 1:
        nxt = priced[1]
        factor = nxt["cost_per_million_output_tokens_usd"] / best["cost_per_million_output_tokens_usd"]
        sentence += f" Next: {nxt['label']} at ${nxt['cost_per_million_output_tokens_usd']:,.2f} ({factor:.2f}x)."
    if missing:
        sentence += f" Not meeting the targets: {', '.join(missing)}."
    return {"cheapest": best["label"], "sentence": sentence}


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
                "identity": s.get("identity") or identity.of(s),
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


def _ranking_section(ranking: dict[str, Any]) -> Section:
    table = Table(
        ["rank", "run", "meets targets", "operating point", "$/M out tok", "out tok/s", "req/s", "goodput req/s",
         "users/day per node", "note"],
        [
            [str(r["rank"]), r["label"],
             "-" if r["meets_targets"] is None else "yes" if r["meets_targets"] else "no",
             str(r["operating_point"] or "-"), fmt(r["cost_per_million_output_tokens_usd"], 2),
             fmt(r["delivered_output_tokens_per_s"]), fmt(r["request_rate"], 2), fmt(r["goodput_requests_per_s"], 2),
             fmt(r["users_per_day"], 0), r["note"] or "-"]
            for r in ranking["rows"]
        ],
    )  # fmt: skip
    blocks: list[Block] = [ranking["sentence"], f"Latency targets: {ranking['targets']['description']}.", table]
    return Section("Recommendation", blocks)


def document(result: dict[str, Any], images: list[Image]) -> Document:
    labels = list(result["runs"])
    base = result["baseline"]
    ratio_cols = [f"{label} / {base}" for label in labels[1:]]
    partial = [label for label, r in result["runs"].items() if r["status"] != "complete"]
    banner = f"Includes runs that did not complete: {', '.join(partial)}" if partial else None
    keys: list[str] = []
    for r in result["runs"].values():
        keys += [k for k in r["identity"] if k not in keys]
    runs = Table(
        ["run", "status", *keys, "endpoint"],
        [
            [label, r["status"], *[r["identity"].get(k, "-") for k in keys], str(r["target"])]
            for label, r in result["runs"].items()
        ],
    )
    sections = [
        _ranking_section(result["ranking"]),
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
    sections.append(report.glossary_section())
    return Document(f"Benchmark comparison (baseline: {base})", banner, sections)


def write(
    run_paths: list[Path],
    labels: list[str] | None,
    out_dir: Path,
    targets: slo.Targets | None = None,
    usage: capacity.UsageProfile | None = None,
) -> dict[str, Any]:
    """Write compare.json, compare.md, compare.html and plots (latency and cost overlays) into `out_dir`."""
    if labels and len(labels) != len(run_paths):
        raise ValueError(f"got {len(labels)} --label for {len(run_paths)} runs; give one per run or none")
    targets = targets or slo.Targets()
    usage = usage or capacity.UsageProfile()
    summaries = [load_summary(p, targets, usage) for p in run_paths]
    names = labels or identity.labels(summaries)
    if len(set(names)) != len(names):
        raise ValueError(f"run labels must differ, got {names}; pass --label once per run")
    runs = list(zip(names, summaries, strict=True))
    result = compare(runs)
    result["ranking"] = rank(runs, targets)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "compare.json", json.dumps(result, indent=2))
    series = {label: [BenchmarkStats.from_dict(b) for b in s["benchmarks"]] for label, s in runs}
    images = []
    if any(series.values()):
        plots.throughput_latency(series, out_dir / "plots" / "compare_throughput_latency.png", targets)
        images.append(Image(Path("plots/compare_throughput_latency.png"), "latency vs throughput, all runs"))
    costs = {label: report.cost_points(s) for label, s in runs}
    if any(costs.values()):
        plots.cost_vs_load({k: v for k, v in costs.items() if v}, out_dir / "plots" / "compare_cost_vs_load.png")
        images.append(Image(Path("plots/compare_cost_vs_load.png"), "cost vs load, all runs"))
    doc = document(result, images)
    write_atomic(out_dir / "compare.md", to_markdown(doc))
    write_atomic(out_dir / "compare.html", to_html(doc, out_dir))
    return result
