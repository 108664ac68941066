"""Helpers for the benchmark tests: run the CLI as a user would, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
"""Recorded runs (see data/README.md)."""
NO_CLOUD_CREDENTIALS = {
    # Nothing from this machine's own configuration, and no metadata-server probing.
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "CLOUDSDK_CONFIG": "/nonexistent/gcloud",
    "NO_GCE_CHECK": "true",
}
CLOUD_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "GOOGLE_APPLICATION_CREDENTIALS",
    "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT",
)  # fmt: skip


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **NO_CLOUD_CREDENTIALS}
    for name in ("OPENAI_API_KEY", *CLOUD_VARS):
        env.pop(name, None)
    return {**env, **(extra or {})}


def run_cli(
    *args: str | Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m workloads.benchmark ARGS` in a child process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "workloads.benchmark", *map(str, args)],
        cwd=REPO,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI as a background process (to interrupt it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "workloads.benchmark", *map(str, args)],
        cwd=REPO, env=cli_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, proc: subprocess.Popen[str]) -> None:
    """Poll `predicate` until true; fail (killing `proc`) if it ends first or time runs out."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"run ended (exit {proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.2)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}:\n{out}\n{err}")
