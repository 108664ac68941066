"""Step 6: a short GuideLLM benchmark of the model server (`workloads.benchmark run`, smoke scenario)."""

from __future__ import annotations

import time

from local import llm_server
from local.demo.context import Demo, StepError, say
from local.envs import ROOT, job_env, venv_bin
from local.process import run_job


def benchmark(demo: Demo) -> None:
    llm = demo.endpoints.llm
    assert llm is not None
    out_dir = demo.data / "benchmark" / time.strftime("%Y%m%d-%H%M%S")
    cmd = [str(venv_bin("benchmark")), "-m", "workloads.benchmark", "run", "--target", llm.base_url]
    cmd += ["--model", llm.model, "--output-dir", str(out_dir), "--scenario", "smoke", "--profile", "synchronous"]
    cmd += ["--max-seconds", str(demo.args.bench_seconds), "--max-requests", "20"]
    cmd += [
        "--tokenizer-gguf",
        str(llm_server.find_gguf()),
        "--api-key-file",
        str(demo.data / "secrets" / "llm-api-key"),
    ]
    cmd += ["--workers", "1", "--label", "demo-smoke"]
    log = demo.logs / "benchmark.log"
    text = run_job("benchmark", cmd, log=log, timeout_s=600, env=job_env(), cwd=ROOT)
    report = out_dir / "report.md"
    for line in text.splitlines():
        if line.startswith("status:"):
            say(f"    {line}")
    if not report.exists():
        raise StepError(f"benchmark wrote no report at {report}; log: {log}")
    say(f"    report: {report} (also report.html, summary.json)")
    demo.state["benchmark_report"] = str(report)
