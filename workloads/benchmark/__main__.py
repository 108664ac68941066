"""CLI: python -m workloads.benchmark {run,report,compare,tokenizer} ..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workloads.benchmark import capacity, compare, economics, endpoint, job, report, slo, tokenizer, upload
from workloads.benchmark.render import fmt
from workloads.benchmark.results import SLO_PERCENTILES
from workloads.benchmark.scenarios import PROFILES, REQUEST_FORMATS, SCENARIOS, Limits, Load


def _rates(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate wants numbers like 1,2.5,4; got {text!r}") from None


def _economics_args(parser: argparse.ArgumentParser) -> None:
    cost = parser.add_argument_group("cost (price of the node the server ran on)")
    cost.add_argument("--cloud", choices=["aws", "gcp"], help="catalog cloud for --instance-type")
    cost.add_argument("--instance-type", help="catalog instance type, e.g. g6.xlarge (price and GPU)")
    cost.add_argument("--price-per-hour", type=float, help="USD per hour; overrides the catalog price")
    roof = parser.add_argument_group("roofline (memory bandwidth / bytes of weights)")
    roof.add_argument("--gpu", help="catalog GPU name, e.g. L4 (default: the GPU of --instance-type)")
    roof.add_argument("--tensor-parallel", type=int, default=1, help="GPUs the model is sharded over (default 1)")
    roof.add_argument("--bandwidth-gbps", type=float, help="memory bandwidth in GB/s; overrides --gpu")
    roof.add_argument("--model-params-b", type=float, help="model parameters in billions, e.g. 8")
    roof.add_argument("--precision", choices=["bf16", "fp8", "w8a8-int8", "w4a16"], help="weight precision")
    roof.add_argument("--model-bytes", type=float, help="bytes of weights; overrides --model-params-b")


def _engine_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"--engine-arg wants KEY=VALUE, e.g. max-num-seqs=256; got {text!r}")
    return key.strip(), value.strip()


def _targets_args(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Latency targets and usage profile. With defaults=False (report), unset flags keep the run's values."""
    none = argparse.SUPPRESS if not defaults else None
    slo_group = parser.add_argument_group("latency targets (SLOs) and failed requests")
    slo_group.add_argument("--slo-ttft-ms", type=float, default=none, help="time-to-first-token target, ms")
    slo_group.add_argument("--slo-itl-ms", type=float, default=none, help="inter-token latency target, ms")
    slo_group.add_argument(
        "--slo-percentile", choices=SLO_PERCENTILES, default=argparse.SUPPRESS if not defaults else "p95",
        help="percentile the targets apply to (default p95)",
    )  # fmt: skip
    slo_group.add_argument(
        "--max-failed-ratio", type=float,
        default=argparse.SUPPRESS if not defaults else slo.DEFAULT_MAX_FAILED_RATIO,
        help=f"share of failed requests above which a load point, and the run, fail (default "
        f"{slo.DEFAULT_MAX_FAILED_RATIO:g}; exit code 3)",
    )  # fmt: skip
    use = parser.add_argument_group("usage profile (capacity in users per day)")
    use.add_argument("--requests-per-user-per-day", type=float, default=argparse.SUPPRESS if not defaults else 20.0,
                     help="default 20")  # fmt: skip
    use.add_argument("--output-tokens-per-request", type=float, default=none,
                     help="default: the scenario's output tokens")  # fmt: skip
    use.add_argument("--peak-to-average", type=float, default=argparse.SUPPRESS if not defaults else 3.0,
                     help="busiest-hour rate over the daily average (default 3)")  # fmt: skip


_TARGET_FLAGS = {"slo_ttft_ms": "ttft_ms", "slo_itl_ms": "itl_ms", "slo_percentile": "percentile",
                 "max_failed_ratio": "max_failed_ratio"}  # fmt: skip
_USAGE_FLAGS = {name: name for name in ("requests_per_user_per_day", "output_tokens_per_request", "peak_to_average")}


