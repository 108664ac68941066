"""The `run` command: check the output, the upload destination and the endpoint, run GuideLLM per load point,
and keep the report (and its upload) current after every finished point.

Exit codes: 0 complete; 1 GuideLLM failed; 2 bad option, endpoint, output or upload destination (before any
load is sent); 3 too many failed requests (--max-failed-ratio); 4 the results could not be uploaded (they
are kept in --output-dir); 128 + N stopped by signal N. Every non-zero code keeps what finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workloads.benchmark import capacity, economics, endpoint, report, results, runner, slo, tokenizer, upload
from workloads.benchmark.render import write_atomic
from workloads.benchmark.scenarios import (
    Limits,
    Load,
    Point,
    Target,
    guidellm_scenario,
    points,
    scenario,
    sweep_points,
    sweep_rates,
)

EXIT_GUIDELLM_FAILED = 1
EXIT_FAILED_REQUESTS = 3
EXIT_UPLOAD_FAILED = 4


class OutputError(RuntimeError):
    """--output-dir cannot hold a new run."""


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
    targets: slo.Targets = field(default_factory=slo.Targets)
    usage: capacity.UsageProfile = field(default_factory=capacity.UsageProfile)
    upload_uri: str | None = None
    model_id: str | None = None
    """Hugging Face id of the served model (matches published reference figures); default: --model."""
    precision: str | None = None
    engine: dict[str, str] = field(default_factory=dict)
    """Engine settings recorded with the run (e.g. max-num-seqs=256), for labels and comparisons."""
    routing: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_output_dir(path: Path) -> None:
    """The directory is new (or empty of runs) and writable, or OutputError naming --output-dir."""
    if (path / report.MANIFEST).exists():
        raise FileExistsError(f"--output-dir {path} already holds a run; choose a new directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-check"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise OutputError(
            f"cannot write to --output-dir {path}: {err.strerror or err}; choose a directory this user can write"
        ) from None


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


class _Run:
    """One run folder: the manifest, the report rebuilt after every finished point, and the upload."""

    def __init__(self, opts: RunOptions, uploader: upload.Uploader | None) -> None:
        self.opts = opts
        self.dir = opts.output_dir
        self.uploader = uploader
        self.manifest: dict[str, Any] = {}
        self.upload_error: str | None = None

    def save_manifest(self) -> None:
        write_atomic(self.dir / report.MANIFEST, json.dumps(self.manifest, indent=2))

    def checkpoint(self, final: bool = False) -> dict[str, Any]:
        """Rewrite the report from what finished so far, and upload what changed."""
        self.save_manifest()
        summary = report.write(self.dir)
        if self.uploader is not None:
            try:
                sent = self.uploader.sync(self.dir)
                if final:
                    where = self.uploader.mark_latest(summary)
                    _echo(f"uploaded the run folder to {self.uploader.location}/ (report {where})")
                else:
                    _echo(f"  uploaded {sent} changed file(s) to {self.uploader.location}/")
                self.upload_error = None
            except Exception as err:  # network or permission trouble: keep benchmarking, retry next time
                self.upload_error = f"upload to {self.uploader.location} failed: {upload.describe(err)}"
                _echo(f"warning: {self.upload_error}; results are kept in {self.dir}")
        return summary


def _guidellm_config(opts: RunOptions, point: Point, target: Target, tok: str | None, api_key: str | None) -> dict:
    gl_dir = (opts.output_dir / "guidellm").resolve()
    objectives = {k: v for k, v in (("ttft_ms", opts.targets.ttft_ms), ("tpot_ms", opts.targets.itl_ms)) if v}
    return guidellm_scenario(
        point=point,
        workload=scenario(opts.scenario),
        target=target,
        limits=opts.limits,
        tokenizer=tok,
        output_json=gl_dir / f"{point.name}.json",
        api_key=api_key,
        slo=objectives or None,
    )


def _manifest(opts: RunOptions, url: str, model: str, tok: str | None, started: datetime) -> dict[str, Any]:
    workload = scenario(opts.scenario)
    return {
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
            "model_id": opts.model_id,
            "precision": opts.precision,
            "engine": dict(opts.engine),
            "routing": opts.routing,
            "request_format": opts.request_format,
            "tokenizer": tok,
            "label": opts.label,
            "workers": opts.workers,
            "targets": opts.targets.to_dict(),
            "usage": opts.usage.to_dict(),
        },
        "started_at": _iso(started),
        "finished_at": None,
        "signal": None,
        "stopped_because": None,
        "points": [],
        "pricing": dataclasses.asdict(opts.pricing) if opts.pricing else None,
        "roofline": dataclasses.asdict(opts.roofline) if opts.roofline else None,
        "upload": None,
    }


def run(opts: RunOptions) -> tuple[dict[str, Any], int]:
    """Run the benchmark; returns the summary and the process exit code (see the module docstring)."""
    scenario(opts.scenario)  # an unknown scenario is an option error
    # Everything that can be checked without the endpoint is checked first, before any load is sent.
    check_output_dir(opts.output_dir)
    started = _now()
    uploader = upload.Uploader(opts.upload_uri, started.strftime("%Y%m%dT%H%M%SZ")) if opts.upload_uri else None
    if uploader is not None:
        uploader.check()
        _echo(f"results will be uploaded to {uploader.location}/")
    api_key = endpoint.read_api_key(opts.api_key_file)
    _echo(f"checking {opts.target} ...")
    url, model = endpoint.check(opts.target, opts.model, api_key, opts.preflight_timeout_s)
    _echo(f"endpoint {url} serves {model!r}")
    tok = _tokenizer(opts)
    target = Target(url, model, opts.request_format)
    state = _Run(opts, uploader)
    state.manifest = _manifest(opts, url, model, tok, started)
    if uploader is not None:
        state.manifest["upload"] = {"location": uploader.location, "latest": f"{uploader.uri.rstrip('/')}/latest.json"}
    plan = points(opts.load)
    state.manifest["points"] = [{"name": p.name, "status": "pending"} for p in plan]
    state.save_manifest()

    env = {"HF_HUB_OFFLINE": "1"} if tok and Path(tok).is_dir() else {}
    if opts.workers is not None:
        env["GUIDELLM__MAX_WORKER_PROCESSES"] = str(opts.workers)
    measured_rates: dict[str, float] = {}
    with runner.Session(opts.output_dir.resolve(), env=env, echo=_echo) as session:
        index = 0
        while index < len(plan):
            if session.signum is not None or state.manifest["stopped_because"]:
                for entry in state.manifest["points"][index:]:
                    entry["status"] = "skipped"
                break
            point = plan[index]
            if not point.planned:  # the sweep's constant rates, now that synchronous and throughput ran
                try:
                    rates = sweep_rates(
                        measured_rates.get("synchronous", 0.0), measured_rates.get("throughput", 0.0), len(plan)
                    )
                except ValueError as err:
                    state.manifest["stopped_because"] = str(err)
                    continue
                plan[index:] = sweep_points(rates)
                state.manifest["points"][index:] = [{"name": p.name, "status": "pending"} for p in plan[index:]]
                if index >= len(plan):
                    break
                point = plan[index]
            config = _guidellm_config(opts, point, target, tok, api_key)
            outcome = session.run(point, config, f"[{index + 1}/{len(plan)}]")
            state.manifest["points"][index] = outcome.to_dict()
            index += 1
            if outcome.status != "complete":
                state.manifest["stopped_because"] = (
                    state.manifest["stopped_because"] or f"{point.name} {outcome.status}"
                )
                continue
            benches, _ = results.load(opts.output_dir / (outcome.json_file or ""), point.name)
            for bench in benches:
                measured_rates[point.name] = bench.request_rate
                failed = bench.failed_ratio or 0.0
                if failed > opts.targets.max_failed_ratio:
                    allowed = opts.targets.max_failed_ratio
                    state.manifest["stopped_because"] = (
                        f"{failed:.0%} of the requests of {bench.name} failed (allowed {allowed:.0%}, "
                        "--max-failed-ratio); no further load point was run"
                    )
            state.checkpoint()
        state.manifest.update(finished_at=_iso(_now()), signal=session.signum)
        summary = state.checkpoint(final=True)

    if session.signum is not None:
        code = 128 + session.signum
    elif summary["status"] == "failed-requests":
        code = EXIT_FAILED_REQUESTS
    elif summary["status"] == "complete":
        code = 0
    else:
        code = EXIT_GUIDELLM_FAILED
    if state.upload_error:
        _echo(f"error: {state.upload_error}; the run folder is kept in {opts.output_dir}")
        code = code or EXIT_UPLOAD_FAILED
    return summary, code
