"""Turn raw stack config into a validated `StackConfig`, or one error that lists every problem.

`from_pulumi` is the only place in the program that reads Pulumi config.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stacks import preflight
from stacks.config import NAMESPACE, SECRET_KEYS, StackConfig
from stacks.preflight import PreflightError, Problem


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, as Pulumi secret Outputs (None when unset). Never printed or exported."""

    hf_token: pulumi.Output[str] | None = None
    kubeconfig: pulumi.Output[str] | None = None

    def present(self) -> frozenset[str]:
        return frozenset(
            k for k, attr in (("hfToken", self.hf_token), ("kubeconfig", self.kubeconfig)) if attr is not None
        )


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
    """Validate the `leanrag:` keys of a stack (without the namespace) and run preflight."""
    try:
        cfg = StackConfig.model_validate({k: v for k, v in raw.items() if k not in SECRET_KEYS})
    except ValidationError as e:
        raise PreflightError(_validation_problems(e)) from None
    problems = preflight.run(cfg, secrets_present)
    if problems:
        raise PreflightError(problems)
    return cfg


def _decode(key: str, value: str) -> Any:
    """Pulumi hands structured values over as JSON and plain strings as they are."""
    field = next((f for n, f in StackConfig.model_fields.items() if (f.alias or n) == key), None)
    if field is not None and (field.annotation is str or typing.get_origin(field.annotation) is typing.Literal):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def from_pulumi() -> tuple[StackConfig, StackSecrets]:
    """Read every `leanrag:` key once (unknown ones too, so typos are reported), then validate."""
    config = pulumi.Config(NAMESPACE)
    prefix = f"{NAMESPACE}:"
    all_keys = {*pulumi.runtime.config.get_config_env(), *pulumi.runtime.config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key in sorted(k for k in all_keys if k.startswith(prefix)):
        key = full_key.removeprefix(prefix)
        value = config.get(key)
        if key not in SECRET_KEYS and value is not None:
            raw[key] = _decode(key, value)
    secrets = StackSecrets(hf_token=_secret(config, "hfToken"), kubeconfig=_secret(config, "kubeconfig"))
    return parse(raw, secrets.present()), secrets


def _secret(config: pulumi.Config, key: str) -> pulumi.Output[str] | None:
    """A secret that is set and not empty (Pulumi.yaml declares each with the default "")."""
    if not pulumi.runtime.config.get_config(f"{NAMESPACE}:{key}"):
        return None
    return config.get_secret(key)
