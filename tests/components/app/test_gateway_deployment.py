"""The LiteLLM gateway under the SDK's mocks: config from the generator, Redis cache, CPU fallback,
guardrails per stack, master key from a generated Secret, probes, Service, PDB, NetworkPolicy."""

from __future__ import annotations

import pytest
import yaml

from components import versions
from components.app import gateway_deployment as gw
from components.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS
from components.kube import BENCHMARK_JOB_POD_LABELS as BENCHMARK_JOB_LABELS
from infra.mocks import REDACTED, mock_secret
from infra.validate import validate
from tests import renderkit as rk
from tests.renderkit import run_stack, run_values, stack_values

GATEWAY = ("rag", {**GATEWAY_POD_LABELS, "app.kubernetes.io/part-of": "leanrag"})


def config(run) -> dict:
    return yaml.safe_load(rk.find(run, "ConfigMap", "gateway-config", "rag")["data"]["config.yaml"])


def deployment(run) -> dict:
    return rk.find(run, "Deployment", "gateway", "rag")


@pytest.fixture(scope="module")
def guarded_off():
    """dev with guardrails and the cache switched off, and 3 replicas."""
    values = stack_values("dev")
    values["platform"]["gateway"] = {
        "replicas": 3,
        "cache": {"enabled": False},
        "guardrails": {"pii": "off", "promptInjection": False},
    }
    return run_values(values, stack="quiet")


@pytest.fixture(scope="module")
def blocking():
    values = stack_values("local")
    values["platform"]["gateway"] = {
        "guardrails": {"pii": "block", "promptInjection": False},
        "cache": {"corpusVersion": "2026-11-23", "responseTtlS": 60},
    }
    return run_values(values, stack="blocking")


