"""Pure tests: cost and roofline math against hand-computed values, catalog look-ups, status logic."""

from __future__ import annotations

import pytest

from workloads.benchmark import economics
from workloads.benchmark.report import status, summarize
from workloads.benchmark.results import BenchmarkStats, Dist


def test_cost_per_million_tokens_hand_computed() -> None:
    # g6.xlarge at $0.8048/h producing 100 output tokens/s:
    # 0.8048 / 3600 = 0.000223556 $/s; / 100 tok/s = 2.23556e-6 $/token; x 1e6 = $2.23556 per million.
    assert economics.cost_per_million_tokens(0.8048, 100.0) == pytest.approx(2.235556, rel=1e-6)
    # $3.60/h at 1000 tok/s: $0.001/s / 1000 = 1e-6 $/token = $1.00 per million.
    assert economics.cost_per_million_tokens(3.6, 1000.0) == pytest.approx(1.0)
    assert economics.cost_per_million_tokens(1.0, 0.0) is None  # nothing produced: no cost per token
    with pytest.raises(ValueError, match="price per hour"):
        economics.cost_per_million_tokens(-1.0, 10.0)


def test_roofline_hand_computed() -> None:
    # L4: 300 GB/s. Llama 8B in BF16 = 8e9 x 2 bytes = 16 GB -> 300 / 16 = 18.75 tokens/s.
    assert economics.model_bytes(8, 2.0) == 16e9
    assert economics.roofline_tokens_per_s(300, 16e9) == pytest.approx(18.75)
    # H100: 3350 GB/s / 16 GB = 209.375 tokens/s.
    assert economics.roofline_tokens_per_s(3350, 16e9) == pytest.approx(209.375)
    # 25 ms between tokens = 40 tokens/s per stream.
    assert economics.decode_tokens_per_s(25.0) == pytest.approx(40.0)
    with pytest.raises(ValueError):
        economics.roofline_tokens_per_s(0, 16e9)


@pytest.mark.parametrize(
    ("precision", "tokens_per_s"),
    [
        ("bf16", 300 / 16),  # 2 bytes/param -> 16 GB
        ("fp8", 300 / 8),  # 1 byte/param -> 8 GB
        ("w8a8-int8", 300 / 8),
        ("w4a16", 300 / (8 * (0.5 + 2 / 128))),  # 4-bit weights + a BF16 scale per 128 -> 4.125 GB -> 72.73
    ],
)
def test_roofline_from_the_catalog(precision: str, tokens_per_s: float) -> None:
    roof = economics.roofline(gpu_name="L4", bandwidth_gbps=None, gpus=1, params_b=8, precision=precision,
                              weight_bytes=None)  # fmt: skip
    assert roof is not None
    assert roof.bandwidth_gbps == 300
    assert roof.tokens_per_s == pytest.approx(tokens_per_s)


def test_roofline_tensor_parallel_adds_bandwidth_and_flags_override_the_catalog() -> None:
    roof = economics.roofline(gpu_name="L4", bandwidth_gbps=None, gpus=4, params_b=8, precision="bf16",
                              weight_bytes=None)  # fmt: skip
    assert roof is not None and roof.tokens_per_s == pytest.approx(4 * 300 / 16)
    roof = economics.roofline(gpu_name="L4", bandwidth_gbps=100, gpus=1, params_b=None, precision=None,
                              weight_bytes=1e9)  # fmt: skip
    assert roof is not None and roof.tokens_per_s == pytest.approx(100)
    assert economics.roofline(gpu_name=None, bandwidth_gbps=None, gpus=1, params_b=8, precision="bf16",
                              weight_bytes=None) is None  # fmt: skip


def test_pricing_from_catalog_and_flag() -> None:
    price = economics.pricing(cloud="aws", instance_type="g6.xlarge", price_per_hour=None)
    assert price is not None
    assert (price.price_per_hour_usd, price.gpu, price.gpu_count, price.source) == (0.8048, "L4", 1, "catalog")
    assert price.price_date
    flag = economics.pricing(cloud=None, instance_type=None, price_per_hour=2.5)
    assert flag is not None and flag.price_per_hour_usd == 2.5 and flag.source == "--price-per-hour"
    assert economics.pricing(cloud=None, instance_type=None, price_per_hour=None) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cloud": None, "instance_type": "g6.xlarge", "price_per_hour": None}, "needs --cloud"),
        ({"cloud": "aws", "instance_type": "g99.metal", "price_per_hour": None}, "known: "),
        ({"cloud": None, "instance_type": None, "price_per_hour": -1.0}, "--price-per-hour must be >= 0"),
    ],
)
def test_pricing_errors_name_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        economics.pricing(**kwargs)


