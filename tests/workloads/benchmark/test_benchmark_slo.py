"""Pure tests: latency targets, goodput, failed requests in status and cost, capacity, labels, references."""

from __future__ import annotations

import dataclasses

import pytest

from workloads.benchmark import capacity, economics, identity, references, slo
from workloads.benchmark.report import status, summarize
from workloads.benchmark.results import BenchmarkStats, Dist, RequestTiming


def _dist(p50: float, p95: float) -> Dist:
    return Dist(p50=p50, p90=p95 * 0.9, p99=p95 * 1.2, mean=p50, p95=p95)


def _bench(
    name: str = "constant@1rps",
    *,
    ok: int = 10,
    errored: int = 0,
    ttft_p95: float = 300.0,
    itl_p95: float = 40.0,
    total_tps: float = 100.0,
    delivered_tps: float = 100.0,
    rate: float = 1.0,
    requests: tuple[RequestTiming, ...] = (),
) -> BenchmarkStats:
    return BenchmarkStats(
        name=name, point=name, strategy="constant", target_rate=rate, duration_s=10, successful=ok,
        errored=errored, incomplete=0, request_rate=rate, output_tokens_per_s=total_tps,
        total_tokens_per_s=total_tps * 5, concurrency_mean=1.0, prompt_tokens_mean=64, output_tokens_mean=16,
        ttft_ms=_dist(ttft_p95 / 2, ttft_p95) if ok else None, itl_ms=_dist(itl_p95 / 2, itl_p95) if ok else None,
        tpot_ms=None, latency_s=None, delivered_output_tokens_per_s=delivered_tps, requests=requests,
    )  # fmt: skip


DONE = {"name": "p", "status": "complete", "returncode": 0, "log_file": "p.log"}


def test_half_the_requests_failing_fails_the_run_and_names_it() -> None:
    half = _bench(ok=5, errored=5)
    state, why = status([DONE], [half], None)
    assert state == "failed-requests"
    assert "too many failed requests (constant@1rps: 5 of 10 (50%); allowed 5%, --max-failed-ratio)" in why
    # Within the threshold: complete. The threshold is configurable.
    assert status([DONE], [_bench(ok=99, errored=1)], None)[0] == "complete"
    assert status([DONE], [half], None, slo.Targets(max_failed_ratio=0.5))[0] == "complete"
    assert status([DONE], [_bench(ok=0, errored=10)], None)[0] == "failed-requests"


def test_an_interruption_is_reported_before_failed_requests() -> None:
    cut = {"name": "q", "status": "interrupted", "returncode": -2, "log_file": "q.log"}
    state, why = status([DONE, cut], [_bench(ok=5, errored=5)], 15)
    assert state == "partial"
    assert why.startswith("interrupted by signal 15 during q; too many failed requests")


def test_cost_counts_the_node_time_of_failed_requests() -> None:
    # Half the requests failed: the server produced 200 output tokens/s, users received 100.
    # $0.72/h = $0.0002/s; / 100 delivered tokens/s = $2e-6 per token = $2.00 per million (not $1.00).
    half = _bench(ok=5, errored=5, total_tps=200.0, delivered_tps=100.0)
    manifest = {"run": {"output_tokens": 16}, "points": [DONE]}
    summary = summarize(manifest, [half], economics.Pricing(0.72, "--price-per-hour"), None)
    [row] = summary["benchmarks"]
    assert row["cost_per_million_output_tokens_usd"] == pytest.approx(2.0)
    assert row["failed_ratio"] == pytest.approx(0.5)
    assert summary["status"] == "failed-requests"
    # Nothing delivered: no cost per token at all, rather than a cheap-looking one.
    none = _bench(ok=0, errored=10, total_tps=50.0, delivered_tps=0.0)
    summary = summarize(manifest, [none], economics.Pricing(0.72, "--price-per-hour"), None)
    assert summary["benchmarks"][0]["cost_per_million_output_tokens_usd"] is None


