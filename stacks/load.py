"""Turn raw stack config into a validated `StackConfig`, or one error that lists every problem.

Pure: the values come from the composition root (infra/config.py reads them from Pulumi), from the policy pack
(the engine hands it the stack's config) or from a test.
Every problem is reported at once: schema errors, the provider settings (unknown keys, a region that differs
from ours) and the preflight rules. When part of the schema is invalid, preflight still runs on the valid part:
a rule that reads an invalid top-level section (say `cluster`) is skipped, since its findings would come from
defaults rather than from what was written; the others report as usual.
"""

from __future__ import annotations

import difflib
import functools
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from stacks import preflight
from stacks.config import NAMESPACE, PATTERN_MEANINGS, SECRET_KEYS, StackConfig
from stacks.preflight import PreflightError, Problem
from stacks.providers import ProviderSettings, check_agreement, check_keys


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model whose keys are valid at `loc` (the location of a key), or None when it is not one."""
    current: Any = StackConfig
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None  # list[X] -> X (part: the index), dict[str, X] -> X (the key)
            continue
        if isinstance(part, int):
            return None
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        current = field.annotation
        while typing.get_origin(current) in (typing.Union, types.UnionType):
            current = next(a for a in typing.get_args(current) if a is not type(None))
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """`; did you mean X?` for a misspelt key, from the keys valid where it is written."""
    model = _model_at(loc)
    if model is None or not loc:
        return ""
    known = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _fix(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove this key or fix its spelling (see the config declarations in Pulumi.yaml)" + _did_you_mean(
            error["loc"]
        )
    if kind == "missing":
        return "add this key to Pulumi.<stack>.yaml"
    if kind in ("literal_error", "enum"):
        return "use one of the values listed above"
    if kind == "string_pattern_mismatch" and (meaning := PATTERN_MEANINGS.get(str(error["ctx"]["pattern"]))):
        return f"write {meaning}"
    return "correct the value (types and limits: Pulumi.yaml config declarations)"


def _message(error: ErrorDetails) -> str:
    if error["type"] == "string_pattern_mismatch" and str(error.get("ctx", {}).get("pattern")) in PATTERN_MEANINGS:
        return f"{error['input']!r} is not a valid value here"  # the fix says what one looks like
    return error["msg"].removeprefix("Value error, ")


def _validation_problems(error: ValidationError) -> list[Problem]:
    return [Problem(_path(e["loc"]) or "(root)", _message(e), _fix(e)) for e in error.errors()]


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


class _Unreadable(Exception):
    """A preflight rule read a top-level section whose schema is invalid."""


class _ValidPart:
    """A `StackConfig` built from the valid top-level sections, whose invalid ones cannot be read: reading one raises
    `_Unreadable`. Methods (`pool`, `effective_zones`) run on this view, so they cannot read them either."""

    def __init__(self, cfg: StackConfig, invalid: frozenset[str]):
        self._cfg = cfg
        self._invalid = invalid

    def __getattr__(self, name: str) -> Any:
        if name in self._invalid:
            raise _Unreadable(name)
        attr = getattr(type(self._cfg), name, None)
        if callable(attr) and name not in StackConfig.model_fields:
            return attr.__get__(self)
        return getattr(self._cfg, name)


_FIELDS_BY_KEY = {(f.alias or n): n for n, f in StackConfig.model_fields.items()}


def _valid_part(values: dict[str, Any], error: ValidationError) -> StackConfig | None:
    """The config as a view that hides the top-level sections with schema errors (they take no default), or None
    when the rest does not validate on its own (e.g. `cloud`, which every rule reads, is invalid)."""
    locs = [e["loc"] for e in error.errors()]
    if any(not loc for loc in locs):
        return None
    invalid_keys = {str(loc[0]) for loc in locs}
    try:
        cfg = StackConfig.model_validate({k: v for k, v in values.items() if k not in invalid_keys})
    except ValidationError:
        return None
    invalid_fields = frozenset(_FIELDS_BY_KEY[k] for k in invalid_keys if k in _FIELDS_BY_KEY)
    return typing.cast(StackConfig, _ValidPart(cfg, invalid_fields))


def _rule_problems(cfg: StackConfig, secrets: frozenset[str], providers: ProviderSettings | None) -> list[Problem]:
    """The preflight rules and the provider agreement over `cfg`; a rule that reads an invalid section is skipped."""
    rules: list[Callable[[], Iterable[Problem]]] = [
        functools.partial(check, cfg, secrets) for check in preflight.CHECKS
    ]
    if providers is not None:
        rules.append(functools.partial(check_agreement, cfg, providers))
    found: list[Problem] = []
    for rule in rules:
        try:
            found += list(rule())
        except _Unreadable:
            continue
    return found


def parse(
    raw: dict[str, Any],
    secrets_present: frozenset[str] = frozenset(),
    providers: ProviderSettings | None = None,
) -> StackConfig:
    """Validate the `leanrag:` keys of a stack (without the namespace), the provider settings if given, and run
    preflight; PreflightError lists every problem. `secrets_present` names the secret keys that are set."""
    values = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    problems: list[Problem] = list(check_keys(providers)) if providers is not None else []
    cfg: StackConfig | None
    try:
        cfg = StackConfig.model_validate(values)
    except ValidationError as e:
        problems += _validation_problems(e)
        cfg = _valid_part(values, e)
        if cfg is not None:
            problems += _rule_problems(cfg, secrets_present, providers)
        raise PreflightError(problems) from None
    problems += _rule_problems(cfg, secrets_present, providers)
    if problems:
        raise PreflightError(problems)
    return cfg
