"""The run report: summary.json (machine-readable), report.md and report.html, and plots/*.png.

A run directory holds run.json (what was asked and what each GuideLLM invocation did) and guidellm/
(GuideLLM's JSON and logs). The report is rebuilt from those alone, so it can be regenerated later,
e.g. with another price (`python -m workloads.benchmark report RUN_DIR --price-per-hour 2.5`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workloads.benchmark import economics, plots, results
from workloads.benchmark.render import Document, Image, Section, Table, fmt, to_html, to_markdown
from workloads.benchmark.results import BenchmarkStats

SCHEMA = "leanrag.benchmark.summary/v1"
MANIFEST = "run.json"


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is {run_dir} a benchmark run directory?") from None


def collect(run_dir: Path, manifest: dict[str, Any]) -> tuple[list[BenchmarkStats], str | None]:
    """Every benchmark GuideLLM wrote, in point order, and the GuideLLM version."""
    benches: list[BenchmarkStats] = []
    version = None
    for point in manifest.get("points", []):
        if point.get("json_file"):
            found, version = results.load(run_dir / point["json_file"], point["name"])
            benches += found
    return benches, version


def status(points: list[dict[str, Any]], benches: list[BenchmarkStats], signum: int | None) -> tuple[str, str]:
    """('complete' | 'partial' | 'failed', a sentence saying why)."""
    done = [p for p in points if p["status"] == "complete"]
    if points and len(done) == len(points) and benches:
        return "complete", f"all {len(points)} load point(s) finished"
    stopped = next((p for p in points if p["status"] in ("failed", "interrupted")), None)
    if signum is not None:
        where = f" during {stopped['name']}" if stopped else ""
        reason = f"interrupted by signal {signum}{where}"
    elif stopped:
        reason = (
            f"GuideLLM exited with code {stopped['returncode']} during {stopped['name']} (log {stopped['log_file']})"
        )
    else:
        reason = "no load point ran"
    state = "partial" if benches else "failed"
    return (
        state,
        f"{reason}; {len(done)} of {len(points)} load point(s) finished, {len(benches)} benchmark(s) kept",
    )


def _roofline_reference(benches: list[BenchmarkStats]) -> BenchmarkStats | None:
    """The single-stream benchmark: synchronous if there is one, else the least concurrent."""
    with_itl = [b for b in benches if b.itl_ms]
    sync = [b for b in with_itl if b.strategy == "synchronous"]
    pool = sync or with_itl
    return min(pool, key=lambda b: b.concurrency_mean) if pool else None


def summarize(
    manifest: dict[str, Any],
    benches: list[BenchmarkStats],
    pricing: economics.Pricing | None,
    roofline: economics.Roofline | None,
    guidellm_version: str | None = None,
) -> dict[str, Any]:
    state, message = status(manifest.get("points", []), benches, manifest.get("signal"))
    rows = []
    bound = roofline.tokens_per_s if roofline else None
    for b in benches:
        decode = economics.decode_tokens_per_s(b.itl_ms.p50) if b.itl_ms else None
        rows.append({
            **b.to_dict(),
            "cost_per_million_output_tokens_usd": (
                economics.cost_per_million_tokens(pricing.price_per_hour_usd, b.output_tokens_per_s)
                if pricing else None
            ),
            "decode_tokens_per_s_per_stream": decode,
            "roofline_ratio": decode / bound if decode and bound else None,
        })  # fmt: skip
    roof: dict[str, Any] | None = None
    if roofline:
        ref = _roofline_reference(benches)
        measured = economics.decode_tokens_per_s(ref.itl_ms.p50) if ref and ref.itl_ms else None
        roof = {
            **roofline.to_dict(),
            "reference_benchmark": ref.name if ref else None,
            "measured_decode_tokens_per_s": measured,
            "ratio": measured / roofline.tokens_per_s if measured else None,
        }
    costs = [r["cost_per_million_output_tokens_usd"] for r in rows if r["cost_per_million_output_tokens_usd"]]
    return {
        "schema": SCHEMA,
        "status": state,
        "partial": state != "complete",
        "message": message,
        "run": manifest.get("run", {}),
        "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"),
        "guidellm_version": guidellm_version,
        "points": manifest.get("points", []),
        "pricing": pricing.to_dict() if pricing else None,
        "roofline": roof,
        "headline": {
            "max_output_tokens_per_s": max((b.output_tokens_per_s for b in benches), default=None),
            "min_cost_per_million_output_tokens_usd": min(costs, default=None),
        },
        "benchmarks": rows,
    }


def _pct(d: dict[str, Any] | None, key: str, scale: float = 1.0) -> str:
    return fmt(d[key] * scale) if d else "-"


def _limits(run: dict[str, Any]) -> str:
    parts = []
    if run.get("max_seconds") is not None:
        parts.append(f"{run['max_seconds']:g} s")
    if run.get("max_requests") is not None:
        parts.append(f"{run['max_requests']} requests")
    return "at most " + " or ".join(parts) if parts else "-"


def document(summary: dict[str, Any], images: list[Image]) -> Document:
    run = summary["run"]
    title = f"Benchmark: {run.get('scenario', '?')} on {run.get('model', '?')}"
    banner = None
    if summary["partial"]:
        banner = f"PARTIAL RESULTS ({summary['status']}): {summary['message']}"
    setup = Table(["setting", "value"], [
        ["endpoint", str(run.get("target"))],
        ["model", str(run.get("model"))],
        ["scenario", f"{run.get('scenario')}: {run.get('prompt_tokens')} prompt / {run.get('output_tokens')} "
                     "output tokens (synthetic)"],
        ["request format", str(run.get("request_format"))],
        ["profile", f"{run.get('profile')} {run.get('rates') or ''}".strip()],
        ["limits per benchmark", _limits(run)],
        ["label", str(run.get("label") or "-")],
        ["GuideLLM", str(summary.get("guidellm_version"))],
        ["started / finished", f"{summary.get('started_at')} / {summary.get('finished_at')}"],
        ["status", f"{summary['status']}: {summary['message']}"],
    ])  # fmt: skip
    header = [
        "benchmark",
        "req/s",
        "out tok/s",
        "conc.",
        "TTFT p50/p90/p99 ms",
        "ITL p50/p90/p99 ms",
        "TPOT p50 ms",
        "latency p50/p90/p99 s",
        "ok/err/cut",
        "$/M out tok",
        "roofline",
    ]
    rows = []
    for b in summary["benchmarks"]:
        trip = {k: " / ".join(_pct(b[k], p) for p in ("p50", "p90", "p99")) for k in ("ttft_ms", "itl_ms")}
        lat = " / ".join(_pct(b["latency_s"], p) if b["latency_s"] else "-" for p in ("p50", "p90", "p99"))
        rows.append([
            b["name"], fmt(b["request_rate"], 2), fmt(b["output_tokens_per_s"]),
            fmt(b["concurrency_mean"], 2),
            trip["ttft_ms"], trip["itl_ms"], _pct(b["tpot_ms"], "p50"), lat,
            f"{b['successful']}/{b['errored']}/{b['incomplete']}",
            fmt(b["cost_per_million_output_tokens_usd"], 2),
            fmt(b["roofline_ratio"], 3),
        ])  # fmt: skip
    sections = [
        Section("Setup", [setup]),
        Section("Results", [Table(header, rows) if rows else "No benchmark finished."]),
    ]
    econ: list[str | Table | Image] = []
    pricing = summary.get("pricing")
    if pricing:
        where = (
            f"{pricing['cloud']} {pricing['instance_type']}, catalog price of {pricing['price_date']}"
            if pricing["source"] == "catalog"
            else "given with --price-per-hour"
        )
        econ.append(
            f"Node price: ${pricing['price_per_hour_usd']:.4f}/hour ({where}). Cost per million output "
            "tokens = price per hour / 3600 / output tokens per second x 1e6, per benchmark."
        )
    else:
        econ.append("No price given (--instance-type with --cloud, or --price-per-hour): cost not computed.")
    roof = summary.get("roofline")
    if roof:
        econ.append(
            f"Memory-bandwidth roofline: {fmt(roof['bandwidth_gbps'])} GB/s ({roof.get('gpu') or 'given'}"
            f" x{roof.get('gpus', 1)}) / {roof['model_bytes'] / 1e9:.3f} GB of weights = "
            f"{fmt(roof['decode_tokens_per_s_upper_bound'])} tokens/s upper bound for one stream. "
            f"Measured single-stream decode ({roof.get('reference_benchmark')}, 1000 / ITL p50): "
            f"{fmt(roof.get('measured_decode_tokens_per_s'))} tokens/s, ratio {fmt(roof.get('ratio'), 3)}."
        )
    else:
        econ.append(
            "No roofline: give --gpu (or --instance-type) or --bandwidth-gbps, and --model-params-b with "
            "--precision, or --model-bytes."
        )
    sections.append(Section("Cost and roofline", econ))
    if images:
        sections.append(Section("Plots", list(images)))
    point_rows = [
        [
            p["name"],
            p["status"],
            str(p.get("returncode")),
            f"{p.get('seconds', 0):.0f}",
            str(p.get("log_file") or "-"),
            str(p.get("last_progress") or "-"),
        ]
        for p in summary["points"]
    ]
    sections.append(
        Section(
            "GuideLLM invocations",
            [Table(["point", "status", "exit", "seconds", "log", "last progress"], point_rows)],
        )
    )
    return Document(title, banner, sections)


def write(
    run_dir: Path,
    pricing: economics.Pricing | None = None,
    roofline: economics.Roofline | None = None,
) -> dict[str, Any]:
    """Write summary.json, report.md, report.html and plots/ into `run_dir`; return the summary.

    Pricing and roofline default to those recorded in run.json."""
    manifest = read_manifest(run_dir)
    if pricing is None and manifest.get("pricing"):
        pricing = economics.Pricing(**manifest["pricing"])
    if roofline is None and manifest.get("roofline"):
        roofline = economics.Roofline(**manifest["roofline"])
    benches, version = collect(run_dir, manifest)
    summary = summarize(manifest, benches, pricing, roofline, version)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    images: list[Image] = []
    if benches:
        plots.throughput_latency(
            {str(manifest["run"].get("label") or "run"): benches},
            run_dir / "plots" / "throughput_latency.png",
        )
        plots.percentiles(benches, run_dir / "plots" / "ttft_itl_percentiles.png")
        images = [
            Image(Path("plots/throughput_latency.png"), "throughput vs latency"),
            Image(Path("plots/ttft_itl_percentiles.png"), "TTFT and ITL percentiles"),
        ]
    doc = document(summary, images)
    (run_dir / "report.md").write_text(to_markdown(doc))
    (run_dir / "report.html").write_text(to_html(doc, run_dir))
    return summary