def _targets(args: argparse.Namespace, base: dict | None = None) -> tuple[slo.Targets, capacity.UsageProfile]:
    """From the flags; flags not given (report) keep the values in `base` (the run's)."""
    base = base or {}
    given = vars(args)
    targets = {**(base.get("targets") or {}), **{v: given[k] for k, v in _TARGET_FLAGS.items() if k in given}}
    usage = {**(base.get("usage") or {}), **{v: given[k] for k, v in _USAGE_FLAGS.items() if k in given}}
    return slo.Targets.from_dict(targets), capacity.UsageProfile.from_dict(usage)


def _economics(args: argparse.Namespace) -> tuple[economics.Pricing | None, economics.Roofline | None]:
    pricing = economics.pricing(cloud=args.cloud, instance_type=args.instance_type, price_per_hour=args.price_per_hour)
    gpu_name = args.gpu or (pricing.gpu if pricing else None)
    if args.tensor_parallel < 1:
        raise ValueError(f"--tensor-parallel must be at least 1, got {args.tensor_parallel}")
    roofline = economics.roofline(
        gpu_name=gpu_name,
        bandwidth_gbps=args.bandwidth_gbps,
        gpus=args.tensor_parallel,
        params_b=args.model_params_b,
        precision=args.precision,
        weight_bytes=args.model_bytes,
    )
    return pricing, roofline


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m workloads.benchmark",
        description="Benchmark an OpenAI-compatible endpoint with GuideLLM and report "
        "latency, throughput, cost per million tokens and roofline ratio.",
    )
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="benchmark an endpoint and write a report")
    run.add_argument("--target", required=True, help="base URL, e.g. http://vllm.serving:8000 (with or without /v1)")
    run.add_argument("--model", help="served model name (default: the only one /v1/models lists)")
    run.add_argument("--output-dir", type=Path, required=True, help="new directory for results and report")
    run.add_argument(
        "--scenario",
        default="chat",
        choices=list(SCENARIOS),
        help="; ".join(f"{s.name}: {s.prompt_tokens}/{s.output_tokens} tokens" for s in SCENARIOS.values()),
    )
    run.add_argument(
        "--profile",
        default="sweep",
        choices=PROFILES,
        help="synchronous: one request at a time; sweep (default): GuideLLM's sweep from synchronous to max "
        "throughput; constant: the request rates of --rate, one GuideLLM run each",
    )
    run.add_argument("--rate", type=_rates, default=[], help="requests/s for --profile constant, e.g. 1,2,4")
    run.add_argument("--sweep-size", type=int, default=10, help="benchmarks in a sweep (default 10)")
    run.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="per benchmark (default 120; a sweep runs --sweep-size benchmarks)",
    )
    run.add_argument("--max-requests", type=int, help="per benchmark")
    run.add_argument(
        "--request-format",
        default="completions",
        choices=list(REQUEST_FORMATS),
        help="completions (/v1/completions, default; works with llama.cpp) or chat",
    )
    tok = run.add_mutually_exclusive_group()
    tok.add_argument("--tokenizer", type=Path, help="local tokenizer directory (needed offline)")
    tok.add_argument("--tokenizer-gguf", type=Path, help="GGUF model file to extract the tokenizer from")
    run.add_argument("--api-key-file", type=Path, help="file with the API key (default: $OPENAI_API_KEY)")
    run.add_argument("--label", help="name of this run in reports and comparisons, e.g. w8a8")
    run.add_argument(
        "--workers", type=int, help="GuideLLM worker processes (default 10; use 1-2 on small CPU machines)"
    )
    run.add_argument("--preflight-timeout", type=float, default=10.0, help="seconds for the /v1/models check")
    run.add_argument(
        "--upload-uri",
        help="s3://BUCKET/PREFIX or gs://BUCKET/PREFIX: the run folder is uploaded to PREFIX/<UTC start>/ after "
        "every finished load point and at the end (credentials from the workload identity)",
    )
    what = run.add_argument_group("what is benchmarked (labels comparisons; no hand-made label needed)")
    what.add_argument("--model-id", help="Hugging Face id of the served model, e.g. meta-llama/Llama-3.1-8B-Instruct")
    what.add_argument("--engine-arg", type=_engine_arg, action="append", default=[], metavar="KEY=VALUE",
                      help="an engine setting to record, e.g. max-num-seqs=256 (repeatable)")  # fmt: skip
    what.add_argument("--routing", help="how requests reach the servers, e.g. service, llm-d, gateway")
    _economics_args(run)
    _targets_args(run)

    rep = sub.add_parser(
        "report", help="rebuild the report of a run directory (e.g. with another price or other latency targets)"
    )
    rep.add_argument("run_dir", type=Path)
    _economics_args(rep)
    _targets_args(rep, defaults=False)

    cmp_ = sub.add_parser(
        "compare",
        help="rank two or more runs against latency targets, name the cheapest that meets them, with ratios",
    )
    cmp_.add_argument("runs", type=Path, nargs="+", help="run directories (or summary.json files)")
    cmp_.add_argument(
        "--label", action="append", help="name per run, in order (default: from what differs between the runs)"
    )
    cmp_.add_argument("--output-dir", type=Path, required=True)
    _targets_args(cmp_)

    tk = sub.add_parser("tokenizer", help="save the tokenizer inside a GGUF file as a local directory")
    tk.add_argument("--gguf", type=Path, required=True)
    tk.add_argument("--output-dir", type=Path, required=True)
    return top


