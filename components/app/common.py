"""Shared pieces of the app config generators: env-var references and the rendered result.

Secrets never appear in a generated config. A setting that holds a secret names an environment variable
(an ``EnvVarName``); the config refers to it in the syntax of the program that reads it (OGX:
``${env.NAME}``, LiteLLM: ``os.environ/NAME``), and the Kubernetes component fills the variable from a
Secret. ``RenderedConfig.secret_env`` lists those names so the component can wire every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import yaml
from pydantic import StringConstraints

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]
"""An environment variable name (upper case, digits, underscores), e.g. ``VLLM_API_KEY``."""


def ogx_env(name: str) -> str:
    """Reference to an environment variable in an OGX run config (required: OGX fails if it is unset)."""
    return f"${{env.{name}}}"


def litellm_env(name: str) -> str:
    """Reference to an environment variable in a LiteLLM proxy config."""
    return f"os.environ/{name}"


@dataclass(frozen=True)
class RenderedConfig:
    """A generated configuration: the data, its YAML text, and the env vars it expects from Secrets."""

    data: dict[str, Any]
    secret_env: tuple[str, ...] = field(default=())
    """Names of the environment variables holding secrets that the config refers to, sorted."""

    @property
    def yaml(self) -> str:
        return to_yaml(self.data)


def to_yaml(data: dict[str, Any]) -> str:
    """Serialise a generated config (never hand-written YAML); keys keep their insertion order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
