"""Typed settings of the caching and guardrail gateway (LiteLLM proxy), input of ``build_gateway_config``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from components.app.common import EnvVarName
from stacks.config.platform import CORPUS_VERSION


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Upstream(_Strict):
    """One OpenAI-compatible model endpoint behind the gateway (a vLLM server, the CPU tier, an embedder)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", description="Model name clients ask for")
    base_url: HttpUrl = Field(description="OpenAI-compatible base URL ending in /v1")
    served_model: str = Field(min_length=1, description="Model id as the upstream serves it")
    kind: Literal["chat", "embedding"] = "chat"
    api_key_env: EnvVarName | None = Field(default=None, description="Env var holding the upstream API key")
    rpm: int | None = Field(default=None, gt=0, description="Requests per minute this upstream may take")
    tpm: int | None = Field(default=None, gt=0, description="Tokens per minute this upstream may take")
    timeout_s: float = Field(default=120.0, gt=0)
    fallback: str | None = Field(
        default=None, description="Name of another upstream to use when this one fails (e.g. the CPU tier)"
    )

    @field_validator("base_url")
    @classmethod
    def _v1(cls, v: HttpUrl) -> HttpUrl:
        if not str(v).rstrip("/").endswith("/v1"):
            raise ValueError(f"must be the OpenAI-compatible base URL ending in /v1 (got {v}); append /v1")
        return v


class RedisSettings(_Strict):
    host: str = Field(min_length=1, description="Redis host, e.g. redis.rag.svc.cluster.local")
    port: int = Field(default=6379, ge=1, le=65535)
    password_env: EnvVarName | None = Field(default=None, description="Env var holding the Redis password")


class CacheSettings(_Strict):
    """Exact-match response cache (chat) and embedding cache, both in Redis.

    Keys are LiteLLM's hash of model group, messages/input and every request parameter, prefixed by the
    namespace ``{prefix}:{corpus_version}``: a new corpus version (re-ingestion) misses every old entry,
    which then expires by TTL.
    """

    enabled: bool = True
    corpus_version: str = Field(description="Version of the ingested corpus, e.g. '2026-11-23' or a hash")
    chat_ttl_s: int = Field(default=3600, gt=0, description="TTL of cached chat/completions responses")
    embedding_ttl_s: int = Field(default=7 * 24 * 3600, gt=0, description="TTL of cached embeddings")
    namespace_prefix: str = Field(default="leanrag", pattern=r"^[a-z0-9][a-z0-9-]*$")

    @field_validator("corpus_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not CORPUS_VERSION.fullmatch(v):
            raise ValueError(
                f"must be 1-64 letters, digits, '.', '_' or '-' (got {v!r}); use the ingest job's corpus version"
            )
        return v

    @property
    def namespace(self) -> str:
        return f"{self.namespace_prefix}:corpus:{self.corpus_version}"


PiiAction = Literal["MASK", "BLOCK"]


class GuardrailSettings(_Strict):
    """Request-path guardrails with LiteLLM's built-in content filter (regex and keyword rules, offline).

    PII: prebuilt patterns, each masked (the request goes on redacted) or blocked (HTTP 400 naming the
    pattern). Prompt injection: LiteLLM's prompt-injection categories, blocked with HTTP 400.
    """

    enabled: bool = True
    pii_mask: tuple[str, ...] = ("email", "us_phone", "ipv4")
    pii_block: tuple[str, ...] = (
        "us_ssn",
        "credit_card",
        "iban",
        "aws_access_key",
        "aws_secret_key",
        "github_token",
        "slack_token",
    )
    injection_categories: tuple[str, ...] = (
        "prompt_injection_jailbreak",
        "prompt_injection_system_prompt",
        "prompt_injection_data_exfiltration",
    )

    @model_validator(mode="after")
    def _disjoint(self) -> GuardrailSettings:
        both = set(self.pii_mask) & set(self.pii_block)
        if both:
            raise ValueError(f"patterns {sorted(both)} are in both pii_mask and pii_block; keep each in one")
        return self


class ModerationGuardrail(_Strict):
    """Llama Guard on every request: LiteLLM's built-in `openai_moderation` guardrail, pre-call, against the
    moderation service's OpenAI-compatible /v1/moderations (workloads/moderation). A flagged request gets HTTP
    400 naming the categories; an unreachable service fails the request (fail closed)."""

    name: str = Field(default="llama-guard", pattern=r"^[a-z0-9][a-z0-9-]*$")
    api_base: HttpUrl = Field(description="The service's base URL ending in /v1 (LiteLLM appends /moderations)")
    api_key_env: EnvVarName = Field(description="Env var holding the service's Bearer key")

    @field_validator("api_base")
    @classmethod
    def _v1(cls, v: HttpUrl) -> HttpUrl:
        if not str(v).rstrip("/").endswith("/v1"):
            raise ValueError(f"must be the moderation service's base URL ending in /v1 (got {v}); append /v1")
        if v.username or v.password:
            raise ValueError("must not hold credentials: the key goes in api_key_env")
        return v


class GatewaySettings(_Strict):
    upstreams: list[Upstream] = Field(min_length=1)
    redis: RedisSettings
    cache: CacheSettings
    guardrails: GuardrailSettings = GuardrailSettings()
    moderation: ModerationGuardrail | None = Field(
        default=None, description="Llama Guard moderation of every request (after the content filters)"
    )
    master_key_env: EnvVarName = Field(description="Env var holding the gateway's master key (sk-...)")
    client_keys: bool = Field(
        default=False,
        description="Check keys with leanrag_keys.litellm_auth (beside config.yaml): the master key, and every "
        "per-client key not revoked, limited to its models",
    )
    prometheus: bool = Field(default=True, description="Expose /metrics (needs the master key to scrape)")
    num_retries: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _links(self) -> GatewaySettings:
        names = [u.name for u in self.upstreams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"upstreams: names {dupes} are used twice; each name is one model group")
        by_name = {u.name: u for u in self.upstreams}
        for i, up in enumerate(self.upstreams):
            if up.fallback is None:
                continue
            target = by_name.get(up.fallback)
            if target is None:
                raise ValueError(f"upstreams[{i}].fallback: {up.fallback!r} is not an upstream name; known: {names}")
            if target.name == up.name or target.kind != up.kind:
                raise ValueError(
                    f"upstreams[{i}].fallback: {up.fallback!r} must be another upstream of kind {up.kind!r}"
                )
        return self
