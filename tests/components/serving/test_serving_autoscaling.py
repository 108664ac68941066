"""KEDA ScaledObjects on vLLM's queue length and KV-cache usage; scale to zero through the endpoint picker."""

from __future__ import annotations

import pytest

from components import versions
from components.serving.autoscaling import gateway_requests_query, kv_cache_query, queue_query
from stacks.preflight import PreflightError
from tests.renderkit import depends_on, dev, obj, objects_of, prod, resource_named, run_variant, stack_values


def triggers(so: dict) -> dict[str, dict]:
    return {t["name"]: t for t in so["spec"]["triggers"]}


def test_prod_scales_each_model_on_queue_and_kv_cache_with_its_replica_bounds():
    run = prod()
    llama = obj(run, "ScaledObject", "llama-3-1-8b")
    spec = llama["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-3-1-8b"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 5)
    t = triggers(llama)
    assert set(t) == {"queue", "kv-cache"}
    assert t["queue"]["type"] == "prometheus" and t["queue"]["metricType"] == "AverageValue"
    assert t["queue"]["metadata"] == {
        "serverAddress": "http://prometheus-server.monitoring.svc.cluster.local:9090",  # the stack's Prometheus
        "query": queue_query("llama-3-1-8b", "serving"),
        "threshold": "4",
    }
    assert t["kv-cache"]["metricType"] == "Value"
    assert t["kv-cache"]["metadata"]["query"] == kv_cache_query("llama-3-1-8b", "serving")
    assert t["kv-cache"]["metadata"]["threshold"] == "0.8"
    guard = obj(run, "ScaledObject", "llama-guard-3-1b")["spec"]
    assert (guard["minReplicaCount"], guard["maxReplicaCount"]) == (1, 1)


def test_queries_select_the_model_by_served_name_and_namespace():
    assert queue_query("m", "serving") == 'sum(vllm:num_requests_waiting{model_name="m",namespace="serving"})'
    assert kv_cache_query("m", "ns") == 'avg(vllm:kv_cache_usage_perc{model_name="m",namespace="ns"})'


def test_the_hpa_owns_replicas_when_autoscaling_is_on():
    assert "replicas" not in obj(prod(), "Deployment", "llama-3-1-8b")["spec"]
    assert obj(dev(), "Deployment", "llama-3-1-8b")["spec"]["replicas"] == 1
    assert objects_of(dev(), "ScaledObject") == []


def test_scale_down_waits_out_the_cooldown():
    spec = obj(prod(), "ScaledObject", "llama-3-1-8b")["spec"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert spec["cooldownPeriod"] == behavior["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_scaled_objects_wait_for_the_keda_release_and_their_deployment():
    run = prod()
    keda = resource_named(run, "leanrag-prod-keda")
    assert keda.inputs["chart"] == versions.KEDA.name and keda.inputs["version"] == versions.KEDA.version
    assert keda.inputs["atomic"] is True  # the release is ready only when the webhook serves
    for model in ("llama-3-1-8b", "llama-guard-3-1b"):
        deps = depends_on(run, resource_named(run, f"leanrag-prod-{model}-scaler"))
        assert {"leanrag-prod-keda", f"leanrag-prod-{model}"} <= deps


def test_an_existing_keda_is_used_without_installing_another():
    vals = stack_values("prod")
    vals["serving"]["autoscaling"]["installKeda"] = False
    run = run_variant(vals, {"hfToken": "hf_test"})
    assert not [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-keda")]
    assert depends_on(run, resource_named(run, "leanrag-test-llama-3-1-8b-scaler")) == {"leanrag-test-llama-3-1-8b"}


def test_scale_to_zero_in_llm_d_mode_wakes_on_the_endpoint_pickers_request_counter():
    vals = stack_values("prod")
    vals["serving"]["models"][1]["minReplicas"] = 0
    vals["serving"]["models"][1]["maxReplicas"] = 2
    so = obj(run_variant(vals, {"hfToken": "hf_test"}), "ScaledObject", "llama-guard-3-1b")
    assert so["spec"]["minReplicaCount"] == 0
    wake = triggers(so)["gateway-requests"]
    assert wake["metadata"]["query"] == gateway_requests_query("llama-guard-3-1b", "serving")
    assert wake["metadata"]["activationThreshold"] == "0"
    assert "llm_d_epp_request_total" in wake["metadata"]["query"]


def test_scale_to_zero_without_a_gateway_is_a_preflight_error():
    vals = stack_values("dev")
    vals["serving"]["autoscaling"] = {"enabled": True}
    vals["serving"]["models"][0]["minReplicas"] = 0
    with pytest.raises(PreflightError, match=r"serving.models\[0\].minReplicas: scale to zero needs a request"):
        run_variant(vals)


def test_dev_with_autoscaling_renders_scalers_for_plain_vllm():
    vals = stack_values("dev")
    vals["serving"]["autoscaling"] = {"enabled": True, "queueTarget": 2, "kvCacheTarget": 0.7}
    vals["serving"]["models"][0]["maxReplicas"] = 2
    so = obj(run_variant(vals), "ScaledObject", "llama-3-1-8b")
    t = triggers(so)
    assert t["queue"]["metadata"]["threshold"] == "2" and t["kv-cache"]["metadata"]["threshold"] == "0.7"
    assert "gateway-requests" not in t
