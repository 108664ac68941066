"""Pure wiring of the app layer: upstreams and fallbacks from the serving layer's typed outputs, the embedding
model, the shield, guardrails from config, and the serving contract."""

from __future__ import annotations

import pytest

from components.app import layer
from components.app.gateway_deployment import guardrail_settings
from components.app.gateway_settings import GuardrailSettings
from components.serving import ServingOutputs, fallbacks, served_roles
from stacks.config import StackConfig
from stacks.config.platform import GuardrailsConfig, ModerationConfig
from tests.renderkit import run_values, stack_values

BASE = {
    "cloud": "existing",
    "cluster": {
        "systemPool": {"name": "system", "instanceType": "kind-node"},
        "gpuPools": [{"name": "gpu", "instanceType": "x", "gpu": "L4", "gpuCount": 1}],
    },
    "serving": {
        "models": [
            {"name": "chat", "id": "Qwen/Qwen2.5-1.5B-Instruct", "pool": "gpu"},
            {
                "name": "guard",
                "id": "meta-llama/Llama-Guard-3-1B",
                "pool": "gpu",
                "role": "safety",
                "artifactUri": "pvc://models/guard",
            },
            {"name": "minilm", "id": "sentence-transformers/all-MiniLM-L6-v2", "pool": "gpu", "role": "embedding"},
            {"name": "bge", "id": "BAAI/bge-small-en-v1.5", "pool": "gpu", "role": "embedding"},
        ],
        "cpuTier": {"enabled": True, "fallbackFor": ["chat"]},
    },
}
URLS = {
    "chat": "http://chat.serving.svc.cluster.local:8000/v1",
    "guard": "http://guard:8000/v1",
    "minilm": "http://minilm:8000/v1",
    "bge": "http://bge:8000/v1",
    "smollm2-cpu": "http://cpu:8080/v1",
}


@pytest.fixture(scope="module")
def cfg():
    return StackConfig.model_validate(BASE)  # the schema only: these tests are about wiring, not preflight


def serving_outputs(cfg: StackConfig, urls=URLS) -> ServingOutputs:
    """What ModelServing exposes for this config (URLs given, as the servers' Services would have them)."""
    return ServingOutputs(
        openai_base_url=urls["chat"],
        openai_base_urls=dict(urls),
        api_key="k",  # type: ignore[arg-type]  # a secret Output in the program
        fallbacks=fallbacks(cfg.serving),
        roles=served_roles(cfg.serving),
        model_ids={m.name: m.id for m in cfg.serving.models},
    )


def test_upstreams_route_chat_and_embeddings_with_cpu_fallback_and_skip_safety(cfg):
    specs = {s.name: s for s in layer.upstream_specs(serving_outputs(cfg))}
    assert set(specs) == {"chat", "minilm", "bge", "smollm2-cpu"}
    assert specs["chat"].fallback == "smollm2-cpu" and specs["chat"].kind == "chat"
    assert specs["minilm"].kind == specs["bge"].kind == "embedding"
    assert specs["smollm2-cpu"].kind == "chat" and specs["smollm2-cpu"].fallback is None
    resolved = specs["chat"].resolve(URLS["chat"], "SERVING_API_KEY")
    assert (str(resolved.base_url), resolved.api_key_env) == (URLS["chat"], "SERVING_API_KEY")


def test_the_app_embeds_with_the_served_model_matching_its_configured_id(cfg):
    serving, wanted = serving_outputs(cfg), cfg.platform.app.embedding_model
    assert layer.embedding_model(wanted, serving, ["chat", "minilm", "bge"]) == "minilm"
    assert layer.embedding_model("BAAI/bge-small-en-v1.5", serving, ["chat", "minilm", "bge"]) == "bge"
    assert layer.embedding_model(wanted, serving, ["chat", "bge"]) == "bge"  # the first one served
    assert layer.embedding_model(wanted, serving, ["chat"]) == "sentence-transformers/all-MiniLM-L6-v2"  # none


def test_moderation_calls_the_first_safety_model_and_is_on_when_one_is_served(cfg):
    serving = serving_outputs(cfg)
    assert layer.safety_model(serving) == "guard"
    assert layer.moderation_on(cfg.platform, serving) is True
    off = cfg.platform.model_copy(update={"moderation": ModerationConfig(enabled=False)})
    assert layer.moderation_on(off, serving) is False
    none = serving_outputs(cfg, {k: v for k, v in URLS.items() if k != "guard"})
    assert layer.safety_model(none) is None and layer.moderation_on(cfg.platform, none) is False
    forced = cfg.platform.model_copy(update={"moderation": ModerationConfig(enabled=True)})
    with pytest.raises(ValueError, match="no safety model is served"):
        layer.moderation_on(forced, none)


def test_serving_contract_is_the_typed_outputs_the_serving_layer_registers(cfg):
    """The app layer reads ServingOutputs' attributes (typed, checked by mypy), no string-keyed dict; the
    serving component registers the same values."""
    outputs = serving_outputs(cfg)
    assert outputs.served_models == list(URLS) and outputs.fallbacks == {"chat": "smollm2-cpu"}
    assert outputs.roles["smollm2-cpu"] == "chat" and outputs.roles["guard"] == "safety"
    assert outputs.as_dict() == {
        "openaiBaseUrl": URLS["chat"],
        "openaiBaseUrls": URLS,
        "servedModels": list(URLS),
        "apiKey": "k",
        "fallbacks": {"chat": "smollm2-cpu"},
        "embedding": None,
        "reranker": None,
    }


def test_guardrails_from_config():
    every = GuardrailSettings()
    patterns = {*every.pii_mask, *every.pii_block}
    mask = guardrail_settings(GuardrailsConfig())
    assert mask.enabled and set(mask.pii_mask) == patterns and mask.pii_block == ()
    assert mask.injection_categories == every.injection_categories
    block = guardrail_settings(GuardrailsConfig(pii="block", prompt_injection=False))
    assert set(block.pii_block) == patterns and block.pii_mask == () and block.injection_categories == ()
    off = guardrail_settings(GuardrailsConfig(pii="off", prompt_injection=False))
    assert not off.enabled
    injection_only = guardrail_settings(GuardrailsConfig(pii="off", prompt_injection=True))
    assert injection_only.enabled and injection_only.pii_mask == injection_only.pii_block == ()


def test_without_a_chat_model_the_gateway_and_app_are_left_out_with_a_warning():
    values = stack_values("local")
    values["serving"] = {"cpuTier": {"enabled": False}}
    run = run_values(values, stack="nochat")
    types = {r.type for r in run.resources}
    assert "leanrag:app:Gateway" not in types and "leanrag:app:RagApp" not in types
    assert {"leanrag:data:VectorStore", "leanrag:data:Cache"} <= types
    assert "ragAppUrl" not in run.outputs and run.outputs["milvusUri"].startswith("http://milvus.")
