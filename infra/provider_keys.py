"""The config keys each provider of the program reads, taken from the pinned provider SDKs themselves.

- aws, gcp: the SDK's `config/vars.py` (generated from the provider's schema) reads each key with
  `__config__.get...('<key>')`;
- kubernetes: no config module; its default provider takes `kubernetes:<key>` for each argument of
  `ProviderArgs` (in camelCase);
- random, awsx: read no config;
- pulumi: the engine's own settings (pulumi:tags, pulumi:disable-default-providers, ...), not checked.

A provider package the program starts to use goes into `PROVIDER_PACKAGES` (tests/infra/test_config.py checks
that every imported one is there).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from functools import cache
from pathlib import Path

import pulumi_kubernetes
from pydantic.alias_generators import to_camel

from stacks.providers import ANY_KEY

PROVIDER_PACKAGES = {
    "aws": "pulumi_aws",
    "awsx": "pulumi_awsx",
    "gcp": "pulumi_gcp",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
}
"""Config namespace -> the provider SDK package the program uses."""
_CONFIG_READ = re.compile(r"__config__\.get\w*\('([A-Za-z0-9_]+)'")


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def _config_module_keys(package: str) -> frozenset[str]:
    """The keys a provider SDK's config module reads (none when it has no config module)."""
    vars_file = _package_dir(package) / "config" / "vars.py"
    return frozenset(_CONFIG_READ.findall(vars_file.read_text())) if vars_file.exists() else frozenset()


def _kubernetes_keys() -> frozenset[str]:
    params = inspect.signature(pulumi_kubernetes.ProviderArgs.__init__).parameters
    return frozenset(to_camel(name) for name in params if name not in ("self", "__self__"))


@cache
def known_keys() -> dict[str, frozenset[str] | None]:
    """Namespace -> the keys its provider reads (ANY_KEY for `pulumi:`)."""
    keys: dict[str, frozenset[str] | None] = {"pulumi": ANY_KEY}
    for namespace, package in PROVIDER_PACKAGES.items():
        keys[namespace] = _config_module_keys(package)
    keys["kubernetes"] = _kubernetes_keys()
    return keys
