"""Command line: `python -m workloads.quantize --model M --recipe R --output OUT [...]`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from workloads.artifacts.errors import TransferError, UserError
from workloads.quantize.calibration import CalibrationSource
from workloads.quantize.recipes import RECIPES

log = logging.getLogger("workloads.quantize")


def build_parser() -> argparse.ArgumentParser:
    recipes = "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values())
    p = argparse.ArgumentParser(
        prog="python -m workloads.quantize",
        description="Quantize a causal LM with LLM Compressor and publish a compressed-tensors checkpoint "
        "(manifest.json written last marks it finished).",
    )
    p.add_argument("--model", help="local model directory or Hugging Face model id (token from HF_TOKEN)")
    p.add_argument("--revision", help="model revision (branch, tag or commit) for a Hugging Face id")
    p.add_argument("--recipe", choices=list(RECIPES), help=recipes)
    p.add_argument("--output", help="local directory, s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
    p.add_argument("--overwrite", action="store_true", help="replace a finished artifact at --output")
    p.add_argument(
        "--target-gpu",
        help="catalog GPU the model will be served on (e.g. L4, A10G, H100); "
        "recipes it cannot run are rejected before any work",
    )
    p.add_argument(
        "--group-size",
        type=int,
        help="w4a16 group size; default: the largest of 128, 64, 32 that divides every quantized layer's input size",
    )
    data = p.add_argument_group("calibration (default: a small text set embedded in the package)")
    data.add_argument(
        "--calibration-file",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help=".txt (paragraphs split on blank lines) or .jsonl file, or a directory of them; repeatable",
    )
    data.add_argument("--dataset", help="Hugging Face dataset name (needs network, or HF_HUB_OFFLINE=1 and a cache)")
    data.add_argument("--dataset-config", help="dataset configuration name")
    data.add_argument("--dataset-split", default="train", help="dataset split (default: train)")
    data.add_argument(
        "--text-column",
        default="text",
        help="field holding the text (default: text); "
        "records with a chat 'messages' list are rendered with the chat template",
    )
    data.add_argument("--num-calibration-samples", type=int, default=256, help="default: 256")
    data.add_argument("--max-seq-length", type=int, default=512, help="tokens per sample (default: 512)")
    p.add_argument(
        "--staging-dir",
        type=Path,
        help="where bucket outputs are staged before upload "
        "(default: the system temp dir); local outputs stage beside --output",
    )
    p.add_argument(
        "--publish-staged",
        type=Path,
        metavar="DIR",
        help="publish a checkpoint that a failed upload kept (the job names DIR when it fails) to --output, "
        "without loading or quantizing anything",
    )
    p.add_argument("--list-recipes", action="store_true", help="print the recipes and exit")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.list_recipes:
        for recipe in RECIPES.values():
            cc = recipe.min_compute_capability
            print(f"{recipe.name:12} compute capability >= {cc}  {recipe.description}")
        return 0
    required = ("output",) if args.publish_staged else ("model", "recipe", "output")
    missing = [f"--{name}" for name in required if getattr(args, name) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    from workloads.quantize.pipeline import Job, publish_staged, run

    try:
        if args.publish_staged:
            result = publish_staged(args.publish_staged, args.output, args.overwrite)
            print(result.uri)
            return 0
        job = Job(
            model=args.model,
            recipe=args.recipe,
            output=args.output,
            group_size=args.group_size,
            target_gpu=args.target_gpu,
            calibration=CalibrationSource(
                files=tuple(args.calibration_file),
                dataset=args.dataset,
                dataset_config=args.dataset_config,
                split=args.dataset_split,
                text_column=args.text_column,
            ),
            num_calibration_samples=args.num_calibration_samples,
            max_seq_length=args.max_seq_length,
            overwrite=args.overwrite,
            revision=args.revision,
            staging_dir=args.staging_dir,
        )
        result = run(job)
    except TransferError as exc:
        log.error("%s; nothing was marked finished at the output", exc)
        return 1
    except UserError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; nothing was published")
        return 130
    print(result.uri)
    return 0
