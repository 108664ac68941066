"""Turn raw stack config into a validated `StackConfig`, or one error that lists every problem.

Pure: the values come from the composition root (infra/config.py reads them from Pulumi) or from a test.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stacks import preflight
from stacks.config import SECRET_KEYS, StackConfig
from stacks.preflight import PreflightError, Problem


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fix(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove this key or fix its spelling (see the config declarations in Pulumi.yaml)"
    if kind == "missing":
        return "add this key to Pulumi.<stack>.yaml"
    if kind in ("literal_error", "enum"):
        return "use one of the values listed above"
    return "correct the value (types and limits: Pulumi.yaml config declarations)"


def _validation_problems(error: ValidationError) -> list[Problem]:
    return [
        Problem(_path(e["loc"]) or "(root)", e["msg"].removeprefix("Value error, "), _fix(e)) for e in error.errors()
    ]


def parse(raw: dict[str, Any], secrets_present: frozenset[str] = frozenset()) -> StackConfig:
    """Validate the `leanrag:` keys of a stack (without the namespace) and run preflight; PreflightError lists
    every problem. `secrets_present` names the secret keys that are set."""
    try:
        cfg = StackConfig.model_validate({k: v for k, v in raw.items() if k not in SECRET_KEYS})
    except ValidationError as e:
        raise PreflightError(_validation_problems(e)) from None
    problems = preflight.run(cfg, secrets_present)
    if problems:
        raise PreflightError(problems)
    return cfg
