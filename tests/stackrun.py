"""Run the real Pulumi program under the SDK's mocks, for tests: by stack file or from a config dict."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from infra.mocks import ProgramRun, run_program, stack_config

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


@cache
def run_stack(stack: str) -> ProgramRun:
    """The program for a stack file in the repo (cached: runs are pure)."""
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    return run_program(config, secret_keys, stack)


def stack_values(stack: str) -> dict[str, Any]:
    """The `leanrag:` values of a stack file, without the namespace, to modify in a test."""
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in raw.items() if k.startswith("leanrag:")}


def run_values(values: dict[str, Any], stack: str = "test", secrets: dict[str, str] | None = None) -> ProgramRun:
    """The program for `leanrag:` values given in the test (secrets as plain strings, marked secret)."""
    config = {f"leanrag:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    secrets = secrets or {}
    config.update({f"leanrag:{k}": v for k, v in secrets.items()})
    return run_program(config, [f"leanrag:{k}" for k in secrets], stack)
