"""A real GuideLLM run against a real llama.cpp server, and the report built from it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from benchmark_helpers import run_cli

from local.llm_server import LlmServer
from stacks.catalog import instance

pytestmark = pytest.mark.slow

PRICE = 0.8
BANDWIDTH_GBPS = 20.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sync_run(
    tmp_path_factory: pytest.TempPathFactory,
    llm_server: LlmServer,
    api_key_file: Path,
    tokenizer_dir: Path,
    gguf: Path,
) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("sync") / "run"
    done = run_cli(
        "run", "--target", f"{llm_server.base_url}/v1", "--api-key-file", api_key_file,
        "--scenario", "smoke", "--profile", "synchronous", "--max-requests", "5", "--max-seconds", "120",
        "--workers", "1",
        "--tokenizer", tokenizer_dir, "--output-dir", out, "--label", "cpu",
        "--price-per-hour", str(PRICE), "--bandwidth-gbps", str(BANDWIDTH_GBPS),
        "--model-bytes", str(gguf.stat().st_size),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out, json.loads((out / "summary.json").read_text()), done.stdout + done.stderr


def test_run_completes_with_one_synchronous_benchmark(sync_run: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, output = sync_run
    assert summary["status"] == "complete" and summary["partial"] is False
    assert summary["guidellm_version"] == "0.8.1"
    assert summary["run"]["model"] == "SmolLM2-135M-Instruct"
    assert summary["run"]["request_format"] == "/v1/completions"
    [bench] = summary["benchmarks"]
    assert bench["name"] == "synchronous"
    # --max-requests 5 ends the benchmark (not the 120 s limit), however slow the machine.
    assert bench["successful"] >= 4 and bench["successful"] + bench["incomplete"] + bench["errored"] <= 6
    assert bench["errored"] == 0
    assert "GuideLLM synchronous: starting" in output  # progress is shown


def test_metrics_are_present_positive_and_ordered(sync_run: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, _ = sync_run
    [bench] = summary["benchmarks"]
    for metric in ("ttft_ms", "itl_ms", "tpot_ms", "latency_s"):
        dist = bench[metric]
        assert 0 < dist["p50"] <= dist["p90"] <= dist["p99"], (metric, dist)
    assert bench["output_tokens_per_s"] > 0
    assert bench["request_rate"] > 0
    assert 0 < bench["concurrency_mean"] <= 1.0  # synchronous: one request at a time
    # The smoke scenario asks for 64 prompt and 16 output tokens (ignore_eos), and the server delivers them.
    assert bench["prompt_tokens_mean"] == pytest.approx(64, abs=2)
    assert bench["output_tokens_mean"] == pytest.approx(16)


def test_cost_is_computed_from_the_given_price(sync_run: tuple[Path, dict[str, Any], str]) -> None:
    _, summary, _ = sync_run
    [bench] = summary["benchmarks"]
    assert summary["pricing"]["price_per_hour_usd"] == PRICE
    assert summary["pricing"]["source"] == "--price-per-hour"
    expected = PRICE / 3600 / bench["output_tokens_per_s"] * 1e6
    assert bench["cost_per_million_output_tokens_usd"] == pytest.approx(expected)
    assert summary["headline"]["min_cost_per_million_output_tokens_usd"] == pytest.approx(expected)


def test_roofline_ratio_uses_bandwidth_and_model_bytes(sync_run: tuple[Path, dict[str, Any], str], gguf: Path) -> None:
    _, summary, _ = sync_run
    roof = summary["roofline"]
    bound = BANDWIDTH_GBPS * 1e9 / gguf.stat().st_size
    assert roof["decode_tokens_per_s_upper_bound"] == pytest.approx(bound)
    itl_p50 = summary["benchmarks"][0]["itl_ms"]["p50"]
    assert roof["reference_benchmark"] == "synchronous"
    assert roof["measured_decode_tokens_per_s"] == pytest.approx(1000 / itl_p50)
    assert roof["ratio"] == pytest.approx(1000 / itl_p50 / bound)


def test_markdown_and_html_report_show_the_numbers(sync_run: tuple[Path, dict[str, Any], str]) -> None:
    run_dir, summary, _ = sync_run
    bench = summary["benchmarks"][0]
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert "PARTIAL" not in md
    row = next(line for line in md.splitlines() if line.startswith("| synchronous |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[2].replace(",", "")) == pytest.approx(bench["output_tokens_per_s"], abs=0.06)
    assert float(cells[9].replace(",", "")) == pytest.approx(bench["cost_per_million_output_tokens_usd"], abs=0.006)
    assert f"${PRICE:.4f}/hour" in md
    plots = ("throughput_latency.png", "ttft_itl_percentiles.png", "cost_vs_load.png")  # cost: the run is priced
    for name in plots:
        assert (run_dir / "plots" / name).read_bytes().startswith(PNG_MAGIC)
        assert f"plots/{name}" in md
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == len(plots)
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in images)
    assert "<td>synchronous</td>" in html


def test_api_key_is_written_nowhere(sync_run: tuple[Path, dict[str, Any], str], llm_server: LlmServer) -> None:
    run_dir, _, output = sync_run
    assert llm_server.api_key not in output
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert llm_server.api_key.encode() not in path.read_bytes(), path


def test_report_can_be_rebuilt_with_another_price(sync_run: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    run_dir, summary, _ = sync_run
    copy = tmp_path / "run"
    copy.mkdir()
    for item in ("run.json", "guidellm"):
        src = run_dir / item
        if src.is_dir():
            (copy / item).mkdir()
            for f in src.iterdir():
                (copy / item / f.name).write_bytes(f.read_bytes())
        else:
            (copy / item).write_bytes(src.read_bytes())
    done = run_cli("report", copy, "--price-per-hour", str(PRICE * 2))
    assert done.returncode == 0, done.stderr
    rebuilt = json.loads((copy / "summary.json").read_text())
    before = summary["benchmarks"][0]["cost_per_million_output_tokens_usd"]
    assert rebuilt["benchmarks"][0]["cost_per_million_output_tokens_usd"] == pytest.approx(2 * before)
    assert rebuilt["roofline"] == summary["roofline"]  # kept from run.json


def test_compare_two_runs_side_by_side(sync_run: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    run_dir, summary, _ = sync_run
    # A second "run": the same results priced as a node at four times the price (compare re-evaluates a
    # summary.json from its numbers and its price, against the comparison's targets).
    other = json.loads(json.dumps(summary))
    other["pricing"]["price_per_hour_usd"] *= 4
    (tmp_path / "other.json").write_text(json.dumps(other))
    done = run_cli("compare", run_dir, tmp_path / "other.json", "--label", "cheap", "--label", "dear",
                   "--output-dir", tmp_path / "cmp")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert result["baseline"] == "cheap"
    cost = next(h for h in result["headline"] if h["metric"] == "lowest $/M output tokens")
    assert cost["ratios"]["dear"] == pytest.approx(4.0)
    tps = next(h for h in result["headline"] if h["metric"] == "peak output tok/s")
    assert tps["ratios"]["dear"] == pytest.approx(1.0)
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "dear / cheap" in md and "4.000x" in md
    assert (tmp_path / "cmp" / "plots" / "compare_throughput_latency.png").read_bytes().startswith(PNG_MAGIC)


def test_cpu_smoke_run_computes_cost_from_a_catalog_cpu_instance(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path
) -> None:
    """What the local demo runs (one synchronous smoke point on CPU), priced as the catalog's 2-vCPU m7i.large
    (this machine has 2 cores): the report carries a computed cost and a recommendation, not "cost not
    computed"."""
    out = tmp_path / "demo"
    done = run_cli(
        "run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
        "--profile", "synchronous", "--max-requests", "4", "--max-seconds", "60", "--workers", "1",
        "--tokenizer", tokenizer_dir, "--output-dir", out, "--label", "demo-smoke",
        "--cloud", "aws", "--instance-type", "m7i.large", "--slo-ttft-ms", "30000", "--slo-itl-ms", "2000",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    pricing = summary["pricing"]
    assert (pricing["source"], pricing["cloud"], pricing["instance_type"], pricing["gpu"]) == (
        "catalog",
        "aws",
        "m7i.large",
        None,
    )
    catalog = instance("aws", "m7i.large")
    assert pricing["price_per_hour_usd"] == catalog.price_per_hour_usd
    [bench] = summary["benchmarks"]
    expected = catalog.price_per_hour_usd / 3600 / bench["delivered_output_tokens_per_s"] * 1e6
    assert bench["cost_per_million_output_tokens_usd"] == pytest.approx(expected)
    rec = summary["recommendation"]
    assert rec["operating_point"] == "synchronous" and rec["meets_targets"] is True
    assert rec["cost_per_million_output_tokens_usd"] == pytest.approx(expected)
    assert rec["users_per_day"] > 0
    md = (out / "report.md").read_text()
    assert "cost not computed" not in md
    node = f"${catalog.price_per_hour_usd:.4f}/hour (aws m7i.large, catalog price of {catalog.price_date})"
    assert f"Node price: {node}" in md
    assert f"${expected:,.2f} per million output tokens" in md
    assert "aws m7i.large (CPU)" in md
    assert "No published figures for SmolLM2-135M-Instruct on aws m7i.large (CPU)" in md
    assert "## Glossary" in md and "| Goodput |" in md
    # GuideLLM's own reports sit next to ours, linked from it.
    for name in ("synchronous.html", "synchronous.csv"):
        assert (out / "guidellm" / name).stat().st_size > 0
        assert f"](guidellm/{name})" in md
        assert f'<a href="guidellm/{name}">' in (out / "report.html").read_text()
    assert f"${expected:,.2f} per million output tokens" in done.stdout