def test_image_is_the_pinned_non_root_litellm():
    container = deployment(run_stack("dev"))["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == versions.LITELLM_IMAGE
    assert container["image"].endswith(":main-v1.103.7")
    assert container["args"][:2] == ["--config", "/etc/litellm/config.yaml"]


def test_dev_routes_the_gpu_model_with_cpu_fallback_and_caches_in_redis():
    cfg = config(run_stack("dev"))
    models = {m["model_name"]: m["litellm_params"] for m in cfg["model_list"]}
    assert set(models) == {"llama-3-1-8b", "all-minilm-l6-v2", "smollm2-cpu"}  # + the served embedding model
    assert models["llama-3-1-8b"]["api_base"] == "http://llama-3-1-8b.serving.svc.cluster.local:8000/v1"
    assert models["all-minilm-l6-v2"]["api_base"] == "http://all-minilm-l6-v2.serving.svc.cluster.local:8080/v1"
    assert models["smollm2-cpu"]["api_base"] == "http://smollm2-cpu.serving.svc.cluster.local:8080/v1"
    assert all(p["api_key"] == "os.environ/SERVING_API_KEY" for p in models.values())
    assert cfg["router_settings"]["fallbacks"] == [{"llama-3-1-8b": ["smollm2-cpu"]}]
    cache = cfg["litellm_settings"]["cache_params"]
    assert (cache["type"], cache["host"], cache["port"]) == ("redis", "redis.rag.svc.cluster.local", 6379)
    assert cache["password"] == "os.environ/REDIS_PASSWORD"
    assert cache["namespace"] == "leanrag:corpus:1"
    assert cfg["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_guardrails_on_by_default_masking_pii_and_blocking_injection():
    rails = {g["guardrail_name"]: g["litellm_params"] for g in config(run_stack("dev"))["guardrails"]}
    assert {p["action"] for p in rails["pii-input"]["patterns"]} == {"MASK"}
    assert {c["action"] for c in rails["prompt-injection"]["categories"]} == {"BLOCK"}
    # the user's text is checked; the system message and tool results (retrieved passages) are not
    assert rails["prompt-injection"]["skip_system_message_in_guardrail"] is True
    assert rails["prompt-injection"]["skip_tool_message_in_guardrail"] is True
    assert "skip_system_message_in_guardrail" not in rails["pii-input"]  # PII is masked wherever it appears


def test_guardrails_and_cache_can_be_switched_off_per_stack(guarded_off):
    cfg = config(guarded_off)
    assert [g["guardrail_name"] for g in cfg["guardrails"]] == ["llama-guard"]  # moderation is its own switch
    assert "cache" not in cfg["litellm_settings"]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_request_is_moderated_by_llama_guard_after_the_content_filters(stack):
    run = run_stack(stack)
    cfg = config(run)
    assert [g["guardrail_name"] for g in cfg["guardrails"]] == ["pii-input", "prompt-injection", "llama-guard"]
    assert cfg["guardrails"][-1] == {
        "guardrail_name": "llama-guard",
        "litellm_params": {
            "guardrail": "openai_moderation",
            "mode": "pre_call",
            "default_on": True,
            "api_base": "http://moderation.rag.svc.cluster.local:8080/v1",
            "api_key": "os.environ/MODERATION_API_KEY",
        },
    }
    env = rk.env_of(deployment(run)["spec"]["template"]["spec"]["containers"][0])
    assert env["MODERATION_API_KEY"] == {"secretKeyRef": {"name": "moderation-api-key", "key": "api-key"}}


def test_moderation_off_leaves_the_content_filters():
    values = stack_values("dev")
    values["platform"]["moderation"] = {"enabled": False}
    run = run_values(values, stack="unguarded")
    cfg = config(run)
    assert [g["guardrail_name"] for g in cfg["guardrails"]] == ["pii-input", "prompt-injection"]
    assert "MODERATION_API_KEY" not in rk.env_of(deployment(run)["spec"]["template"]["spec"]["containers"][0])


def test_pii_block_and_cache_settings_follow_config(blocking):
    cfg = config(blocking)
    assert [g["guardrail_name"] for g in cfg["guardrails"]] == ["pii-input", "llama-guard"]
    assert {p["action"] for p in cfg["guardrails"][0]["litellm_params"]["patterns"]} == {"BLOCK"}
    assert cfg["litellm_settings"]["cache_params"]["namespace"] == "leanrag:corpus:2026-11-23"
    assert cfg["litellm_settings"]["cache_params"]["ttl"] == 60


def test_local_has_only_the_cpu_tier_and_no_fallbacks():
    cfg = config(run_stack("local"))
    assert [m["model_name"] for m in cfg["model_list"]] == ["all-minilm-l6-v2", "smollm2-cpu"]
    assert "fallbacks" not in cfg["router_settings"]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_secret_the_config_names_comes_from_a_secret(stack):
    run = run_stack(stack)
    text = rk.find(run, "ConfigMap", "gateway-config", "rag")["data"]["config.yaml"]
    env = rk.env_of(deployment(run)["spec"]["template"]["spec"]["containers"][0])
    named = {part.split("os.environ/")[1].split()[0].strip("'\"") for part in text.split("\n") if "os.environ/" in part}
    assert named == {"SERVING_API_KEY", "REDIS_PASSWORD", "LITELLM_MASTER_KEY", "MODERATION_API_KEY"}
    for var in named:
        assert "secretKeyRef" in env[var], var
    assert env["LITELLM_MASTER_KEY"]["secretKeyRef"] == {"name": "gateway-master-key", "key": "master-key"}
    assert env["REDIS_PASSWORD"]["secretKeyRef"] == {"name": "redis-auth", "key": "password"}
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_master_key_is_generated_and_the_serving_key_copied():
    run = run_stack("dev")
    master = rk.secret_data(run, "gateway-master-key", "rag")
    assert master == {"master-key": "sk-" + mock_secret("leanrag-dev-gateway-master-key")}
    assert rk.secret_data(run, "serving-api-key", "rag") == rk.secret_data(run, "serving-api-key", "serving")
    assert run.outputs["gatewayMasterKey"] == REDACTED and "gatewayMasterKey" in run.secret_outputs
    assert run.outputs["gatewayBaseUrl"] == "http://gateway.rag.svc.cluster.local:4000/v1"


def test_probes_service_and_pod_security():
    run = run_stack("dev")
    spec = deployment(run)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert container["startupProbe"]["httpGet"]["port"] == "http"
    assert rk.restricted_violations(spec) == []
    service = rk.find(run, "Service", "gateway", "rag")["spec"]
    assert service["type"] == "ClusterIP" and service["selector"] == GATEWAY_POD_LABELS
    assert service["ports"][0]["port"] == 4000


def test_pdb_only_with_several_replicas(guarded_off):
    pdbs = rk.of_kind(run_stack("dev"), "PodDisruptionBudget", "rag")
    assert not [p for p in pdbs if p["metadata"]["name"] == "gateway"]
    pdb = rk.find(guarded_off, "PodDisruptionBudget", "gateway", "rag")["spec"]
    assert pdb["minAvailable"] == 1 and pdb["selector"]["matchLabels"] == GATEWAY_POD_LABELS
    assert deployment(guarded_off)["spec"]["replicas"] == 3


def test_network_policy_admits_the_app_and_the_benchmark_job_only():
    policies = rk.of_kind(run_stack("dev"), "NetworkPolicy")
    assert rk.admits(policies, ("rag", APP_POD_LABELS), GATEWAY, 4000)
    assert rk.admits(policies, ("jobs", BENCHMARK_JOB_LABELS), GATEWAY, 4000)
    assert not rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), GATEWAY, 4000)
    assert not rk.admits(policies, ("rag", {"app.kubernetes.io/name": "redis"}), GATEWAY, 4000)
    assert not rk.admits(policies, ("serving", APP_POD_LABELS), GATEWAY, 4000)
    assert not rk.admits(policies, ("rag", APP_POD_LABELS), GATEWAY, 4001)


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_gateway_objects_validate_strictly(stack):
    run = run_stack(stack)
    ours = [
        m
        for m in rk.manifests(run)
        if m["metadata"]["name"].startswith(("gateway", "serving-api-key")) and m["metadata"].get("namespace") == "rag"
    ]
    assert {m["kind"] for m in ours} >= {"Deployment", "ConfigMap", "Secret", "Service", "NetworkPolicy"}
    assert {f"{m['kind']}/{m['metadata']['name']}": validate(m) for m in ours if validate(m)} == {}


