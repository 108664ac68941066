"""CLI: python -m workloads.benchmark {run,report,compare,tokenizer} ..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workloads.benchmark import compare, economics, endpoint, job, report, tokenizer
from workloads.benchmark.render import fmt
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
    _economics_args(run)

    rep = sub.add_parser("report", help="rebuild the report of a run directory (e.g. with another price)")
    rep.add_argument("run_dir", type=Path)
    _economics_args(rep)

    cmp_ = sub.add_parser("compare", help="put two or more runs side by side, with ratios to the first")
    cmp_.add_argument("runs", type=Path, nargs="+", help="run directories (or summary.json files)")
    cmp_.add_argument("--label", action="append", help="name per run, in order (default: the run's --label)")
    cmp_.add_argument("--output-dir", type=Path, required=True)

    tk = sub.add_parser("tokenizer", help="save the tokenizer inside a GGUF file as a local directory")
    tk.add_argument("--gguf", type=Path, required=True)
    tk.add_argument("--output-dir", type=Path, required=True)
    return top


def _print_summary(summary: dict, where: Path) -> None:
    print(f"status: {summary['status']} ({summary['message']})")
    for b in summary["benchmarks"]:
        ttft = b["ttft_ms"]["p50"] if b["ttft_ms"] else None
        print(
            f"  {b['name']:<24} {fmt(b['output_tokens_per_s'])} out tok/s  TTFT p50 {fmt(ttft)} ms  "
            f"$/M out tok {fmt(b['cost_per_million_output_tokens_usd'], 2)}"
        )
    print(f"report: {where / 'report.md'} and {where / 'report.html'}; data: {where / 'summary.json'}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "run":
            pricing, roofline = _economics(args)
            opts = job.RunOptions(
                target=args.target, output_dir=args.output_dir, scenario=args.scenario, model=args.model,
                load=Load(args.profile, tuple(args.rate), args.sweep_size),
                limits=Limits(args.max_seconds, args.max_requests),
                request_format=REQUEST_FORMATS[args.request_format], tokenizer_dir=args.tokenizer,
                tokenizer_gguf=args.tokenizer_gguf, api_key_file=args.api_key_file, label=args.label,
                preflight_timeout_s=args.preflight_timeout, workers=args.workers, pricing=pricing, roofline=roofline,
            )  # fmt: skip
            summary, code = job.run(opts)
            _print_summary(summary, args.output_dir)
            return code
        if args.command == "report":
            pricing, roofline = _economics(args)
            summary = report.write(args.run_dir, pricing, roofline)
            _print_summary(summary, args.run_dir)
            return 0
        if args.command == "compare":
            compare.write(args.runs, args.label, args.output_dir)
            print(f"comparison: {args.output_dir / 'compare.md'} and {args.output_dir / 'compare.html'}")
            return 0
        out = tokenizer.from_gguf(args.gguf, args.output_dir)
        print(f"tokenizer saved to {out}")
        return 0
    except (
        endpoint.EndpointError,
        tokenizer.TokenizerError,
        ValueError,
        FileNotFoundError,
        FileExistsError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
