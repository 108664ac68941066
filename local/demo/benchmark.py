"""Step 7: GuideLLM against the CPU tier's llama.cpp server (`workloads.benchmark run`), with the stack's
`jobs.benchmark` settings (scenario, profile, maxSeconds) and a node price, so the report computes a cost per
million output tokens.

The program renders benchmark Jobs for GPU chat models only, so the local stack has none to copy: the settings come
from Pulumi.local.yaml (parsed by stacks/), the rest as the Job would run (its target is the model server itself,
not the gateway; `--label <model>-<serving mode>`), with what differs listed by `plan_benchmark`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from local import llm_server
from local.demo.context import Demo, StepError, say
from local.envs import ROOT, job_env, venv_bin
from local.process import run_job

LOCAL_PRICING = ("aws", "m7i.large")
"""The catalog instance the CPU run is priced as (2 vCPUs, like this machine); the local node has no price."""


def plan_benchmark(demo: Demo) -> None:
    cfg = demo.rendered.config.jobs.benchmark
    cloud, instance = LOCAL_PRICING
    demo.site.diverge(
        "benchmark Job",
        "one per GPU chat model (none in the local stack); `--tokenizer` downloaded from the hub by an init "
        "container; priced by the model's node; report uploaded to the bucket",
        f"GuideLLM (.venvs/benchmark) on the CPU tier with `jobs.benchmark` ({cfg.scenario}, {cfg.profile}, "
        f"{cfg.max_seconds}s), `--tokenizer-gguf` (the GGUF's own tokenizer), `--workers 1`, priced as "
        f"`--cloud {cloud} --instance-type {instance}`; report in `.demo/benchmark/`",
        "the jobs layer benchmarks GPU models only; no hub offline; 2 cores; the local node has no price",
    )


def benchmark(demo: Demo) -> None:
    cfg = demo.rendered.config.jobs.benchmark
    chat = demo.rendered.config.serving.cpu_tier.name
    if not demo.running.chat_url or demo.running.chat_key_file is None:
        raise StepError("the CPU tier's llama.cpp server is not running: nothing to benchmark")
    out_dir = demo.data / "benchmark" / time.strftime("%Y%m%d-%H%M%S")
    cloud, instance = LOCAL_PRICING
    cmd = [str(venv_bin("benchmark")), "-m", "workloads.benchmark", "run", "--target", demo.running.chat_url]
    cmd += ["--model", chat, "--output-dir", str(out_dir), "--scenario", cfg.scenario, "--profile", cfg.profile]
    cmd += ["--max-seconds", str(cfg.max_seconds), "--tokenizer-gguf", str(llm_server.find_gguf())]
    cmd += ["--label", f"{chat}-{demo.rendered.config.serving.mode}", "--cloud", cloud, "--instance-type", instance]
    cmd += ["--api-key-file", str(demo.running.chat_key_file), "--workers", "1"]
    log = demo.log("benchmark")
    text = run_job("benchmark", cmd, log=log, timeout_s=900, env=job_env(), cwd=ROOT)
    for line in text.splitlines():
        if line.startswith("status:"):
            say(f"    {line}")
    report, summary_file = out_dir / "report.md", out_dir / "summary.json"
    if not report.exists() or not summary_file.exists():
        raise StepError(f"the benchmark wrote no report in {out_dir}; log: {log}")
    summary = json.loads(summary_file.read_text())
    best = summary.get("recommendation") or {}
    costs = [b.get("cost_per_million_output_tokens_usd") for b in summary.get("benchmarks", [])]
    cost = next((c for c in costs if c is not None), None)
    rates = [b.get("delivered_output_tokens_per_s") for b in summary.get("benchmarks", [])]
    say(f"    {best.get('sentence') or summary.get('message', '')}")
    say(f"    cost per million output tokens: {'n/a' if cost is None else f'${cost:.2f}'} ({cloud} {instance})")
    say(f"    report: {report} (also report.html, summary.json)")
    demo.state["benchmark"] = {
        "report": str(report),
        "status": summary.get("status"),
        "cost_per_million_output_tokens_usd": cost,
        "delivered_output_tokens_per_s": next((r for r in rates if r is not None), None),
        "priced_as": f"{cloud} {instance}",
    }
    demo.state["benchmark_report"] = str(Path(report))
