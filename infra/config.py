"""Read the stack's Pulumi config: the only place in the program that does.

Every `leanrag:` key is read once (unknown ones too, so typos are reported) and handed to the pure
`stacks.load.parse`; secrets stay Pulumi secret Outputs in `StackSecrets` and only their presence reaches
preflight. Every other key (aws:region, gcp:project, ...) is checked against the keys its provider reads
(`infra.provider_keys`) and against ours (the region), all in the same report.

What the program cannot catch here: Pulumi has parsed `Pulumi.<stack>.yaml` before the program starts and
passes one value per key, merged from the stack file, ESC environments and `--config` flags. A YAML syntax
error, duplicate keys or a `config:` of the wrong shape are therefore Pulumi's to report (or, for duplicates,
the last one wins before the program sees the map); the offline plan (`python -m infra.plan`, run in CI)
reads the stack file itself and refuses all three with the line (`infra.stack_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.provider_keys import known_keys
from stacks.config import NAMESPACE, SECRET_KEYS, StackConfig
from stacks.load import decode, parse
from stacks.providers import ProviderSettings


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, as Pulumi secret Outputs (None when unset). Never printed or exported."""

    hf_token: pulumi.Output[str] | None = None
    """Hugging Face token for gated models."""
    kubeconfig: pulumi.Output[str] | None = None
    """kubeconfig of an existing cluster."""

    def present(self) -> frozenset[str]:
        return frozenset(
            k for k, attr in (("hfToken", self.hf_token), ("kubeconfig", self.kubeconfig)) if attr is not None
        )


def _secret(config: pulumi.Config, key: str) -> pulumi.Output[str] | None:
    """A secret that is set and not empty (Pulumi.yaml declares each with the default "")."""
    if not pulumi.runtime.config.get_config(f"{NAMESPACE}:{key}"):
        return None
    return config.get_secret(key)


def from_pulumi() -> tuple[StackConfig, StackSecrets]:
    """The stack's validated config and its secrets; PreflightError lists every problem."""
    config = pulumi.Config(NAMESPACE)
    prefix = f"{NAMESPACE}:"
    all_keys = {*pulumi.runtime.config.get_config_env(), *pulumi.runtime.config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key in sorted(k for k in all_keys if k.startswith(prefix)):
        key = full_key.removeprefix(prefix)
        value = config.get(key)
        if key not in SECRET_KEYS and value is not None:
            raw[key] = decode(key, value)
    providers = ProviderSettings(
        values={
            k.replace(":config:", ":", 1): pulumi.runtime.config.get_config(k) or ""
            for k in sorted(all_keys)
            if not k.startswith(prefix)
        },
        known_keys=known_keys(),
    )
    secrets = StackSecrets(hf_token=_secret(config, "hfToken"), kubeconfig=_secret(config, "kubeconfig"))
    return parse(raw, secrets.present(), providers), secrets
