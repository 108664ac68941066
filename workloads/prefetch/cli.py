"""Command line: `python -m workloads.prefetch --model M [--revision R] --output URI [...]`, or `--check`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from workloads.artifacts.errors import TransferError, UserError
from workloads.prefetch.sources import DEFAULT_INCLUDE

log = logging.getLogger("workloads.prefetch")

EXIT_OK = 0
EXIT_TRANSFER_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_COMPLETE = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workloads.prefetch",
        description="Copy a model's weights from the Hugging Face Hub (or a local directory) into the model "
        "store once. A second run copies nothing; a re-run after a failure copies only what is missing. "
        "manifest.json, written last, marks the copy complete.",
        epilog="exit codes: 0 the output holds the model (copied now or already), 1 a copy failed part way "
        "(re-run to resume), 2 a usage or preflight error (the message names the fix), "
        "3 --check: not complete or another model, 130 interrupted",
    )
    p.add_argument("--model", help="Hugging Face model id (token from HF_TOKEN) or a local model directory")
    p.add_argument("--revision", help="branch, tag or commit of a hub id (default: main)")
    p.add_argument("--output", help="s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or a local directory")
    p.add_argument(
        "--include",
        action="append",
        metavar="PATTERN",
        help="copy only files matching these patterns (repeatable; default: safetensors weights, configs, "
        f"tokenizer and chat template files: {' '.join(DEFAULT_INCLUDE)})",
    )
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="skip matching files")
    p.add_argument("--all-files", action="store_true", help="copy every file of the model (no include patterns)")
    p.add_argument("--overwrite", action="store_true", help="replace another model or revision at --output")
    p.add_argument(
        "--staging-dir",
        type=Path,
        help="where hub downloads are kept while each is uploaded (default: the system temp dir); "
        "needs room for the largest file",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="copy nothing: print what --output holds as JSON; exit 0 if complete (and, with --model/--revision, "
        "that model and revision), else 3",
    )
    p.add_argument("--verbose", action="store_true", help="debug logging")
    return p


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # Kubernetes stops a Job's pod with SIGTERM: clean up staging, write no manifest


def _check(args: argparse.Namespace) -> int:
    from workloads.artifacts.uris import open_store

    inspection = open_store(args.output, "--output").inspect()
    problems = list(inspection.problems)
    artifact = inspection.artifact
    report: dict[str, object] = {"uri": inspection.uri, **(artifact.summary() if artifact else {})}
    if artifact is not None and args.model and artifact.source_id != args.model:
        problems.append(f"holds {artifact.source_id}, not {args.model}")
    if artifact is not None and args.revision:
        commit = artifact.commit or ""
        if args.revision != artifact.revision and not commit.startswith(args.revision):
            problems.append(f"holds revision {commit or artifact.revision}, not {args.revision}")
    report.update(complete=inspection.complete and not problems, problems=problems)
    print(json.dumps(report, indent=2))
    return EXIT_OK if report["complete"] else EXIT_NOT_COMPLETE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # per-file log lines instead of tqdm bars
    missing = ["--output"] if args.output is None else []
    if not args.check and args.model is None:
        missing.insert(0, "--model")
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    if args.all_files and args.include:
        parser.error("give --include or --all-files, not both")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.check:
            return _check(args)
        from workloads.prefetch.copy import Job, run

        include: tuple[str, ...] = () if args.all_files else tuple(args.include or DEFAULT_INCLUDE)
        result = run(
            Job(
                model=args.model,
                output=args.output,
                revision=args.revision,
                include=include,
                exclude=tuple(args.exclude),
                overwrite=args.overwrite,
                staging_dir=args.staging_dir,
            )
        )
    except TransferError as exc:
        log.error("%s; nothing was marked complete, re-run to copy what is missing", exc)
        return EXIT_TRANSFER_FAILED
    except UserError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        log.error("interrupted; nothing was marked complete, re-run to copy what is missing")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.uri)
    return EXIT_OK
