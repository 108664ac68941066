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
from local.demo.context import Demo, StepError, progress, say
from local.envs import ROOT, job_env, venv_bin
from local.process import run_job

LOCAL_PRICING = ("aws", "m7i.large")
"""The catalog instance the CPU run is priced as (2 vCPUs, like this machine); the local node has no price."""
LOCAL_SLO = {"--slo-ttft-ms": "5000", "--slo-itl-ms": "500"}
"""Latency targets for a 135M model on 2 shared cores (the catalog's defaults are a GPU's)."""
LOCAL_PROFILE = "synchronous"
"""One load point: the rendered sweep (10 benchmarks of `maxSeconds` each) takes over 20 minutes on 2 cores."""
LOCAL_SCENARIO = "smoke"
"""64 prompt / 16 output tokens: a `chat` request (512/128) can take longer than the whole short run on 2 busy
cores (measured: one request, unfinished after 30 s)."""


def model_id(gguf_uri: str) -> str:
    """The hub repository of an hf://<org>/<repo>/<file>.gguf (what the report names the model by)."""
    if not gguf_uri.startswith("hf://"):
        return gguf_uri
    return "/".join(gguf_uri.removeprefix("hf://").split("/")[:2])


def plan_benchmark(demo: Demo) -> None:
    cfg = demo.rendered.config.jobs.benchmark
    cloud, instance = LOCAL_PRICING
    demo.site.diverge(
        "benchmark Job",
        f"one per GPU chat model (none in the local stack): `jobs.benchmark` ({cfg.scenario}, {cfg.profile}, "
        f"{cfg.max_seconds}s per point); `--tokenizer` from the hub; priced by the model's node; report uploaded to "
        "the bucket",
        f"GuideLLM (.venvs/benchmark) on the CPU tier: scenario {LOCAL_SCENARIO}, profile {LOCAL_PROFILE}, "
        f"`--max-seconds {demo.args.bench_seconds}`, `--tokenizer-gguf`, `--workers 1`, priced as `--cloud {cloud} "
        f"--instance-type {instance}`, targets `--slo-ttft-ms 5000 --slo-itl-ms 500`; report in `.demo/benchmark/`",
        "the jobs layer benchmarks GPU models only; no hub offline; 2 cores (a sweep would take 20 min); the local "
        "node has no price",
    )


def benchmark(demo: Demo) -> None:
    tier = demo.rendered.config.serving.cpu_tier
    chat = tier.name
    if not demo.running.chat_url or demo.running.chat_key_file is None:
        raise StepError("the CPU tier's llama.cpp server is not running: nothing to benchmark")
    out_dir = demo.data / "benchmark" / time.strftime("%Y%m%d-%H%M%S")
    cloud, instance = LOCAL_PRICING
    cmd = [str(venv_bin("benchmark")), "-m", "workloads.benchmark", "run", "--target", demo.running.chat_url]
    cmd += ["--model", chat, "--output-dir", str(out_dir), "--scenario", LOCAL_SCENARIO, "--profile", LOCAL_PROFILE]
    cmd += ["--max-seconds", str(demo.args.bench_seconds), "--tokenizer-gguf", str(llm_server.find_gguf())]
    cmd += ["--model-id", model_id(tier.gguf_uri), "--engine-arg", "engine=llama.cpp"]
    if demo.running.chat_threads:
        cmd += ["--engine-arg", f"threads={demo.running.chat_threads}"]
    cmd += ["--routing", "service"]
    cmd += ["--cloud", cloud, "--instance-type", instance, *(x for kv in LOCAL_SLO.items() for x in kv)]
    cmd += ["--api-key-file", str(demo.running.chat_key_file), "--workers", "1"]
    say(f"    $ python -m workloads.benchmark {' '.join(cmd[3:])}")
    log = demo.log("benchmark")
    with progress("GuideLLM", log):
        text = run_job("benchmark", cmd, log=log, timeout_s=900, env=job_env(), cwd=ROOT)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("status:")), len(lines))
    recommendation = ""
    for line in lines[first:]:  # the CLI's summary: status, one row per load point, the recommendation
        say(f"    {line.strip()}")
        if line.startswith("recommendation:"):
            recommendation = line.removeprefix("recommendation:").strip()
            break
    report, summary_file = out_dir / "report.md", out_dir / "summary.json"
    if not report.exists() or not summary_file.exists():
        raise StepError(f"the benchmark wrote no report in {out_dir}; log: {log}")
    summary = json.loads(summary_file.read_text())
    best = summary.get("recommendation") or {}
    costs = [b.get("cost_per_million_output_tokens_usd") for b in summary.get("benchmarks", [])]
    cost = next((c for c in costs if c is not None), None)
    rates = [b.get("delivered_output_tokens_per_s") for b in summary.get("benchmarks", [])]
    say(f"    cost per million output tokens: {'n/a' if cost is None else f'${cost:.2f}'} ({cloud} {instance})")
    say(f"    report: {report} (also report.html, summary.json)")
    demo.state["benchmark"] = {
        "report": str(report),
        "status": summary.get("status"),
        "cost_per_million_output_tokens_usd": cost,
        "delivered_output_tokens_per_s": next((r for r in rates if r is not None), None),
        "priced_as": f"{cloud} {instance}",
        "recommendation": recommendation or best.get("sentence"),
    }
    demo.state["benchmark_report"] = str(Path(report))
