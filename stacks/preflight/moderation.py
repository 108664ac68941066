"""Preflight of the request path's moderation: a stack that asks for Llama Guard must serve a safety model, and
the CPU safety model must be loadable and not clash with another served name."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.preflight.problem import Problem
from stacks.uris import UriError, parse_gguf_uri


def safety_models(cfg: StackConfig) -> list[str]:
    """Served names of the stack's safety models, in the order the moderation service picks the first."""
    names = [m.name for m in cfg.serving.models if m.role == "safety"]
    if cfg.serving.cpu_safety.enabled:
        names.append(cfg.serving.cpu_safety.name)
    return names


def check_moderation(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    if cfg.platform.moderation.enabled and not safety_models(cfg):
        yield Problem(
            "platform.moderation.enabled",
            "moderation is on, but the stack serves no safety model for it to call (requests would all be refused)",
            "set serving.cpuSafety.enabled: true (Llama Guard 3 1B on CPU), or add serving.models[] with "
            "role: safety (e.g. id meta-llama/Llama-Guard-3-1B on a GPU pool), or set "
            "platform.moderation.enabled: false",
        )
    safety = cfg.serving.cpu_safety
    if not safety.enabled:
        return
    taken = {m.name for m in cfg.serving.models}
    if cfg.serving.cpu_tier.enabled:
        taken.add(cfg.serving.cpu_tier.name)
    if safety.name in taken:
        yield Problem(
            "serving.cpuSafety.name",
            f"{safety.name!r} is also the name of another served model",
            "give the CPU safety model its own served name, e.g. llama-guard-3-1b-cpu",
        )
    try:
        parse_gguf_uri(safety.gguf_uri)
    except UriError:
        yield Problem(
            "serving.cpuSafety.ggufUri",
            f"{safety.gguf_uri!r} is not a GGUF file llama-server can load",
            "use hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf",
        )
