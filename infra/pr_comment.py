"""What the pull-request workflows post: one comment per pull request, created once and then updated.

    python -m infra.pr_comment plan --base origin/main --out pr/plans dev prod
        offline plan of each stack, diffed against BASE (`leanrag plan STACK --diff BASE --markdown FILE`; a plan
        without --diff is shown as its summary), one markdown file per stack
    python -m infra.pr_comment comment --plans pr/plans --previews pr/previews --out pr/comment.md
        the comment: per stack the `pulumi preview` (when it ran) and the offline plan with its cost delta
    python -m infra.pr_comment bench --summary summary.json --report URI --out pr/bench.md
        the benchmark workflow's comment: the report's headline and recommendation

Standard library only: the comment job needs no environment. The marker on the first line is how the workflow
finds the comment it posted before (.github/workflows/preview.yml, benchmark.yml).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_MARKER = "<!-- leanrag:preview -->"
BENCH_MARKER = "<!-- leanrag:benchmark -->"
MAX_COMMENT = 60_000
"""GitHub refuses comments over 65,536 characters; the rest is in the workflow's artifacts."""
MAX_PREVIEW = 20_000
"""Characters of one stack's `pulumi preview` output kept in the comment (its tail: the summary is there)."""


def plan_supports_diff(python: str = sys.executable) -> bool:
    """Whether this tree's `infra.plan` has `--diff` (and so `--markdown`)."""
    proc = subprocess.run([python, "-m", "infra.plan", "--help"], cwd=ROOT, capture_output=True, text=True)
    return "--diff" in proc.stdout


def run_plans(base: str, stacks: list[str], out: Path, python: str = sys.executable) -> int:
    """One markdown file per stack in `out`; the worst exit code of the plans (every stack is planned)."""
    out.mkdir(parents=True, exist_ok=True)
    with_diff = plan_supports_diff(python)
    worst = 0
    for stack in stacks:
        md = out / f"{stack}.md"
        cmd = [python, "-m", "infra.cli", "plan", stack, "--quiet", "--out", str(out / stack)]  # = leanrag plan
        if with_diff:
            cmd += ["--diff", base, "--markdown", str(md)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        worst = max(worst, proc.returncode)
        printed = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 or not with_diff or not md.exists():
            why = (
                f"the plan failed (exit {proc.returncode})"
                if proc.returncode
                else "this version of `infra.plan` has no `--diff`: the plan's summary, without a diff"
            )
            md.write_text(f"### Offline plan `{stack}`\n\n{why}:\n\n```\n{printed[-MAX_PREVIEW:]}\n```\n")
    return worst


def _preview_section(stack: str, previews: Path) -> list[str]:
    outcome_file = previews / f"{stack}.outcome"
    if not outcome_file.exists():
        return [
            f"`pulumi preview` did not run for `{stack}` (a fork, or no credentials): the offline plan is below.",
            "",
        ]
    outcome = outcome_file.read_text().strip() or "unknown"
    text = (previews / f"{stack}.txt").read_text() if (previews / f"{stack}.txt").exists() else ""
    cut = len(text) > MAX_PREVIEW
    shown = text[-MAX_PREVIEW:] if cut else text
    mark = {"success": "✅", "failure": "❌"}.get(outcome, "⚠️")
    return [
        f"<details><summary>{mark} <code>pulumi preview</code> with the policy pack: {outcome}</summary>",
        "",
        *(["(the first part is cut: the whole output is in the job log)", ""] if cut else []),
        "```",
        shown.rstrip(),
        "```",
        "</details>",
        "",
    ]


def assemble(stacks: list[str], plans: Path, previews: Path, run_url: str = "") -> str:
    """The preview comment: a marker, then per stack the preview and the offline plan (diff and cost delta)."""
    lines = [PREVIEW_MARKER, "## Infrastructure preview", ""]
    for stack in stacks:
        lines += [f"### Stack `{stack}`", ""]
        lines += _preview_section(stack, previews)
        plan = plans / f"{stack}.md"
        lines += [plan.read_text().strip() if plan.exists() else f"No offline plan for `{stack}` (the job failed).", ""]
    if run_url:
        lines.append(f"Plans, rendered manifests and logs: [workflow run]({run_url}).")
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_COMMENT:
        note = f"\n\n… cut at {MAX_COMMENT:,} characters (GitHub's limit): the rest is in the workflow's artifacts.\n"
        text = text[: MAX_COMMENT - len(note)] + note
    return text


def bench_headline(summary: dict[str, Any], report: str, stack: str = "") -> str:
    """The benchmark comment: status, the recommendation sentence and the headline numbers."""
    head = summary.get("headline") or {}
    rec = summary.get("recommendation") or {}
    tok_s = head.get("max_output_tokens_per_s")
    cost = head.get("min_cost_per_million_output_tokens_usd")
    lines = [
        BENCH_MARKER,
        f"## Benchmark{f' of review stack `{stack}`' if stack else ''}: {summary.get('status', 'unknown')}",
        "",
    ]
    if summary.get("message"):
        lines += [str(summary["message"]), ""]
    if rec.get("sentence"):
        lines += [f"**{rec['sentence']}**", ""]
    lines += [
        "| peak output tok/s | lowest $ per M output tokens |",
        "|--:|--:|",
        f"| {f'{tok_s:,.1f}' if tok_s is not None else '-'} | {f'${cost:,.3f}' if cost is not None else '-'} |",
        "",
        f"Report: `{report}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.pr_comment", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="offline plan of each stack against BASE, as markdown")
    p.add_argument("--base", required=True, help="git ref or plan directory to diff against (origin/main)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("stacks", nargs="+")
    c = sub.add_parser("comment", help="the pull-request comment from the plans and previews")
    c.add_argument("--plans", type=Path, required=True)
    c.add_argument("--previews", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--run-url", default="")
    c.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    b = sub.add_parser("bench", help="the benchmark comment from a run's summary.json")
    b.add_argument("--summary", type=Path, required=True)
    b.add_argument("--report", required=True, help="where the full report is (bucket URI)")
    b.add_argument("--stack", default="")
    b.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "plan":
        return run_plans(args.base, args.stacks, args.out)
    if args.command == "comment":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(assemble(args.stacks, args.plans, args.previews, args.run_url))
        return 0
    try:
        summary = json.loads(args.summary.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: --summary {args.summary}: {e}; the benchmark run writes summary.json", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(bench_headline(summary, args.report, args.stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
