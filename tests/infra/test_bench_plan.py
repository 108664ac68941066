"""The plan benchmark script (infra/bench_plan.py): its verdict on given timings, and one real run. The timing
itself is the script's to measure (`python -m infra.bench_plan prod`), not a test's: a shared CI machine's
speed would make such a test flaky."""

from infra import bench_plan
from infra.bench_plan import Sample


def test_the_verdict_takes_the_best_run_of_the_chosen_metric():
    samples = [Sample(wall_s=4.0, cpu_s=2.5), Sample(wall_s=2.8, cpu_s=2.6), Sample(wall_s=9.0, cpu_s=2.9)]
    ok, line = bench_plan.verdict("prod", samples, "wall", 3.0)
    assert ok and "wall best 2.80 s median 4.00 s" in line and "best wall 2.80 s <= 3 s: ok" in line
    ok, line = bench_plan.verdict("prod", samples, "cpu", 2.0)
    assert not ok and "CPU best 2.50 s median 2.60 s" in line and "best cpu 2.50 s > 2 s: TOO SLOW" in line


def test_a_real_plan_is_timed_and_a_budget_it_misses_fails(capsys):
    assert bench_plan.main(["local", "--runs", "1", "--max-seconds", "0.01"]) == 1  # no plan takes 10 ms
    out = capsys.readouterr().out
    assert "core(s), load average" in out and "plan local: 1 run(s), wall best" in out and "TOO SLOW" in out


def test_a_plan_that_fails_is_an_error_not_a_time(capsys):
    assert bench_plan.main(["no-such-stack", "--runs", "1"]) == 2
    assert "error: plan no-such-stack exited 2: error: no stack file" in capsys.readouterr().err
