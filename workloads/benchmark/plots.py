"""PNG plots: latency vs throughput curves, TTFT/ITL percentiles, and cost vs load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in containers or CI
import matplotlib.pyplot as plt

from workloads.benchmark.results import PERCENTILES, BenchmarkStats
from workloads.benchmark.slo import Targets


@dataclass(frozen=True)
class CostPoint:
    load: float
    """Delivered output tokens/s."""
    cost: float
    meets: bool | None
    """None when no latency targets were given."""


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput_latency(
    series: Mapping[str, Sequence[BenchmarkStats]], path: Path, targets: Targets | None = None
) -> Path:
    """TTFT, ITL and request latency (p50 solid, the target percentile dashed) against output tokens/s, one
    colour per run; the latency targets as horizontal lines."""
    targets = targets or Targets(percentile="p99")
    pct = targets.percentile
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = (
        (axes[0], "ttft_ms", "TTFT (ms)", "Time to first token", targets.ttft_ms),
        (axes[1], "itl_ms", "ITL (ms)", "Inter-token latency", targets.itl_ms),
        (axes[2], "latency_s", "request latency (s)", "Request latency", None),
    )
    for label, benches in series.items():
        pts = sorted(
            (b for b in benches if b.ttft_ms and b.itl_ms and b.latency_s), key=lambda b: b.output_tokens_per_s
        )
        xs = [b.output_tokens_per_s for b in pts]
        color = None
        for ax, attr, _, _, _ in panels:
            dists = [getattr(b, attr) for b in pts]
            (line,) = ax.plot(xs, [d.p50 for d in dists], "o-", color=color, label=f"{label} p50")
            color = line.get_color()
            upper = [d.at(pct) for d in dists]
            if all(v is not None for v in upper):
                ax.plot(xs, upper, "x--", color=color, label=f"{label} {pct}")
        if len(series) == 1:
            for b in pts:
                axes[0].annotate(b.name, (b.output_tokens_per_s, b.ttft_ms.p50 if b.ttft_ms else 0), fontsize=7,
                                 xytext=(4, 4), textcoords="offset points")  # fmt: skip
    for ax, _, ylabel, title, target in panels:
        if target is not None:
            ax.axhline(target, color="red", linewidth=1, linestyle=":", label=f"target ({pct})")
        ax.set(xlabel="output tokens/s", ylabel=ylabel, title=f"{title} vs throughput")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def percentiles(benches: Sequence[BenchmarkStats], path: Path) -> Path:
    """Grouped bars of TTFT and ITL p50/p90/p99 per benchmark."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [b.name for b in benches]
    width = 0.8 / len(PERCENTILES)
    for ax, attr, title in (
        (axes[0], "ttft_ms", "Time to first token"),
        (axes[1], "itl_ms", "Inter-token latency"),
    ):
        for i, pct in enumerate(PERCENTILES):
            values = [getattr(getattr(b, attr), pct) if getattr(b, attr) else 0.0 for b in benches]
            ax.bar([x + i * width for x in range(len(benches))], values, width, label=pct)
        ax.set_xticks([x + width for x in range(len(benches))], names, rotation=30, ha="right", fontsize=8)
        ax.set(ylabel="ms", title=title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def cost_vs_load(series: Mapping[str, Sequence[CostPoint]], path: Path) -> Path:
    """Cost per million output tokens against delivered output tokens/s, one line per run; load points that
    meet the latency targets filled, those that miss them hollow."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, pts in series.items():
        pts = sorted(pts, key=lambda p: p.load)
        (line,) = ax.plot([p.load for p in pts], [p.cost for p in pts], "-", label=label)
        for p in pts:
            hollow = p.meets is False
            ax.plot(
                p.load, p.cost, "o", color=line.get_color(), markerfacecolor="white" if hollow else line.get_color()
            )
    ax.set(xlabel="delivered output tokens/s (load)", ylabel="USD per million output tokens", title="Cost vs load")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="filled: meets the latency targets", title_fontsize=7)
    return _save(fig, path)
