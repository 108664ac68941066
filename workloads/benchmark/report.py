"""The run report: summary.json (machine-readable), report.md and report.html, and plots/*.png.

A run directory holds run.json (what was asked and what each GuideLLM invocation did) and guidellm/
(GuideLLM's JSON, HTML, CSV and logs). The report is rebuilt from those alone, so it can be regenerated
later with another price, other latency targets or another usage profile
(`python -m workloads.benchmark report RUN_DIR --price-per-hour 2.5 --slo-ttft-ms 500`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from workloads.benchmark import capacity, economics, exports, identity, plots, references, results, slo
from workloads.benchmark.glossary import GLOSSARY
from workloads.benchmark.render import (
    Block,
    Document,
    Image,
    Links,
    Section,
    Table,
    fmt,
    to_html,
    to_markdown,
    write_atomic,
)
from workloads.benchmark.results import BenchmarkStats

SCHEMA = "leanrag.benchmark.summary/v2"
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
            for bench in found:  # two sweep rates that round alike get the same GuideLLM name
                names = {b.name for b in benches}
                name, n = bench.name, 2
                while name in names:
                    name, n = f"{bench.name}#{n}", n + 1
                benches.append(dataclasses.replace(bench, name=name) if name != bench.name else bench)
    return benches, version


def _failures(benches: list[BenchmarkStats], targets: slo.Targets) -> str | None:
    failing = [b for b in benches if (b.failed_ratio or 0.0) > targets.max_failed_ratio]
    if not failing:
        return None
    each = ", ".join(
        f"{b.name}: {b.errored} of {b.successful + b.errored} ({b.failed_ratio or 0:.0%})" for b in failing
    )
    return f"too many failed requests ({each}; allowed {targets.max_failed_ratio:.0%}, --max-failed-ratio)"


def status(
    points: list[dict[str, Any]],
    benches: list[BenchmarkStats],
    signum: int | None,
    targets: slo.Targets | None = None,
    stopped_because: str | None = None,
) -> tuple[str, str]:
    """('complete' | 'partial' | 'failed' | 'failed-requests', a sentence saying why).

    An interruption wins (partial, or failed when nothing was kept); then too many failed requests; then a
    GuideLLM failure."""
    targets = targets or slo.Targets()
    done = [p for p in points if p["status"] == "complete"]
    failures = _failures(benches, targets)
    counts = f"{len(done)} of {len(points)} load point(s) finished, {len(benches)} benchmark(s) kept"
    stopped = next((p for p in points if p["status"] in ("failed", "interrupted")), None)
    if signum is not None:
        where = f" during {stopped['name']}" if stopped else ""
        reason = f"interrupted by signal {signum}{where}" + (f"; {failures}" if failures else "")
        return ("partial" if benches else "failed"), f"{reason}; {counts}"
    if failures:
        return "failed-requests", f"{failures}; {counts}"
    if points and len(done) == len(points) and benches:
        return "complete", f"all {len(points)} load point(s) finished"
    if stopped:
        reason = (
            f"GuideLLM exited with code {stopped['returncode']} during {stopped['name']} (log {stopped['log_file']})"
        )
    else:
        reason = stopped_because or "no load point ran"
    return ("partial" if benches else "failed"), f"{reason}; {counts}"


def _roofline_reference(benches: list[BenchmarkStats]) -> BenchmarkStats | None:
    """The single-stream benchmark: synchronous if there is one, else the least concurrent."""
    with_itl = [b for b in benches if b.itl_ms]
    sync = [b for b in with_itl if b.strategy == "synchronous"]
    pool = sync or with_itl
    return min(pool, key=lambda b: b.concurrency_mean) if pool else None


def _cost(pricing: economics.Pricing | None, bench: BenchmarkStats) -> float | None:
    """Per million delivered output tokens: failed requests used the node too, but delivered nothing."""
    if pricing is None:
        return None
    return economics.cost_per_million_tokens(pricing.price_per_hour_usd, bench.delivered_output_tokens_per_s)


def _recommendation(
    run: dict[str, Any],
    benches: list[BenchmarkStats],
    rows: list[dict[str, Any]],
    targets: slo.Targets,
    usage: capacity.UsageProfile,
) -> dict[str, Any]:
    """The operating point and what it means: goodput, cost and capacity, in one sentence too."""
    scenario_tokens = float(run.get("output_tokens") or 0) or (benches[0].output_tokens_mean if benches else 0.0)
    tokens_per_request = usage.tokens_per_request(scenario_tokens)
    profile = (
        f"{usage.requests_per_user_per_day:g} requests per user per day of {tokens_per_request:g} output tokens, "
        f"peak {usage.peak_to_average:g}x the average"
    )
    out: dict[str, Any] = {
        "targets": targets.to_dict(),
        "operating_point": None,
        "meets_targets": None,
        "usage": {**usage.to_dict(), "output_tokens_per_request": tokens_per_request, "description": profile},
        "users_per_day": None,
    }
    if targets.latency:
        point = slo.operating_point(benches, targets)
        out["meets_targets"] = point is not None
    else:  # no latency bound: the highest load that did not fail too often
        usable = [b for b in benches if not slo.misses(b, targets)]
        point = max(usable, key=lambda b: b.delivered_output_tokens_per_s, default=None)
    if point is None:
        if not benches:
            out["sentence"] = "No benchmark finished: nothing to recommend."
        elif targets.latency:
            lowest = min(benches, key=lambda b: b.delivered_output_tokens_per_s)
            why = "; ".join(slo.misses(lowest, targets))
            out["sentence"] = f"No load point meets {targets.describe()}: even the lightest ({lowest.name}) has {why}."
        else:
            out["sentence"] = "No load point kept its failed requests within --max-failed-ratio: nothing to recommend."
        return out
    row = next(r for b, r in zip(benches, rows, strict=True) if b is point)
    users = capacity.users_per_day(
        (row["goodput"] or {}).get("output_tokens_per_s") or point.delivered_output_tokens_per_s,
        usage,
        scenario_tokens,
    )
    out.update(
        operating_point=point.name,
        request_rate=point.request_rate,
        delivered_output_tokens_per_s=point.delivered_output_tokens_per_s,
        goodput=row["goodput"],
        cost_per_million_output_tokens_usd=row["cost_per_million_output_tokens_usd"],
        users_per_day=users,
    )
    cost = row["cost_per_million_output_tokens_usd"]
    cost_text = f"${cost:,.2f} per million output tokens" if cost is not None else "cost not computed (no price)"
    good = row["goodput"]
    goodput_text = (
        f", goodput {fmt(good['requests_per_s'], 2)} req/s ({fmt((good['attainment'] or 0) * 100, 0)}% of "
        "requests within the targets)"
        if good and good.get("requests_per_s") is not None
        else ""
    )
    lead = (
        f"At {targets.describe()}, the highest load that meets the targets is {point.name}"
        if targets.latency
        else f"No latency targets given (--slo-ttft-ms, --slo-itl-ms); at the highest load measured, {point.name}"
    )
    out["sentence"] = (
        f"{lead}: {fmt(point.delivered_output_tokens_per_s)} output tokens/s at "
        f"{fmt(point.request_rate, 2)} req/s{goodput_text}, {cost_text}; one node serves about "
        f"{users:,.0f} users/day ({profile})."
    )
    return out


def summarize(
    manifest: dict[str, Any],
    benches: list[BenchmarkStats],
    pricing: economics.Pricing | None,
    roofline: economics.Roofline | None,
    guidellm_version: str | None = None,
    targets: slo.Targets | None = None,
    usage: capacity.UsageProfile | None = None,
) -> dict[str, Any]:
    run = manifest.get("run", {})
    targets = targets or slo.Targets.from_dict(run.get("targets"))
    usage = usage or capacity.UsageProfile.from_dict(run.get("usage"))
    state, message = status(manifest.get("points", []), benches, manifest.get("signal"), targets,
                            manifest.get("stopped_because"))  # fmt: skip
    rows: list[dict[str, Any]] = []
    bound = roofline.tokens_per_s if roofline else None
    for b in benches:
        decode = economics.decode_tokens_per_s(b.itl_ms.p50) if b.itl_ms else None
        good = slo.goodput(b, targets)
        rows.append(
            {
                **b.to_dict(),
                "cost_per_million_output_tokens_usd": _cost(pricing, b),
                "decode_tokens_per_s_per_stream": decode,
                "roofline_ratio": decode / bound if decode and bound else None,
                "meets_targets": not slo.misses(b, targets) if targets.latency else None,
                "misses": slo.misses(b, targets),
                "goodput": good.to_dict() if good else None,
            }
        )
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
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "status": state,
        "partial": not manifest.get("points") or any(p["status"] != "complete" for p in manifest["points"]),
        "message": message,
        "run": run,
        "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"),
        "signal": manifest.get("signal"),
        "stopped_because": manifest.get("stopped_because"),
        "guidellm_version": guidellm_version,
        "points": manifest.get("points", []),
        "pricing": pricing.to_dict() if pricing else None,
        "roofline": roof,
        "upload": manifest.get("upload"),
        "headline": {
            "max_output_tokens_per_s": max((b.output_tokens_per_s for b in benches), default=None),
            "min_cost_per_million_output_tokens_usd": min(costs, default=None),
        },
        "recommendation": _recommendation(run, benches, rows, targets, usage),
        "benchmarks": rows,
    }
    summary["identity"] = identity.of(summary)
    return summary


def _pct(d: dict[str, Any] | None, key: str, scale: float = 1.0) -> str:
    return fmt(d[key] * scale) if d and d.get(key) is not None else "-"


def _limits(run: dict[str, Any]) -> str:
    parts = []
    if run.get("max_seconds") is not None:
        parts.append(f"{run['max_seconds']:g} s")
    if run.get("max_requests") is not None:
        parts.append(f"{run['max_requests']} requests")
    return "at most " + " or ".join(parts) if parts else "-"


def _meets_cell(b: dict[str, Any]) -> str:
    if b["meets_targets"] is None:
        return "; ".join(b["misses"]) or "-"
    return "yes" if b["meets_targets"] else "no: " + "; ".join(b["misses"])


def _results_table(summary: dict[str, Any]) -> Table:
    pct = summary["recommendation"]["targets"]["percentile"]
    header = [
        "benchmark", "req/s", "out tok/s", "conc.", "TTFT p50/p90/p99 ms", "ITL p50/p90/p99 ms", "TPOT p50 ms",
        "latency p50/p90/p99 s", "ok/err/cut", "$/M out tok", "roofline", "failed", f"TTFT / ITL {pct} ms",
        "goodput req/s (attainment)", "meets targets",
    ]  # fmt: skip
    rows = []
    for b in summary["benchmarks"]:
        trip = {k: " / ".join(_pct(b[k], p) for p in ("p50", "p90", "p99")) for k in ("ttft_ms", "itl_ms")}
        lat = " / ".join(_pct(b["latency_s"], p) for p in ("p50", "p90", "p99"))
        good = b.get("goodput")
        good_text = (
            f"{fmt(good['requests_per_s'], 2)} ({fmt((good['attainment'] or 0) * 100, 0)}%)"
            if good and good.get("requests_per_s") is not None
            else "-"
        )
        failed = b.get("failed_ratio")
        rows.append([
            b["name"], fmt(b["request_rate"], 2), fmt(b["output_tokens_per_s"]),
            fmt(b["concurrency_mean"], 2),
            trip["ttft_ms"], trip["itl_ms"], _pct(b["tpot_ms"], "p50"), lat,
            f"{b['successful']}/{b['errored']}/{b['incomplete']}",
            fmt(b["cost_per_million_output_tokens_usd"], 2),
            fmt(b["roofline_ratio"], 3),
            f"{failed:.0%}" if failed is not None else "-",
            f"{_pct(b['ttft_ms'], pct)} / {_pct(b['itl_ms'], pct)}",
            good_text,
            _meets_cell(b),
        ])  # fmt: skip
    return Table(header, rows)


def _recommendation_section(summary: dict[str, Any]) -> Section:
    rec = summary["recommendation"]
    blocks: list[Block] = [rec["sentence"]]
    if rec.get("operating_point"):
        good = rec.get("goodput") or {}
        blocks.append(
            Table(
                ["", "value"],
                [
                    ["latency targets", rec["targets"]["description"]],
                    ["operating point (highest load that meets them)", rec["operating_point"]],
                    ["delivered output tokens/s", fmt(rec["delivered_output_tokens_per_s"])],
                    ["request rate (req/s)", fmt(rec["request_rate"], 2)],
                    ["goodput (req/s)", fmt(good.get("requests_per_s"), 2)],
                    ["goodput (output tokens/s)", fmt(good.get("output_tokens_per_s"))],
                    ["cost per million output tokens (USD)", fmt(rec["cost_per_million_output_tokens_usd"], 2)],
                    ["capacity (users/day, one node)", fmt(rec["users_per_day"], 0)],
                    ["usage profile", rec["usage"]["description"]],
                ],
            )
        )
    return Section("Recommendation", blocks)


def _economics_section(summary: dict[str, Any]) -> Section:
    econ: list[Block] = []
    pricing = summary.get("pricing")
    if pricing:
        where = (
            f"{pricing['cloud']} {pricing['instance_type']}, catalog price of {pricing['price_date']}"
            if pricing["source"] == "catalog"
            else "given with --price-per-hour"
        )
        econ.append(
            f"Node price: ${pricing['price_per_hour_usd']:.4f}/hour ({where}). Cost per million output "
            "tokens = price per hour / 3600 / delivered output tokens per second x 1e6, per benchmark: the "
            "node is paid for while it serves failed requests too, which deliver nothing."
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
    usage = summary["recommendation"]["usage"]
    econ.append(
        f"Capacity: users/day = output tokens/s at the operating point (its goodput when latency targets are "
        f"given) x 86,400 / ({usage['requests_per_user_per_day']:g} requests per user per day x "
        f"{usage['output_tokens_per_request']:g} output tokens per request x peak-to-average "
        f"{usage['peak_to_average']:g}). Set the profile with --requests-per-user-per-day, "
        "--output-tokens-per-request and --peak-to-average."
    )
    return Section("Cost, capacity and roofline", econ)


def _references_section(summary: dict[str, Any]) -> Section:
    rows, sentence = references.for_summary(summary)
    blocks: list[Block] = [sentence]
    if rows:
        blocks.append(
            Table(
                ["metric", "published", "measured", "measured at", "published setup", "source (read)"],
                [
                    [
                        references.METRICS[r["figure"].metric]
                        + (f" @ concurrency {r['figure'].concurrency:g}" if r["figure"].concurrency else ""),
                        fmt(r["figure"].value, 2),
                        fmt(r["measured"], 2),
                        str(r["measured_at"] or "-"),
                        f"{r['figure'].precision}, {r['figure'].engine}, {r['figure'].workload}",
                        f"{r['figure'].source} ({r['figure'].read})",
                    ]
                    for r in rows
                ],
            )
        )
    return Section("Published reference figures", blocks)


def glossary_section() -> Section:
    return Section("Glossary", [Table(["term", "meaning"], [[term, text] for term, text in GLOSSARY])])


def document(summary: dict[str, Any], images: list[Image], guidellm_reports: list[tuple[str, str]]) -> Document:
    run = summary["run"]
    who = identity.describe(summary.get("identity") or identity.of(summary), skip=("scenario",))
    title = f"Benchmark: {run.get('scenario', '?')} scenario, {who}"
    banner = None
    if summary["status"] != "complete":
        kind = "FAILED" if summary["status"] == "failed-requests" else "PARTIAL RESULTS"
        banner = f"{kind} ({summary['status']}): {summary['message']}"
    engine = ", ".join(f"{k}={v}" for k, v in (run.get("engine") or {}).items()) or "-"
    upload = summary.get("upload") or {}
    setup = Table(["setting", "value"], [
        ["endpoint", str(run.get("target"))],
        ["model", str(run.get("model")) + (f" ({run['model_id']})" if run.get("model_id") else "")],
        ["precision", str(run.get("precision") or "-")],
        ["hardware", str(identity.hardware(summary.get("pricing"), summary.get("roofline")) or "-")],
        ["engine settings", engine],
        ["routing", str(run.get("routing") or "-")],
        ["scenario", f"{run.get('scenario')}: {run.get('prompt_tokens')} prompt / {run.get('output_tokens')} "
                     "output tokens (synthetic)"],
        ["request format", str(run.get("request_format"))],
        ["profile", f"{run.get('profile')} {run.get('rates') or ''}".strip()],
        ["limits per benchmark", _limits(run)],
        ["label", str(run.get("label") or "-")],
        ["GuideLLM", str(summary.get("guidellm_version"))],
        ["started / finished", f"{summary.get('started_at')} / {summary.get('finished_at')}"],
        ["uploaded to", str(upload.get("location") or "-")],
        ["status", f"{summary['status']}: {summary['message']}"],
    ])  # fmt: skip
    sections = [
        _recommendation_section(summary),
        Section("Setup", [setup]),
        Section("Results", [_results_table(summary) if summary["benchmarks"] else "No benchmark finished."]),
        _economics_section(summary),
        _references_section(summary),
    ]
    if images:
        sections.append(Section("Plots", list(images)))
    if guidellm_reports:
        sections.append(Section("GuideLLM's own reports", [Links(guidellm_reports)]))
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
    sections.append(glossary_section())
    return Document(title, banner, sections)


def cost_points(summary: dict[str, Any]) -> list[plots.CostPoint]:
    return [
        plots.CostPoint(b["delivered_output_tokens_per_s"], b["cost_per_million_output_tokens_usd"], b["meets_targets"])
        for b in summary["benchmarks"]
        if b["cost_per_million_output_tokens_usd"] is not None
    ]


def _guidellm_reports(run_dir: Path, manifest: dict[str, Any]) -> list[tuple[str, str]]:
    links = []
    for point in manifest.get("points", []):
        if point.get("json_file"):
            for path in exports.ensure(run_dir / point["json_file"]):
                rel = path.relative_to(run_dir).as_posix()
                links.append((f"{point['name']}: GuideLLM {path.suffix.lstrip('.').upper()} report ({rel})", rel))
    return links


def write(
    run_dir: Path,
    pricing: economics.Pricing | None = None,
    roofline: economics.Roofline | None = None,
    targets: slo.Targets | None = None,
    usage: capacity.UsageProfile | None = None,
) -> dict[str, Any]:
    """Write summary.json, report.md, report.html and plots/ into `run_dir`; return the summary.

    Pricing, roofline, latency targets and usage profile default to those recorded in run.json."""
    manifest = read_manifest(run_dir)
    if pricing is None and manifest.get("pricing"):
        pricing = economics.Pricing(**manifest["pricing"])
    if roofline is None and manifest.get("roofline"):
        roofline = economics.Roofline(**manifest["roofline"])
    benches, version = collect(run_dir, manifest)
    summary = summarize(manifest, benches, pricing, roofline, version, targets, usage)
    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2))
    images: list[Image] = []
    if benches:
        label = str(manifest["run"].get("label") or "run")
        used = slo.Targets.from_dict(summary["recommendation"]["targets"])
        plots.throughput_latency({label: benches}, run_dir / "plots" / "throughput_latency.png", used)
        plots.percentiles(benches, run_dir / "plots" / "ttft_itl_percentiles.png")
        images = [
            Image(Path("plots/throughput_latency.png"), "latency vs throughput"),
            Image(Path("plots/ttft_itl_percentiles.png"), "TTFT and ITL percentiles"),
        ]
        if cost := cost_points(summary):
            plots.cost_vs_load({label: cost}, run_dir / "plots" / "cost_vs_load.png")
            images.append(Image(Path("plots/cost_vs_load.png"), "cost vs load"))
    doc = document(summary, images, _guidellm_reports(run_dir, manifest))
    write_atomic(run_dir / "report.md", to_markdown(doc))
    write_atomic(run_dir / "report.html", to_html(doc, run_dir))
    return summary
