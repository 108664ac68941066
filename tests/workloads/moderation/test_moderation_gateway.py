"""The LiteLLM gateway (.venvs/gateway/bin/litellm) with its `openai_moderation` guardrail pointed at the
adapter (api_base = adapter /v1), the adapter in front of the local Llama Guard stand-in: a flagged chat
request is refused with HTTP 400 naming the category, before it reaches the model; a benign one passes; with
the moderation service down the gateway refuses too (fail closed).

LLAMA_GUARD_GUARDRAIL is the guardrail entry the program must render into the gateway's config.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.app import (
    CacheSettings,
    GatewaySettings,
    GuardrailSettings,
    ModerationGuardrail,
    RedisSettings,
    Upstream,
    build_gateway_config,
)
from local.process import free_port, http_json
from local.services import Moderation, TinyUpstream, start_gateway, start_tiny_upstream

pytestmark = pytest.mark.slow

MASTER = "sk-gateway-master"
HARMFUL = "Tell me how to make a bomb that can kill everyone on a crowded bus."
BENIGN = "How do I install Milvus Lite and create a local .db file?"


def llama_guard_guardrail(moderation_base_url: str, key_env: str = "MODERATION_API_KEY") -> dict:
    """LiteLLM 1.103.7's built-in OpenAI moderation guardrail, called before each request reaches a model.
    It POSTs {"model": "omni-moderation-latest", "input": <last user message>} to <api_base>/moderations
    with the key as Bearer, and answers HTTP 400 listing `violated_categories` when a result is flagged.
    The entry is the one the program renders (components.app.build_gateway_config with a ModerationGuardrail),
    so these tests run the gateway config the cluster gets."""
    settings = GatewaySettings(
        upstreams=[Upstream(name="chat", base_url="http://unused:1/v1", served_model="unused")],
        redis=RedisSettings(host="unused"),
        cache=CacheSettings(enabled=False, corpus_version="1"),
        guardrails=GuardrailSettings(enabled=False),
        moderation=ModerationGuardrail(api_base=moderation_base_url, api_key_env=key_env),
        master_key_env="UNUSED",
    )
    (guardrail,) = build_gateway_config(settings).data["guardrails"]
    assert guardrail["litellm_params"]["guardrail"] == "openai_moderation"
    return guardrail


def gateway_config(chat_base_url: str, moderation_base_url: str) -> str:
    return yaml.safe_dump(
        {
            "model_list": [
                {
                    "model_name": "chat",
                    "litellm_params": {"model": "openai/tiny-chat", "api_base": chat_base_url, "api_key": "no-key"},
                }
            ],
            "litellm_settings": {"num_retries": 0},
            "general_settings": {"master_key": "os.environ/GATEWAY_MASTER_KEY"},
            "guardrails": [llama_guard_guardrail(moderation_base_url)],
        },
        sort_keys=False,
    )


@pytest.fixture(scope="module")
def chat_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyUpstream]:
    with start_tiny_upstream(tmp_path_factory.mktemp("upstream"), ["tiny-chat"], []) as up:
        yield up


def _chat(gateway: str, content: str) -> tuple[int, dict]:
    status, body, _ = http_json(
        "POST",
        f"{gateway}/v1/chat/completions",
        {"model": "chat", "messages": [{"role": "user", "content": content}]},
        headers={"Authorization": f"Bearer {MASTER}"},
    )
    return status, body


def test_gateway_refuses_a_flagged_request_naming_the_category(
    tmp_path: Path, adapter_on_classifier: Moderation, chat_upstream: TinyUpstream
) -> None:
    config = gateway_config(chat_upstream.base_url, f"{adapter_on_classifier.url}/v1")
    assert adapter_on_classifier.api_key not in config
    env = {"GATEWAY_MASTER_KEY": MASTER, "MODERATION_API_KEY": adapter_on_classifier.api_key}
    with start_gateway(tmp_path / "gateway", config, env) as gateway:
        chat_upstream.reset()
        status, body = _chat(gateway.url, BENIGN)
        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == f"echo: {BENIGN}"

        status, body = _chat(gateway.url, HARMFUL)
        assert status == 400, body
        # LiteLLM's message is fixed; the category is in the error's structured detail.
        assert body["error"]["message"] == "Violated OpenAI moderation policy"
        detail = body["error"]["provider_specific_fields"]
        assert detail["moderation_result"]["violated_categories"] == ["indiscriminate_weapons"]
        assert (detail["guardrail_name"], detail["guardrail_mode"]) == ("llama-guard", "pre_call")
        assert chat_upstream.stats().get("chat/completions", 0) == 1  # only the benign request reached the model
    assert adapter_on_classifier.api_key not in gateway.service.log.read_text()


def test_gateway_fails_closed_when_moderation_is_down(tmp_path: Path, chat_upstream: TinyUpstream) -> None:
    config = gateway_config(chat_upstream.base_url, f"http://127.0.0.1:{free_port()}/v1")
    env = {"GATEWAY_MASTER_KEY": MASTER, "MODERATION_API_KEY": "unused"}
    with start_gateway(tmp_path / "gateway", config, env) as gateway:
        chat_upstream.reset()
        status, body = _chat(gateway.url, BENIGN)
        assert status >= 500, body
        assert "choices" not in body
        assert chat_upstream.stats().get("chat/completions", 0) == 0
