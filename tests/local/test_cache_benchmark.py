"""local/cache_benchmark.py end to end on a small workload (real redis, gateway, tiny upstream)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local import cache_benchmark as bench
from local.envs import ensure_venv

pytestmark = pytest.mark.slow


def test_workload_repeats_popular_questions() -> None:
    questions = bench.workload(100, 10, seed=1)
    assert len(questions) == 100 and len(set(questions)) <= 10
    assert questions == bench.workload(100, 10, seed=1)
    summary = bench.summarize([bench.Sample(True, 0.01), bench.Sample(False, 0.2), bench.Sample(True, 0.02)])
    assert (summary["hits"], summary["misses"]) == (2, 1)
    assert summary["hit_rate"] == pytest.approx(2 / 3)


def test_benchmark_reports_hits_faster_than_misses(tmp_path: Path) -> None:
    ensure_venv("gateway")
    out = tmp_path / "summary.json"
    args = ["--requests", "40", "--questions", "8", "--delay-ms", "200", "--json", str(out)]
    assert bench.main(args) == 0
    summary = json.loads(out.read_text())
    assert summary["misses"] == summary["distinct_questions"]  # each question misses once, then hits
    assert summary["hits"] == 40 - summary["misses"]
    assert summary["hit_p50_ms"] < summary["miss_p50_ms"]
    assert summary["miss_p50_ms"] >= 200
