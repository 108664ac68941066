"""Helpers for the benchmark tests: run the CLI as a user would, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def cli_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("OPENAI_API_KEY", None)
    return env


def run_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m workloads.benchmark ARGS` in a child process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "workloads.benchmark", *map(str, args)],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
