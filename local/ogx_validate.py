"""Validate an OGX run config with OGX's own models; run it with the OGX venv's Python (3.12).

    PYTHONPATH=. .venvs/ogx/bin/python -m local.ogx_validate < config.yaml

or from any Python of this repository with `validate_with_ogx(text, env)`, which runs that command.

Reads YAML on stdin. Environment variables referenced as ${env.NAME} are resolved from the environment,
exactly as `ogx stack run` does. Checks, in order, with OGX's code:
  1. ``StackConfig`` (via ``parse_and_maybe_upgrade_config``): structure, storage backends and references;
  2. each provider's ``config`` against its provider's config class from OGX's provider registry;
  3. ``validate_and_prepare_providers`` (what ``ogx stack run --dry-run`` runs);
  4. each registered model as ``ModelInput``.
Prints one JSON object {"ok": bool, "ogx_version": str, "errors": [{"loc": str, "msg": str}]} and exits 0
when valid, 1 when not, 2 when the input is not a YAML mapping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


def _pydantic_errors(prefix: str, exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append({"loc": f"{prefix}.{loc}" if loc else prefix, "msg": err["msg"]})
    return out


def validate(config_dict: dict[str, Any]) -> list[dict[str, str]]:
    from ogx.core.configure import parse_and_maybe_upgrade_config
    from ogx.core.distribution import builtin_automatically_routed_apis, get_provider_registry
    from ogx.core.resolver import validate_and_prepare_providers
    from ogx.core.stack import EnvVarError
    from ogx.core.utils.dynamic import instantiate_class_type
    from ogx_api import Api, ModelInput

    try:
        config = parse_and_maybe_upgrade_config(config_dict)
    except ValidationError as exc:
        return _pydantic_errors("config", exc)
    except (EnvVarError, ValueError) as exc:
        return [{"loc": "config", "msg": str(exc)}]

    errors: list[dict[str, str]] = []
    registry = get_provider_registry(config)
    for api_name, providers in config.providers.items():
        try:
            api = Api(api_name)
        except ValueError:
            errors.append({"loc": f"providers.{api_name}", "msg": f"unknown API {api_name!r}"})
            continue
        for i, provider in enumerate(providers):
            loc = f"providers.{api_name}[{i}]"
            spec = registry.get(api, {}).get(provider.provider_type)
            if spec is None:
                known = sorted(registry.get(api, {}))
                errors.append(
                    {
                        "loc": f"{loc}.provider_type",
                        "msg": f"{provider.provider_type!r} is not a provider of {api_name}; known: {known}",
                    }
                )
                continue
            if not spec.config_class:
                continue
            config_class = instantiate_class_type(spec.config_class)
            try:
                config_class.model_validate(provider.config)
            except ValidationError as exc:
                errors.extend(_pydantic_errors(f"{loc}.config", exc))
    if errors:
        return errors

    routed = builtin_automatically_routed_apis()
    try:
        validate_and_prepare_providers(
            run_config=config,
            provider_registry=registry,
            routing_table_apis={x.routing_table_api for x in routed},
            router_apis={x.router_api for x in routed},
        )
    except Exception as exc:  # OGX raises ValueError or its own InvalidProviderError
        errors.append({"loc": "providers", "msg": str(exc)})

    for i, model in enumerate(config_dict.get("registered_resources", {}).get("models", [])):
        try:
            ModelInput.model_validate(model)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(f"registered_resources.models[{i}]", exc))
    return errors


def validate_with_ogx(text: str, env: Mapping[str, str], python: Path | None = None) -> tuple[int, dict[str, Any]]:
    """Run this module in the OGX venv on a run config's YAML; returns (exit code, the JSON result).

    The config sees only `env` (plus PATH, HOME and the language settings), not this process's environment, so a
    secret env var it needs but `env` lacks is reported as missing.
    """
    from local.envs import ROOT, venv_bin  # the caller's side (.venv); this module also runs where mirakuru is not

    python = python or venv_bin("ogx")
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    proc = subprocess.run(
        [str(python), "-m", "local.ogx_validate"],
        input=text,
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        timeout=180,
    )
    if not proc.stdout.strip():
        raise RuntimeError(f"local.ogx_validate printed nothing (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    try:
        data = yaml.safe_load(sys.stdin.read())
    except yaml.YAMLError as exc:
        print(json.dumps({"ok": False, "errors": [{"loc": "yaml", "msg": str(exc)}]}))
        return 2
    if not isinstance(data, dict):
        print(json.dumps({"ok": False, "errors": [{"loc": "yaml", "msg": "the run config must be a mapping"}]}))
        return 2
    errors = validate(data)
    print(json.dumps({"ok": not errors, "ogx_version": version("ogx"), "errors": errors}))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
