"""PNG plots: throughput vs latency, and TTFT/ITL percentiles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in containers or CI
import matplotlib.pyplot as plt

from workloads.benchmark.results import PERCENTILES, BenchmarkStats


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput_latency(series: Mapping[str, Sequence[BenchmarkStats]], path: Path) -> Path:
    """Request latency and TTFT (p50, p99 dashed) against output tokens/s; one line per run."""
    fig, (ax_lat, ax_ttft) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, benches in series.items():
        pts = sorted((b for b in benches if b.latency_s and b.ttft_ms), key=lambda b: b.output_tokens_per_s)
        xs = [b.output_tokens_per_s for b in pts]
        (line,) = ax_lat.plot(xs, [b.latency_s.p50 for b in pts if b.latency_s], "o-", label=f"{label} p50")
        ax_lat.plot(
            xs,
            [b.latency_s.p99 for b in pts if b.latency_s],
            "x--",
            color=line.get_color(),
            label=f"{label} p99",
        )
        ax_ttft.plot(xs, [b.ttft_ms.p50 for b in pts if b.ttft_ms], "o-", color=line.get_color(), label=f"{label} p50")
        ax_ttft.plot(xs, [b.ttft_ms.p99 for b in pts if b.ttft_ms], "x--", color=line.get_color(), label=f"{label} p99")
        if len(series) == 1:
            for b in pts:
                ax_lat.annotate(
                    b.name,
                    (b.output_tokens_per_s, b.latency_s.p50 if b.latency_s else 0),
                    fontsize=7,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
    ax_lat.set(xlabel="output tokens/s", ylabel="request latency (s)", title="Throughput vs request latency")
    ax_ttft.set(xlabel="output tokens/s", ylabel="TTFT (ms)", title="Throughput vs time to first token")
    for ax in (ax_lat, ax_ttft):
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
