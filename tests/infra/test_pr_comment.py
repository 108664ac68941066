"""What the pull-request workflows post: the offline plans through `leanrag plan`, one comment with the previews
and plans (marker first, cut to GitHub's limit), and the benchmark headline from a real run's summary.json."""

from __future__ import annotations

import json
from pathlib import Path

from infra import pr_comment
from infra.pr_comment import BENCH_MARKER, MAX_COMMENT, PREVIEW_MARKER

FIXTURES = Path(__file__).parent / "fixtures"


def test_plans_run_through_leanrag_and_each_stack_gets_its_markdown(tmp_path):
    code = pr_comment.main(["plan", "--base", "HEAD", "--out", str(tmp_path), "local", "no-such-stack"])
    assert code == 2  # the worst exit code: the unknown stack; the other one is still planned
    local = (tmp_path / "local.md").read_text()
    assert local.startswith("### Offline plan `local`")
    if not pr_comment.plan_supports_diff():
        assert "has no `--diff`: the plan's summary, without a diff" in local and "plan local:" in local
    assert (tmp_path / "local" / "plan.json").exists()
    failed = (tmp_path / "no-such-stack.md").read_text()
    assert "the plan failed (exit 2)" in failed and "no stack file" in failed


def test_the_comment_holds_each_stacks_preview_and_plan_under_one_marker(tmp_path):
    plans, previews = tmp_path / "plans", tmp_path / "previews"
    plans.mkdir()
    previews.mkdir()
    (plans / "dev.md").write_text("### Offline plan `dev` against `origin/main`\n\n**1 changed** · +$12/month\n")
    (plans / "prod.md").write_text("### Offline plan `prod` against `origin/main`\n\nNo changes.\n")
    (previews / "dev.txt").write_text(
        "Previewing update (dev)\n ~ aws:eks/cluster:Cluster update\nResources: 1 to update\n"
    )
    (previews / "dev.outcome").write_text("success\n")
    text = pr_comment.assemble(["dev", "prod"], plans, previews, "https://example.invalid/run/1")
    assert text.startswith(PREVIEW_MARKER + "\n")
    dev, prod = text.split("### Stack `prod`")
    assert "✅ <code>pulumi preview</code> with the policy pack: success" in dev and "Resources: 1 to update" in dev
    assert "**1 changed** · +$12/month" in dev
    assert "`pulumi preview` did not run for `prod` (a fork, or no credentials)" in prod and "No changes." in prod
    assert "[workflow run](https://example.invalid/run/1)" in prod


def test_a_failed_preview_is_marked_and_a_huge_one_keeps_its_tail(tmp_path):
    (tmp_path / "dev.txt").write_text("x" * 50_000 + "\nerror: policy violation eks-endpoint-private\n")
    (tmp_path / "dev.outcome").write_text("failure")
    text = pr_comment.assemble(["dev"], tmp_path, tmp_path)
    assert "❌" in text and "error: policy violation eks-endpoint-private" in text
    assert "the first part is cut" in text and len(text) < 30_000
    assert "No offline plan for `dev` (the job failed)." in text


def test_the_comment_never_exceeds_githubs_limit(tmp_path):
    for stack in ("a", "b", "c", "d"):
        (tmp_path / f"{stack}.md").write_text("y" * 30_000)
    text = pr_comment.assemble(["a", "b", "c", "d"], tmp_path, tmp_path)
    assert len(text) <= MAX_COMMENT and text.rstrip().endswith("the rest is in the workflow's artifacts.")


def test_the_benchmark_headline_from_a_real_run(tmp_path):
    out = tmp_path / "bench.md"
    report = "s3://b/benchmarks/llama-3-1-8b-vllm/20261201/report.html"
    assert pr_comment.main(
        ["bench", "--summary", str(FIXTURES / "benchmark-summary.json"), "--report", report, "--stack", "review-pr-7",
         "--out", str(out)]
    ) == 0  # fmt: skip
    text = out.read_text()
    assert text.startswith(BENCH_MARKER + "\n## Benchmark of review stack `review-pr-7`: complete")
    assert "all 1 load point(s) finished" in text and "| 3.0 | - |" in text and report in text


def test_the_recommendation_sentence_and_cost_are_shown(tmp_path):
    summary = json.loads((FIXTURES / "benchmark-summary.json").read_text())
    summary["headline"]["min_cost_per_million_output_tokens_usd"] = 0.8125
    summary["recommendation"] = {"sentence": "Run at 4 requests/s: 2,400 users per day per replica."}
    text = pr_comment.bench_headline(summary, "gs://b/r.html")
    assert "**Run at 4 requests/s: 2,400 users per day per replica.**" in text and "$0.812" in text


def test_a_missing_summary_is_one_line(tmp_path, capsys):
    code = pr_comment.main(["bench", "--summary", str(tmp_path / "none.json"), "--report", "x", "--out", "o.md"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "the benchmark run writes summary.json" in err