def _print_summary(summary: dict, where: Path) -> None:
    print(f"status: {summary['status']} ({summary['message']})")
    for b in summary["benchmarks"]:
        ttft = b["ttft_ms"]["p50"] if b["ttft_ms"] else None
        failed = b.get("failed_ratio")
        print(
            f"  {b['name']:<24} {fmt(b['output_tokens_per_s'])} out tok/s  TTFT p50 {fmt(ttft)} ms  "
            f"failed {f'{failed:.0%}' if failed is not None else '-'}  "
            f"$/M out tok {fmt(b['cost_per_million_output_tokens_usd'], 2)}"
        )
    print(f"recommendation: {summary['recommendation']['sentence']}")
    print(f"report: {where / 'report.md'} and {where / 'report.html'}; data: {where / 'summary.json'}")
    if summary.get("upload"):
        print(f"uploaded to: {summary['upload']['location']}/report.html (newest run: {summary['upload']['latest']})")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "run":
            pricing, roofline = _economics(args)
            targets, usage = _targets(args)
            opts = job.RunOptions(
                target=args.target, output_dir=args.output_dir, scenario=args.scenario, model=args.model,
                load=Load(args.profile, tuple(args.rate), args.sweep_size),
                limits=Limits(args.max_seconds, args.max_requests),
                request_format=REQUEST_FORMATS[args.request_format], tokenizer_dir=args.tokenizer,
                tokenizer_gguf=args.tokenizer_gguf, api_key_file=args.api_key_file, label=args.label,
                preflight_timeout_s=args.preflight_timeout, workers=args.workers, pricing=pricing, roofline=roofline,
                targets=targets, usage=usage, upload_uri=args.upload_uri, model_id=args.model_id,
                precision=args.precision, engine=dict(args.engine_arg), routing=args.routing,
            )  # fmt: skip
            summary, code = job.run(opts)
            _print_summary(summary, args.output_dir)
            return code
        if args.command == "report":
            pricing, roofline = _economics(args)
            targets, usage = _targets(args, report.read_manifest(args.run_dir).get("run"))
            summary = report.write(args.run_dir, pricing, roofline, targets, usage)
            _print_summary(summary, args.run_dir)
            return 0
        if args.command == "compare":
            targets, usage = _targets(args)
            result = compare.write(args.runs, args.label, args.output_dir, targets, usage)
            print(result["ranking"]["sentence"])
            print(f"comparison: {args.output_dir / 'compare.md'} and {args.output_dir / 'compare.html'}")
            return 0
        out = tokenizer.from_gguf(args.gguf, args.output_dir)
        print(f"tokenizer saved to {out}")
        return 0
    except (
        endpoint.EndpointError,
        tokenizer.TokenizerError,
        upload.UploadError,
        job.OutputError,
        ValueError,
        FileNotFoundError,
        FileExistsError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
