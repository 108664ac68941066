"""The `run` command: check the endpoint, run GuideLLM per load point, write the report."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workloads.benchmark import economics, endpoint, report, runner, tokenizer
from workloads.benchmark.scenarios import Limits, Load, Target, guidellm_scenario, points, scenario


@dataclass(frozen=True)
class RunOptions:
    target: str
    output_dir: Path
    scenario: str = "chat"
    model: str | None = None
    load: Load = field(default_factory=lambda: Load("sweep"))
    limits: Limits = field(default_factory=Limits)
    request_format: str = "/v1/completions"
    tokenizer_dir: Path | None = None
    tokenizer_gguf: Path | None = None
    api_key_file: Path | None = None
    label: str | None = None
    preflight_timeout_s: float = 10.0
    workers: int | None = None
    """GuideLLM worker processes (GUIDELLM__MAX_WORKER_PROCESSES); None keeps GuideLLM's default of 10."""
    pricing: economics.Pricing | None = None
    roofline: economics.Roofline | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _tokenizer(opts: RunOptions) -> str | None:
    if opts.tokenizer_dir is not None:
        return str(tokenizer.check_dir(opts.tokenizer_dir))
    if opts.tokenizer_gguf is not None:
        _echo(f"extracting the tokenizer from {opts.tokenizer_gguf}")
        return str(tokenizer.from_gguf(opts.tokenizer_gguf, opts.output_dir / "tokenizer"))
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        raise tokenizer.TokenizerError(
            "HF_HUB_OFFLINE is set, so GuideLLM cannot download the model's tokenizer: pass --tokenizer DIR "
            "(a local tokenizer folder) or --tokenizer-gguf FILE"
        )
    return None  # GuideLLM loads the tokenizer of the model name from the Hugging Face Hub


def _write_manifest(opts: RunOptions, manifest: dict[str, Any]) -> None:
    (opts.output_dir / report.MANIFEST).write_text(json.dumps(manifest, indent=2))


def run(opts: RunOptions) -> tuple[dict[str, Any], int]:
    """Run the benchmark; returns the summary and the process exit code.

    Exit codes: 0 all load points finished; 1 GuideLLM failed (partial results kept);
    128 + signal number when interrupted (partial results kept)."""
    workload = scenario(opts.scenario)
    if (opts.output_dir / report.MANIFEST).exists():
        raise FileExistsError(f"--output-dir {opts.output_dir} already holds a run; choose a new directory")
    api_key = endpoint.read_api_key(opts.api_key_file)
    _echo(f"checking {opts.target} ...")
    url, model = endpoint.check(opts.target, opts.model, api_key, opts.preflight_timeout_s)
    _echo(f"endpoint {url} serves {model!r}")
    opts.output_dir.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(opts)
    target = Target(url, model, opts.request_format)
    gl_dir = (opts.output_dir / "guidellm").resolve()
    configs = [
        (
            point,
            guidellm_scenario(
                point=point,
                workload=workload,
                target=target,
                limits=opts.limits,
                tokenizer=tok,
                output_json=gl_dir / f"{point.name}.json",
                api_key=api_key,
            ),
        )
        for point in points(opts.load)
    ]
    manifest: dict[str, Any] = {
        "run": {
            "scenario": workload.name,
            "prompt_tokens": workload.prompt_tokens,
            "output_tokens": workload.output_tokens,
            "profile": opts.load.profile,
            "rates": list(opts.load.rates),
            "sweep_size": opts.load.sweep_size if opts.load.profile == "sweep" else None,
            "max_seconds": opts.limits.max_seconds,
            "max_requests": opts.limits.max_requests,
            "target": url,
            "model": model,
            "request_format": opts.request_format,
            "tokenizer": tok,
            "label": opts.label,
            "workers": opts.workers,
        },
        "started_at": _now(),
        "finished_at": None,
        "signal": None,
        "points": [{"name": p.name, "status": "pending"} for p, _ in configs],
        "pricing": dataclasses.asdict(opts.pricing) if opts.pricing else None,
        "roofline": dataclasses.asdict(opts.roofline) if opts.roofline else None,
    }
    _write_manifest(opts, manifest)
    env = {"HF_HUB_OFFLINE": "1"} if tok and Path(tok).is_dir() else {}
    if opts.workers is not None:
        env["GUIDELLM__MAX_WORKER_PROCESSES"] = str(opts.workers)
    outcomes, signum = runner.run_points(configs, opts.output_dir.resolve(), env=env, echo=_echo)
    manifest.update(finished_at=_now(), signal=signum, points=[o.to_dict() for o in outcomes])
    _write_manifest(opts, manifest)
    summary = report.write(opts.output_dir)
    if signum is not None:
        code = 128 + signum
    elif summary["status"] == "complete":
        code = 0
    else:
        code = 1
    return summary, code
