"""The LiteLLM gateway config generator, without LiteLLM: cache keys, TTLs, guardrails, secrets, errors."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from components.app.gateway_config import build_gateway_config
from components.app.gateway_settings import (
    CacheSettings,
    GatewaySettings,
    GuardrailSettings,
    ModerationGuardrail,
    RedisSettings,
    Upstream,
)


def settings(**overrides: object) -> GatewaySettings:
    values: dict = {
        "upstreams": [
            Upstream(
                name="chat",
                base_url="http://vllm:8000/v1",
                served_model="qwen",
                api_key_env="VLLM_API_KEY",
                rpm=600,
                fallback="chat-cpu",
            ),
            Upstream(name="chat-cpu", base_url="http://cpu:8000/v1", served_model="qwen-cpu"),
            Upstream(name="embed", base_url="http://emb:8000/v1", served_model="minilm", kind="embedding"),
        ],
        "redis": RedisSettings(host="redis", password_env="REDIS_PASSWORD"),
        "cache": CacheSettings(corpus_version="v7", chat_ttl_s=600, embedding_ttl_s=86400),
        "master_key_env": "LITELLM_MASTER_KEY",
    }
    values.update(overrides)
    return GatewaySettings(**values)


def test_cache_namespace_carries_corpus_version_and_ttls_per_kind() -> None:
    rendered = build_gateway_config(settings())
    data = rendered.data
    assert yaml.safe_load(rendered.yaml) == data
    cache = data["litellm_settings"]["cache_params"]
    assert data["litellm_settings"]["cache"] is True
    assert cache["type"] == "redis"
    assert cache["namespace"] == "leanrag:corpus:v7"
    assert cache["password"] == "os.environ/REDIS_PASSWORD"
    assert {"acompletion", "aembedding"} <= set(cache["supported_call_types"])
    ttl = {m["model_name"]: m["litellm_params"]["cache"]["ttl"] for m in data["model_list"]}
    assert ttl == {"chat": 600, "chat-cpu": 600, "embed": 86400}
    other = build_gateway_config(settings(cache=CacheSettings(corpus_version="v8"))).data
    assert other["litellm_settings"]["cache_params"]["namespace"] == "leanrag:corpus:v8"


def test_routing_fallback_rate_limits_and_secrets() -> None:
    rendered = build_gateway_config(settings())
    data = rendered.data
    chat = data["model_list"][0]["litellm_params"]
    assert chat == {
        "model": "openai/qwen",
        "api_base": "http://vllm:8000/v1",
        "api_key": "os.environ/VLLM_API_KEY",
        "timeout": 120.0,
        "rpm": 600,
        "cache": {"ttl": 600},
    }
    assert data["model_list"][2]["model_info"] == {"mode": "embedding"}
    assert data["router_settings"]["fallbacks"] == [{"chat": ["chat-cpu"]}]
    assert data["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert data["litellm_settings"]["callbacks"] == ["prometheus"]
    assert rendered.secret_env == ("LITELLM_MASTER_KEY", "REDIS_PASSWORD", "VLLM_API_KEY")


def test_guardrails_on_the_request_path_and_off_per_stack() -> None:
    guards = {g["guardrail_name"]: g["litellm_params"] for g in build_gateway_config(settings()).data["guardrails"]}
    assert set(guards) == {"pii-input", "prompt-injection"}
    for params in guards.values():
        assert params["guardrail"] == "litellm_content_filter"
        assert (params["mode"], params["default_on"]) == ("pre_call", True)
    actions = {p["pattern_name"]: p["action"] for p in guards["pii-input"]["patterns"]}
    assert actions["email"] == "MASK" and actions["us_ssn"] == "BLOCK"
    assert {c["category"] for c in guards["prompt-injection"]["categories"]} >= {"prompt_injection_jailbreak"}
    off = build_gateway_config(settings(guardrails=GuardrailSettings(enabled=False))).data
    assert "guardrails" not in off
    no_cache = build_gateway_config(settings(cache=CacheSettings(corpus_version="v1", enabled=False))).data
    assert "cache" not in no_cache["litellm_settings"]
    assert "cache" not in no_cache["model_list"][0]["litellm_params"]


@pytest.mark.parametrize(
    ("build", "loc", "hint"),
    [
        (lambda: CacheSettings(corpus_version="v 1/x"), "corpus_version", "letters, digits"),
        (lambda: Upstream(name="c", base_url="http://x:1", served_model="m"), "base_url", "append /v1"),
        (
            lambda: GuardrailSettings(pii_mask=("email",), pii_block=("email",)),
            "",
            "both pii_mask and pii_block",
        ),
        (
            lambda: settings(
                upstreams=[Upstream(name="c", base_url="http://x:1/v1", served_model="m", fallback="nope")]
            ),
            "",
            "upstreams[0].fallback",
        ),
        (
            lambda: settings(
                upstreams=[
                    Upstream(name="c", base_url="http://x:1/v1", served_model="m", fallback="e"),
                    Upstream(name="e", base_url="http://x:1/v1", served_model="m", kind="embedding"),
                ]
            ),
            "",
            "must be another upstream of kind 'chat'",
        ),
        (lambda: settings(master_key_env="sk-1234"), "master_key_env", "pattern"),
    ],
)
def test_invalid_settings_name_the_field(build: object, loc: str, hint: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()  # type: ignore[operator]
    errors = {".".join(str(p) for p in e["loc"]): e["msg"] for e in info.value.errors()}
    assert loc in errors, errors
    assert hint in errors[loc]


def test_llama_guard_moderation_is_the_last_guardrail_with_its_key_from_the_env() -> None:
    moderation = ModerationGuardrail(api_base="http://moderation.rag.svc.cluster.local:8080/v1", api_key_env="MOD_KEY")
    rendered = build_gateway_config(settings(moderation=moderation))
    guards = rendered.data["guardrails"]
    assert [g["guardrail_name"] for g in guards] == ["pii-input", "prompt-injection", "llama-guard"]
    assert guards[-1]["litellm_params"] == {
        "guardrail": "openai_moderation",
        "mode": "pre_call",
        "default_on": True,
        "api_base": "http://moderation.rag.svc.cluster.local:8080/v1",
        "api_key": "os.environ/MOD_KEY",
    }
    assert "MOD_KEY" in rendered.secret_env
    alone = build_gateway_config(settings(moderation=moderation, guardrails=GuardrailSettings(enabled=False)))
    assert [g["guardrail_name"] for g in alone.data["guardrails"]] == ["llama-guard"]


@pytest.mark.parametrize(
    ("api_base", "hint"),
    [
        ("http://moderation:8080", "ending in /v1"),
        ("http://user:pw@moderation:8080/v1", "must not hold credentials"),
    ],
)
def test_moderation_api_base_is_a_v1_url_without_credentials(api_base: str, hint: str) -> None:
    with pytest.raises(ValidationError, match=hint):
        ModerationGuardrail(api_base=api_base, api_key_env="MOD_KEY")
