"""Generate the LiteLLM proxy ``config.yaml`` of the caching and guardrail gateway from ``GatewaySettings``.

Pure functions, no I/O. Run it as ``litellm --config config.yaml --host 0.0.0.0 --port 4000`` with the
env vars in ``RenderedConfig.secret_env`` set from Secrets, plus ``LITELLM_LOCAL_MODEL_COST_MAP=True``
(no fetch of the price list at start-up; see ``GATEWAY_PLAIN_ENV``).
"""

from __future__ import annotations

from typing import Any

from components.app.common import RenderedConfig, litellm_env
from components.app.gateway_settings import GatewaySettings, Upstream

LITELLM_VERSION = "1.103.7"

CLIENT_KEYS_AUTH = "leanrag_keys.litellm_auth"
"""LiteLLM's custom_auth: components/app/leanrag_keys.py, mounted beside config.yaml."""

GATEWAY_PLAIN_ENV: dict[str, str] = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
"""Non-secret environment the gateway process needs offline."""


def build_gateway_config(settings: GatewaySettings) -> RenderedConfig:
    """The LiteLLM proxy config for these settings."""
    litellm_settings: dict[str, Any] = {
        "drop_params": False,
        "num_retries": settings.num_retries,
        "request_timeout": max(u.timeout_s for u in settings.upstreams),
    }
    if settings.cache.enabled:
        litellm_settings["cache"] = True
        litellm_settings["cache_params"] = _cache_params(settings)
    if settings.prometheus:
        litellm_settings["callbacks"] = ["prometheus"]

    data: dict[str, Any] = {
        "model_list": [_deployment(u, settings) for u in settings.upstreams],
        "litellm_settings": litellm_settings,
        "router_settings": _router_settings(settings),
        "general_settings": {"master_key": litellm_env(settings.master_key_env)},
    }
    if settings.client_keys:
        # LiteLLM loads the module from the config's folder; common checks enforce each key's models.
        data["general_settings"].update({"custom_auth": CLIENT_KEYS_AUTH, "custom_auth_run_common_checks": True})
        litellm_settings["enable_post_custom_auth_checks"] = True
    guardrails = _guardrails(settings) if settings.guardrails.enabled else []
    if settings.moderation is not None:
        guardrails.append(_moderation(settings))
    if guardrails:
        data["guardrails"] = guardrails
    return RenderedConfig(data=data, secret_env=secret_env_names(settings))


def secret_env_names(settings: GatewaySettings) -> tuple[str, ...]:
    names = {settings.master_key_env, settings.redis.password_env}
    if settings.moderation is not None:
        names.add(settings.moderation.api_key_env)
    names.update(u.api_key_env for u in settings.upstreams)
    return tuple(sorted(n for n in names if n))


def _deployment(up: Upstream, settings: GatewaySettings) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": f"openai/{up.served_model}",
        "api_base": str(up.base_url).rstrip("/"),
        # LiteLLM's openai client needs some key; an upstream without auth ignores it.
        "api_key": litellm_env(up.api_key_env) if up.api_key_env else "no-key",
        "timeout": up.timeout_s,
    }
    if up.rpm is not None:
        params["rpm"] = up.rpm
    if up.tpm is not None:
        params["tpm"] = up.tpm
    if settings.cache.enabled:
        # Per-deployment cache control: LiteLLM applies this TTL to the entries of this model group.
        ttl = settings.cache.chat_ttl_s if up.kind == "chat" else settings.cache.embedding_ttl_s
        params["cache"] = {"ttl": ttl}
    entry: dict[str, Any] = {"model_name": up.name, "litellm_params": params}
    if up.kind == "embedding":
        entry["model_info"] = {"mode": "embedding"}
    return entry


def _cache_params(settings: GatewaySettings) -> dict[str, Any]:
    redis = settings.redis
    params: dict[str, Any] = {
        "type": "redis",
        "host": redis.host,
        "port": redis.port,
        "namespace": settings.cache.namespace,
        "ttl": settings.cache.chat_ttl_s,
        "supported_call_types": [
            "acompletion",
            "completion",
            "atext_completion",
            "text_completion",
            "aembedding",
            "embedding",
        ],
    }
    if redis.password_env:
        params["password"] = litellm_env(redis.password_env)
    return params


def _router_settings(settings: GatewaySettings) -> dict[str, Any]:
    fallbacks = [{u.name: [u.fallback]} for u in settings.upstreams if u.fallback]
    router: dict[str, Any] = {"routing_strategy": "simple-shuffle", "enable_pre_call_checks": True}
    if fallbacks:
        router["fallbacks"] = fallbacks
    return router


def _guardrails(settings: GatewaySettings) -> list[dict[str, Any]]:
    g = settings.guardrails
    out: list[dict[str, Any]] = []
    patterns = [{"pattern_type": "prebuilt", "pattern_name": p, "action": "MASK"} for p in g.pii_mask]
    patterns += [{"pattern_type": "prebuilt", "pattern_name": p, "action": "BLOCK"} for p in g.pii_block]
    if patterns:
        out.append(_content_filter("pii-input", {"patterns": patterns}))
    if g.injection_categories:
        categories = [{"category": c, "action": "BLOCK"} for c in g.injection_categories]
        # What a client or the user types is checked; the system message and tool results are not: that is where
        # a RAG client (the demo, local/demo/ask.py) and the RAG app (OGX's file_search results) put passages of
        # the operator's own documents, and the keyword rules refuse plain documentation ("access" near
        # "credentials" is "data exfiltration"). Llama Guard (moderation) still sees every message.
        rules = {"categories": categories, "skip_system_message_in_guardrail": True}
        out.append(_content_filter("prompt-injection", {**rules, "skip_tool_message_in_guardrail": True}))
    return out


def _content_filter(name: str, rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "guardrail_name": name,
        "litellm_params": {
            "guardrail": "litellm_content_filter",
            "mode": "pre_call",
            "default_on": True,
            **rules,
        },
    }


def _moderation(settings: GatewaySettings) -> dict[str, Any]:
    """After the content filters, so the moderation service sees PII already masked."""
    m = settings.moderation
    assert m is not None
    return {
        "guardrail_name": m.name,
        "litellm_params": {
            "guardrail": "openai_moderation",
            "mode": "pre_call",
            "default_on": True,
            "api_base": str(m.api_base).rstrip("/"),
            "api_key": litellm_env(m.api_key_env),
        },
    }
