"""How long the offline plan of a stack takes, as CI and a reviewer run it: each run a fresh process (imports,
the program under mocks, Helm renders, validation, files written), timed from outside.

    python -m infra.bench_plan prod --runs 5 --max-seconds 3

Prints, per stack, the best and the median of the wall-clock time and of the CPU time (user + system of the
plan's process and its children), with the load average and the number of cores, and exits 1 when the best
time of `--metric` is over `--max-seconds`. The best of several runs is the figure to compare (other processes
only ever add to a run's time); on a machine busier than its cores (load average above the core count) the
wall-clock time includes waiting for a core, so compare the CPU time there (`--metric cpu`).

Before timing, it byte-compiles the project's packages (`compileall`, as pip does for installed packages), so the
runs load bytecode as every run after a first one does; where PYTHONDONTWRITEBYTECODE is set (this development
machine sets it), Python would otherwise compile every project module again in each run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


PACKAGES = ("infra", "stacks", "components")
"""What the plan imports from the project (tests/ and workloads/ it does not)."""


def compile_packages() -> None:
    """Write the bytecode of the project's packages (quietly; a file that does not compile fails the plan later)."""
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=2)


def measure(stack: str, runs: int) -> list[Sample]:
    """`runs` plans of `stack`, each in a new process writing to a temporary folder; RuntimeError if one fails."""
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-plan-") as out:
            cpu, start = _children_cpu(), time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "infra.plan", stack, "--out", out, "--quiet"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            samples.append(Sample(time.perf_counter() - start, _children_cpu() - cpu))
        if done.returncode != 0:
            raise RuntimeError(f"plan {stack} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return samples


def verdict(stack: str, samples: list[Sample], metric: str, max_s: float) -> tuple[bool, str]:
    """Whether the best `metric` time is within `max_s`, and the line that says so with the figures."""
    walls, cpus = [s.wall_s for s in samples], [s.cpu_s for s in samples]
    best = min(walls if metric == "wall" else cpus)
    ok = best <= max_s
    return ok, (
        f"plan {stack}: {len(samples)} run(s), wall best {min(walls):.2f} s median {statistics.median(walls):.2f} s,"
        f" CPU best {min(cpus):.2f} s median {statistics.median(cpus):.2f} s;"
        f" best {metric} {best:.2f} s {'<=' if ok else '>'} {max_s:g} s: {'ok' if ok else 'TOO SLOW'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench_plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="*", default=["prod"], help="stack names (default: prod)")
    parser.add_argument("--runs", type=int, default=5, help="plans per stack (default 5)")
    parser.add_argument("--max-seconds", type=float, default=3.0, help="the budget for the best run (default 3)")
    parser.add_argument("--metric", choices=["wall", "cpu"], default="wall", help="what the budget applies to")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    print(f"machine: {cores} core(s), load average {load:.1f} (1 min)")
    if load > cores and args.metric == "wall":
        print("note: the load average is above the core count: wall-clock times include waiting for a core")
    compile_packages()
    all_ok = True
    for stack in args.stacks:
        try:
            samples = measure(stack, args.runs)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        ok, line = verdict(stack, samples, args.metric, args.max_seconds)
        print(line)
        all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