def test_misses_name_each_target() -> None:
    targets = slo.Targets(ttft_ms=500, itl_ms=50, percentile="p95")
    assert slo.misses(_bench(ttft_p95=480, itl_p95=49), targets) == []
    assert slo.misses(_bench(ttft_p95=812, itl_p95=60), targets) == [
        "TTFT p95 812 ms > 500 ms",
        "ITL p95 60.0 ms > 50.0 ms",
    ]
    assert slo.misses(_bench(ok=8, errored=2), targets) == ["20% of requests failed (2 of 10; allowed 5%)"]
    assert slo.misses(_bench(ok=0, errored=3), targets) == ["no request succeeded"]
    # Other percentiles read other columns: p99 = 1.2 x p95 in this fixture.
    assert slo.misses(_bench(ttft_p95=450), slo.Targets(ttft_ms=500, percentile="p99")) == ["TTFT p99 540 ms > 500 ms"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentile": "p97"}, "--slo-percentile must be one of p50, p90, p95, p99"),
        ({"ttft_ms": 0}, "--slo-ttft-ms must be a positive"),
        ({"itl_ms": -5}, "--slo-itl-ms must be a positive"),
        ({"max_failed_ratio": 1.0}, "--max-failed-ratio must be between 0"),
    ],
)
def test_bad_targets_name_the_flag(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        slo.Targets(**kwargs)


def test_goodput_judges_each_request_with_guidellms_rule() -> None:
    reqs = (
        RequestTiming(ttft_ms=100, itl_ms=20, latency_s=0.5, output_tokens=16),  # meets both
        RequestTiming(ttft_ms=900, itl_ms=20, latency_s=1.2, output_tokens=16),  # TTFT too slow
        RequestTiming(ttft_ms=100, itl_ms=80, latency_s=1.3, output_tokens=16),  # ITL too slow
        RequestTiming(ttft_ms=200, itl_ms=30, latency_s=0.6, output_tokens=32),  # meets both
        RequestTiming(ttft_ms=150, itl_ms=None, latency_s=0.2, output_tokens=1),  # one token: no ITL, not judged
    )
    bench = _bench(ok=5, errored=1, rate=2.0, delivered_tps=81.0, requests=reqs)
    good = slo.goodput(bench, slo.Targets(ttft_ms=500, itl_ms=50))
    assert good is not None
    # Judged: 4 successful with both measurements + 1 errored = 5; conforming 2 -> attainment 0.4.
    assert good.judged_requests == 5
    assert good.attainment == pytest.approx(2 / 5)
    # 2 of the 5 successful requests conform: 2.0 req/s x 2/5 = 0.8 req/s;
    # their 48 of the 81 successful output tokens: 81 tok/s x 48/81 = 48 tok/s.
    assert good.requests_per_s == pytest.approx(0.8)
    assert good.output_tokens_per_s == pytest.approx(48.0)
    assert slo.goodput(bench, slo.Targets()) is None  # no latency targets: no goodput


def test_operating_point_is_the_highest_load_that_meets_the_targets() -> None:
    light = _bench("constant@1rps", ttft_p95=200, delivered_tps=50)
    medium = _bench("constant@2rps", ttft_p95=450, delivered_tps=95)
    heavy = _bench("constant@3rps", ttft_p95=2000, delivered_tps=120)
    failing = _bench("constant@4rps", ttft_p95=300, delivered_tps=130, ok=80, errored=20)
    targets = slo.Targets(ttft_ms=500)
    assert slo.operating_point([light, medium, heavy, failing], targets) is medium
    assert slo.operating_point([heavy], targets) is None


def test_capacity_in_users_per_day_hand_computed() -> None:
    # 100 output tokens/s x 86,400 s = 8.64M tokens/day; a user asks 20 x 300 = 6,000 tokens/day;
    # peak 3x the average: 8.64M / (6,000 x 3) = 480 users.
    profile = capacity.UsageProfile(requests_per_user_per_day=20, output_tokens_per_request=300, peak_to_average=3)
    assert capacity.users_per_day(100.0, profile, scenario_output_tokens=128) == pytest.approx(480.0)
    # Without tokens per request, the scenario's: 8.64M / (20 x 128 x 3) = 1,125.
    assert capacity.users_per_day(100.0, capacity.UsageProfile(), 128) == pytest.approx(1125.0)
    with pytest.raises(ValueError, match="--peak-to-average must be at least 1"):
        capacity.UsageProfile(peak_to_average=0.5)


def test_summary_recommends_the_operating_point_with_cost_goodput_and_capacity() -> None:
    light = _bench("constant@1rps", ttft_p95=200, delivered_tps=50, rate=1.0)
    heavy = _bench("constant@3rps", ttft_p95=2000, delivered_tps=120, rate=3.0)
    manifest = {"run": {"output_tokens": 16, "model": "m"}, "points": [DONE]}
    targets = slo.Targets(ttft_ms=500, itl_ms=50)
    summary = summarize(manifest, [light, heavy], economics.Pricing(0.36, "--price-per-hour"), None,
                        targets=targets, usage=capacity.UsageProfile(10, None, 2))  # fmt: skip
    rec = summary["recommendation"]
    assert rec["operating_point"] == "constant@1rps" and rec["meets_targets"] is True
    # $0.36/h / 3600 / 50 tok/s x 1e6 = $2.00; 50 tok/s x 86,400 / (10 x 16 x 2) = 13,500 users/day.
    assert rec["cost_per_million_output_tokens_usd"] == pytest.approx(2.0)
    assert rec["users_per_day"] == pytest.approx(13_500)
    assert rec["sentence"].startswith("At TTFT p95 <= 500 ms and ITL p95 <= 50 ms, the highest load that meets")
    assert "$2.00 per million output tokens" in rec["sentence"] and "13,500 users/day" in rec["sentence"]
    assert [b["meets_targets"] for b in summary["benchmarks"]] == [True, False]
    none = summarize(manifest, [heavy], None, None, targets=targets)["recommendation"]
    assert none["operating_point"] is None and none["meets_targets"] is False
    assert none["sentence"] == (
        "No load point meets TTFT p95 <= 500 ms and ITL p95 <= 50 ms: even the lightest (constant@3rps) has "
        "TTFT p95 2,000 ms > 500 ms."
    )


def _summary(**run: object) -> dict:
    pricing = run.pop("pricing", None)
    return {"run": run, "pricing": pricing, "roofline": None, "started_at": run.pop("started", None)}


def test_labels_come_from_what_differs_between_runs() -> None:
    aws_l4 = {"cloud": "aws", "instance_type": "g6.xlarge", "gpu": "L4", "source": "catalog"}
    aws_l40s = {"cloud": "aws", "instance_type": "g6e.xlarge", "gpu": "L40S", "source": "catalog"}
    runs = [
        _summary(model="llama", precision="bf16", pricing=aws_l4, engine={"max-num-seqs": "256"}, scenario="chat"),
        _summary(model="llama", precision="fp8", pricing=aws_l4, engine={"max-num-seqs": "256"}, scenario="chat"),
        _summary(model="llama", precision="fp8", pricing=aws_l40s, engine={"max-num-seqs": "128"}, scenario="chat"),
    ]
    assert identity.labels(runs) == [
        "bf16 aws g6.xlarge (L4) max-num-seqs=256",
        "fp8 aws g6.xlarge (L4) max-num-seqs=256",
        "fp8 aws g6e.xlarge (L40S) max-num-seqs=128",
    ]
    routed = [_summary(model="m", routing="service"), _summary(model="m", routing="llm-d")]
    assert identity.labels(routed) == ["routing=service", "routing=llm-d"]
    same = [
        _summary(model="m", started="2026-12-01T10:00:00+00:00"),
        _summary(model="m", started="2026-12-02T10:00:00+00:00"),
    ]
    assert identity.labels(same) == ["2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00"]
    cpu = {"cloud": "aws", "instance_type": "m7i.large", "gpu": None, "source": "catalog"}
    assert identity.describe(identity.of(_summary(model="m", pricing=cpu, engine={"threads": "2"}))) == (
        "m, aws m7i.large (CPU), threads=2"
    )


def test_references_match_model_and_gpu_and_say_when_none_exist() -> None:
    assert all(f.source.startswith("https://") and f.read for f in references.figures())
    found = references.matching("meta-llama/Llama-3.1-8B-Instruct", "A100-40GB")
    assert [(f.metric, f.value) for f in found] == [("single_stream_decode_tokens_per_s", 75)]
    assert references.matching("llama-3.1-8b-instruct", "A100-40GB") == found  # served names match too
    assert references.matching("meta-llama/Llama-3.1-8B-Instruct", "T4") == []
    sync = dataclasses.replace(_bench("synchronous", itl_p95=30), strategy="synchronous").to_dict()
    rows, sentence = references.for_summary(
        {"run": {"model_id": "meta-llama/Llama-3.1-8B-Instruct"}, "pricing": {"gpu": "A100-40GB"}, "benchmarks": [sync]}
    )
    assert sentence.startswith("Published figures for meta-llama/Llama-3.1-8B-Instruct on A100-40GB")
    assert rows[0]["measured"] == pytest.approx(1000 / 15.0)  # 1000 / ITL p50 (15 ms in this fixture)
    _, sentence = references.for_summary({"run": {"model": "SmolLM2-135M-Instruct"}, "pricing": None, "benchmarks": []})
    assert sentence.startswith("No published figures for SmolLM2-135M-Instruct on this hardware")
