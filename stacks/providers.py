"""The provider settings of a stack: its config keys outside `leanrag:` (aws:region, gcp:project, ...).

Pure: the composition root hands over every such key with its value and the keys each provider reads
(`infra/provider_keys.py` takes them from the pinned provider SDKs). Pulumi passes any key to the program and
to the providers without a word, so a typo such as `aws:regoin` would be ignored and the provider would take
its default: here it is an error. Two settings exist twice, once for the program and once for the provider's
defaults; the program's are the one source of truth and the provider's must agree (`check_agreement`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from stacks.config import NAMESPACE, StackConfig
from stacks.preflight.problem import Problem

ANY_KEY = None
"""In `ProviderSettings.known_keys`: a namespace whose keys are not checked (`pulumi:` settings of the engine)."""


@dataclass(frozen=True)
class ProviderSettings:
    values: Mapping[str, str]
    """Every config key outside this program's namespace (full key, e.g. aws:region), with its value."""
    known_keys: Mapping[str, frozenset[str] | None]
    """Namespace -> the keys its provider reads (ANY_KEY: not checked); a namespace not listed is read by
    nothing the program uses."""


def check_keys(settings: ProviderSettings) -> Iterator[Problem]:
    """Keys that nothing reads: an unknown namespace, or a key its provider does not have."""
    namespaces = sorted({NAMESPACE, *settings.known_keys})
    for full_key in sorted(settings.values):
        namespace, _, key = full_key.partition(":")
        if namespace not in settings.known_keys:
            close = difflib.get_close_matches(namespace, namespaces, n=1)
            hint = f"did you mean {close[0]}:{key}? " if close else ""
            yield Problem(
                key,
                f"no provider of this program reads the namespace {namespace!r}: the key would be ignored",
                f"{hint}namespaces in use: {', '.join(namespaces)}",
                namespace=namespace,
            )
            continue
        known = settings.known_keys[namespace]
        if known is ANY_KEY or key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        yield Problem(
            key,
            f"the {namespace} provider has no setting {key!r}: it would be ignored",
            f"did you mean {namespace}:{close[0]}?"
            if close
            else f"remove it; the {namespace} provider reads: {', '.join(sorted(known))}",
            namespace=namespace,
        )


def check_agreement(cfg: StackConfig, settings: ProviderSettings) -> Iterator[Problem]:
    """One source of truth for the region (and GCP's project): `leanrag:region` is what the program builds with
    (subnets, zones, the cluster autoscaler, GKE's location); the provider's own `aws:region` / `gcp:region` sets
    where its other resources go. A stack file may repeat it for the provider, but both must be the same.
    (Mismatches are refused rather than the provider's region derived: deriving it needs an explicit provider
    for every cloud resource, which would replace the resources of existing stacks.)"""
    if cfg.cloud not in ("aws", "gcp"):
        return
    pairs = [("region", cfg.region, f"{NAMESPACE}:region")]
    if cfg.cloud == "gcp":
        pairs.append(("project", cfg.cluster.gcp.project, f"{NAMESPACE}:cluster.gcp.project"))
    for key, ours, our_key in pairs:
        theirs = settings.values.get(f"{cfg.cloud}:{key}")
        if theirs is not None and ours and theirs != ours:
            yield Problem(
                key,
                f"{cfg.cloud}:{key} is {theirs!r} but {our_key} is {ours!r}: the provider would put resources in "
                f"one {key} and the program configure them for the other",
                f"set {cfg.cloud}:{key} to {ours!r} (or remove it), or change {our_key}",
                namespace=cfg.cloud,
            )