def test_an_upstream_without_a_url_is_a_clear_error():
    spec = gw.UpstreamSpec(name="llama", base_url=None)
    with pytest.raises(ValueError, match=r"no URL for model 'llama'.*Gateway status"):
        spec.resolve(None, None)


def test_prod_routes_the_chat_model_through_the_inference_gateway_and_has_a_pdb():
    run = run_stack("prod")
    cfg = config(run)
    # llm-d: every GPU model's URL is the inference Gateway's; the safety model is not routed for chat; the CPU
    # embedding server is reached at its own Service
    assert [(m["model_name"], m["litellm_params"]["api_base"]) for m in cfg["model_list"]] == [
        ("llama-3-1-8b", run.outputs["openaiBaseUrls"]["llama-3-1-8b"]),
        ("all-minilm-l6-v2", "http://all-minilm-l6-v2.serving.svc.cluster.local:8080/v1"),
    ]
    assert "fallbacks" not in cfg["router_settings"]  # prod has no CPU tier
    assert rk.find(run, "PodDisruptionBudget", "gateway", "rag")["spec"]["minAvailable"] == 1
    spec = deployment(run)["spec"]
    assert spec["replicas"] == 2
    assert rk.restricted_violations(spec["template"]["spec"]) == []
    env = rk.env_of(spec["template"]["spec"]["containers"][0])
    assert env["SERVING_API_KEY"]["secretKeyRef"] == {"name": "serving-api-key", "key": "api-key"}
