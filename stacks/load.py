"""Turn raw stack config into a validated `StackConfig`, or one error that lists every problem.

Pure: the values come from the composition root (infra/config.py reads them from Pulumi), from the policy pack
(the engine hands it the stack's config) or from a test.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stacks import preflight
from stacks.config import NAMESPACE, SECRET_KEYS, StackConfig
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


def decode(key: str, value: str) -> Any:
    """A config value as the engine hands it over (JSON for structured values, plain strings as they are)."""
    field = next((f for n, f in StackConfig.model_fields.items() if (f.alias or n) == key), None)
    if field is not None and (field.annotation is str or typing.get_origin(field.annotation) is typing.Literal):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def values_from_engine(config: Mapping[str, str]) -> dict[str, Any]:
    """The `leanrag:` values (without the namespace) of the engine's flat config map, secrets left out."""
    prefix = f"{NAMESPACE}:"
    values = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}
    return {k: decode(k, v) for k, v in sorted(values.items()) if k not in SECRET_KEYS}


def validated(raw: dict[str, Any]) -> StackConfig:
    """The config's shape only (no preflight); PreflightError lists every problem."""
    try:
        return StackConfig.model_validate({k: v for k, v in raw.items() if k not in SECRET_KEYS})
    except ValidationError as e:
        raise PreflightError(_validation_problems(e)) from None


def parse(raw: dict[str, Any], secrets_present: frozenset[str] = frozenset()) -> StackConfig:
    """Validate the `leanrag:` keys of a stack (without the namespace) and run preflight; PreflightError lists
    every problem. `secrets_present` names the secret keys that are set."""
    cfg = validated(raw)
    problems = preflight.run(cfg, secrets_present)
    if problems:
        raise PreflightError(problems)
    return cfg