def test_unknown_gpu_and_precision_are_named() -> None:
    with pytest.raises(ValueError, match=r"--gpu: unknown GPU 'Z9'.*L4"):
        economics.roofline(gpu_name="Z9", bandwidth_gbps=None, gpus=1, params_b=None, precision=None,
                           weight_bytes=1e9)  # fmt: skip
    with pytest.raises(ValueError, match=r"--precision: unknown precision 'int3'"):
        economics.roofline(gpu_name="L4", bandwidth_gbps=None, gpus=1, params_b=8, precision="int3",
                           weight_bytes=None)  # fmt: skip


def _bench(name: str, strategy: str, tps: float, itl_ms: float, concurrency: float) -> BenchmarkStats:
    dist = Dist(p50=itl_ms, p90=itl_ms * 1.5, p99=itl_ms * 2, mean=itl_ms * 1.1)
    return BenchmarkStats(
        name=name, point=name, strategy=strategy, target_rate=None, duration_s=10, successful=10, errored=0,
        incomplete=0, request_rate=1.0, output_tokens_per_s=tps, total_tokens_per_s=tps * 5,
        concurrency_mean=concurrency, prompt_tokens_mean=512, output_tokens_mean=128, ttft_ms=dist,
        itl_ms=dist, tpot_ms=dist, latency_s=dist, delivered_output_tokens_per_s=tps,
    )  # fmt: skip


def test_summary_prices_every_benchmark_and_uses_the_synchronous_one_for_the_roofline() -> None:
    benches = [_bench("synchronous", "synchronous", 15.0, 62.5, 1.0),
               _bench("throughput", "throughput", 400.0, 100.0, 30.0)]  # fmt: skip
    manifest = {"run": {"model": "m"}, "points": [{"name": "sweep", "status": "complete"}]}
    pricing = economics.Pricing(0.8048, "catalog", "aws", "g6.xlarge", "2025-09-01", "L4", 1)
    roof = economics.Roofline(bandwidth_gbps=300, model_bytes=16e9, gpu="L4")
    summary = summarize(manifest, benches, pricing, roof)
    assert summary["status"] == "complete"
    costs = [b["cost_per_million_output_tokens_usd"] for b in summary["benchmarks"]]
    assert costs == pytest.approx([0.8048 / 3600 / 15 * 1e6, 0.8048 / 3600 / 400 * 1e6])  # 14.904, 0.5589
    # 62.5 ms ITL = 16 tokens/s against an 18.75 tokens/s bound: ratio 0.8533.
    assert summary["roofline"]["reference_benchmark"] == "synchronous"
    assert summary["roofline"]["measured_decode_tokens_per_s"] == pytest.approx(16.0)
    assert summary["roofline"]["ratio"] == pytest.approx(16 / 18.75)
    assert summary["headline"]["max_output_tokens_per_s"] == 400.0
    assert summary["headline"]["min_cost_per_million_output_tokens_usd"] == pytest.approx(costs[1])


def test_status_complete_partial_failed() -> None:
    bench = [_bench("constant@1rps", "constant", 10, 50, 1)]
    done = {"name": "a", "status": "complete", "returncode": 0, "log_file": "a.log"}
    cut = {"name": "b", "status": "interrupted", "returncode": -2, "log_file": "b.log"}
    broke = {"name": "b", "status": "failed", "returncode": 1, "log_file": "guidellm/b.log"}
    assert status([done], bench, None)[0] == "complete"
    state, why = status([done, cut], bench, 15)
    assert state == "partial" and "interrupted by signal 15 during b" in why and "1 of 2" in why
    state, why = status([broke], [], None)
    assert state == "failed" and "GuideLLM exited with code 1 during b (log guidellm/b.log)" in why
    assert status([], [], None)[0] == "failed"
