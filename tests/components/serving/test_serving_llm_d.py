"""llm-d mode: Gateway, InferencePools with llm-d's endpoint picker, routes by model name, and the explicit
ordering of every custom resource after the CRDs (and webhooks) it needs."""

from __future__ import annotations

import copy

import pytest
import yaml

from components import versions
from components.serving.epp import plugins_config
from components.serving.gateway import GATEWAY_NAME, MODEL_HEADER, gateway_base_url
from stacks.config.serving import ScorerWeights
from stacks.preflight import PreflightError
from tests.renderkit import (
    container,
    depends_on,
    obj,
    objects_of,
    prod,
    resource_named,
    run_variant,
    stack_values,
)

MODELS = ("llama-3-1-8b", "llama-guard-3-1b")
HF = {"hfToken": "hf_test"}


def prod_with(**gateway) -> object:
    vals = stack_values("prod")
    vals["serving"]["inferenceGateway"] = gateway
    return run_variant(vals, HF)


def existing_llm_d(class_name: str | None = "istio") -> dict:
    vals = copy.deepcopy(stack_values("local"))
    vals["cluster"]["gpuPools"] = [{"name": "gpu", "instanceType": "kind-gpu", "gpu": "L4", "gpuCount": 1}]
    vals["serving"] = {
        "mode": "llm-d",
        "cpuTier": {"enabled": True},
        "router": {"kind": "gateway", "implementation": "external"},
        "inferenceGateway": {"className": class_name} if class_name else {},
        "models": [
            {
                "name": "qwen",
                "id": "Qwen/Qwen2.5-7B-Instruct",
                "precision": "w4a16",
                "pool": "gpu",
                "maxContext": 8192,
            }
        ],
    }
    return vals


def test_installed_crds_come_from_the_pinned_release_manifests():
    run = prod_with(installCrds=True)
    assert resource_named(run, "leanrag-test-gateway-api-crds").inputs["file"] == versions.GATEWAY_API_CRDS
    assert resource_named(run, "leanrag-test-inference-pool-crds").inputs["file"] == versions.INFERENCE_POOL_CRDS
    assert "v1.5.1" in versions.GATEWAY_API_CRDS and "v1.5.0" in versions.INFERENCE_POOL_CRDS


def test_every_custom_resource_waits_for_its_crds():
    run = prod_with(installCrds=True)
    gateway_crds, pool_crds = "leanrag-test-gateway-api-crds", "leanrag-test-inference-pool-crds"
    assert gateway_crds in depends_on(run, resource_named(run, "leanrag-test-gateway-gateway"))
    for model in MODELS:
        pool = f"leanrag-test-{model}-route-pool"
        assert pool_crds in depends_on(run, resource_named(run, pool))
        route = depends_on(run, resource_named(run, f"leanrag-test-{model}-route-route"))
        assert {gateway_crds, pool_crds, pool, "leanrag-test-gateway-gateway"} <= route
        # the endpoint picker exits when its pool is missing: it starts after the pool exists
        epp = resource_named(run, f"leanrag-test-{model}-route-epp", ":Deployment")
        assert pool in depends_on(run, epp)
        for kind in ("health", "backend"):  # GKE policies target the pool
            assert pool in depends_on(run, resource_named(run, f"leanrag-test-{model}-route-{kind}"))
        assert "leanrag-test-keda" in depends_on(run, resource_named(run, f"leanrag-test-{model}-scaler"))
    extension = depends_on(run, resource_named(run, "leanrag-test-gateway-bbr-extension"))
    assert {"leanrag-test-gateway-gateway", "leanrag-test-gateway-bbr-svc"} <= extension


def test_on_gke_the_managed_crds_are_awaited_through_the_cluster():
    run = prod()
    assert not run.of_type("kubernetes:yaml/v2:ConfigFile")  # GKE's Gateway API support installs them
    node_pools = {r.name for r in run.of_type("gcp:container/nodePool:NodePool")}
    assert node_pools
    for name in (
        "leanrag-prod-gateway-gateway",
        "leanrag-prod-llama-3-1-8b-route-pool",
        "leanrag-prod-llama-3-1-8b-route-route",
    ):
        assert node_pools <= depends_on(run, resource_named(run, name)), name


def test_outside_gke_the_crds_are_installed_and_the_named_class_is_used():
    run = run_variant(existing_llm_d("istio"))
    assert {r.name for r in run.of_type("kubernetes:yaml/v2:ConfigFile")} == {
        "leanrag-test-gateway-api-crds",
        "leanrag-test-inference-pool-crds",
    }
    assert obj(run, "Gateway", GATEWAY_NAME)["spec"]["gatewayClassName"] == "istio"
    assert not [o for o in objects_of(run, "HealthCheckPolicy")]
    route = obj(run, "HTTPRoute", "qwen")["spec"]["rules"][0]
    assert route["timeouts"] == {"request": "300s"}
    # outside GKE no body-based router runs: each model has its own path prefix, rewritten to /v1
    assert route["matches"] == [{"path": {"type": "PathPrefix", "value": "/qwen/v1"}}]
    assert route["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v1"}
    assert "body-based-router" not in {d["metadata"]["name"] for d in objects_of(run, "Deployment")}


def test_an_external_gateway_implementation_without_a_class_is_a_preflight_error():
    with pytest.raises(PreflightError, match=r"serving.inferenceGateway.className: router implementation external"):
        run_variant(existing_llm_d(None))


def test_prod_gateway_is_the_managed_internal_l7_load_balancer():
    gw = obj(prod(), "Gateway", GATEWAY_NAME)
    assert gw["spec"]["gatewayClassName"] == "gke-l7-rilb"
    assert gw["spec"]["listeners"] == [
        {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}
    ]
    assert gw["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Programmed"


@pytest.mark.parametrize("model", MODELS)
def test_each_model_has_its_pool_picker_and_route_by_model_name(model):
    run = prod()
    pool = obj(run, "InferencePool", model)["spec"]
    assert pool["selector"]["matchLabels"] == obj(run, "Deployment", model)["spec"]["selector"]["matchLabels"]
    assert pool["targetPorts"] == [{"number": 8000}]
    ref = pool["endpointPickerRef"]
    epp_service = obj(run, "Service", f"{model}-epp")
    assert ref["name"] == epp_service["metadata"]["name"]
    assert ref["port"]["number"] == epp_service["spec"]["ports"][0]["port"] == 9002
    assert ref["failureMode"] == "FailOpen"
    route = obj(run, "HTTPRoute", model)["spec"]
    assert route["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}]
    [rule] = route["rules"]
    assert rule["matches"][0]["headers"] == [{"type": "Exact", "name": MODEL_HEADER, "value": model}]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": model}]
    args = container(obj(run, "Deployment", f"{model}-epp"))["args"]
    assert args[args.index("--pool-name") + 1] == model and args[args.index("--pool-namespace") + 1] == "serving"
    assert container(obj(run, "Deployment", f"{model}-epp"))["image"] == versions.LLM_D_EPP_IMAGE


def test_endpoint_picker_scores_prefix_cache_and_load():
    config = yaml.safe_load(obj(prod(), "ConfigMap", "llama-3-1-8b-epp")["data"]["plugins.yaml"])
    assert config["kind"] == "EndpointPickerConfig"
    [profile] = config["schedulingProfiles"]
    weights = {p["pluginRef"]: p["weight"] for p in profile["plugins"]}
    assert weights == {"prefix-cache-scorer": 3, "queue-scorer": 2, "kv-cache-utilization-scorer": 2}
    types = [p["type"] for p in config["plugins"]]
    assert {"metrics-data-source", "core-metrics-extractor"} <= set(types)


def test_scorer_weights_come_from_config_and_zero_turns_a_scorer_off():
    config = plugins_config(ScorerWeights(prefix_cache=5, queue=0, kv_cache_utilization=1))
    weights = {p["pluginRef"]: p["weight"] for p in config["schedulingProfiles"][0]["plugins"]}
    assert weights == {"prefix-cache-scorer": 5, "kv-cache-utilization-scorer": 1}
    assert "queue-scorer" not in [p["type"] for p in config["plugins"]]
    with pytest.raises(ValueError, match="at least one scorer"):
        plugins_config(ScorerWeights(prefix_cache=0, queue=0, kv_cache_utilization=0))
    with pytest.raises(PreflightError, match="scorerWeights: every scorer weight is 0"):
        prod_with(scorerWeights={"prefixCache": 0, "queue": 0, "kvCacheUtilization": 0})


def test_body_based_router_turns_the_model_field_into_the_routing_header():
    run = prod()
    args = container(obj(run, "Deployment", "body-based-router"))["args"]
    assert f'"headerName": "{MODEL_HEADER}"' in " ".join(args) and '"fieldName": "model"' in " ".join(args)
    ext = obj(run, "GCPRoutingExtension", "body-based-router")["spec"]
    assert ext["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}]
    backend = ext["extensionChains"][0]["extensions"][0]["backendRef"]
    assert backend == {"group": "", "kind": "Service", "name": "body-based-router", "port": 9004}


def test_gke_health_checks_use_health_and_long_generations_get_a_long_timeout():
    run = prod()
    for model in MODELS:
        hc = obj(run, "HealthCheckPolicy", model)["spec"]
        assert hc["targetRef"] == {
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "name": model,
        }
        assert hc["default"]["config"]["httpHealthCheck"] == {"requestPath": "/health", "port": 8000}
        backend = obj(run, "GCPBackendPolicy", model)["spec"]
        assert backend["targetRef"] == hc["targetRef"] and backend["default"]["timeoutSec"] == 300


def test_endpoint_pickers_run_active_passive_when_replicated():
    run = prod_with(eppReplicas=2)
    args = container(obj(run, "Deployment", "llama-3-1-8b-epp"))["args"]
    assert "--ha-enable-leader-election" in args
    rules = obj(run, "Role", "llama-3-1-8b-epp")["rules"]
    assert any("leases" in r["resources"] for r in rules)


def test_clients_know_the_gateway_url_before_it_exists():
    gw = obj(prod(), "Gateway", GATEWAY_NAME)["spec"]
    assert gw["addresses"] == [{"type": "IPAddress", "value": "10.50.15.250"}]  # in 10.50.0.0/20
    assert prod().outputs["openaiBaseUrl"] == gateway_base_url("10.50.15.250") == "http://10.50.15.250/v1"
    run = run_variant(existing_llm_d("istio"))
    assert "addresses" not in obj(run, "Gateway", GATEWAY_NAME)["spec"]
    assert run.outputs["openaiBaseUrl"] == "http://inference-gateway-istio.serving.svc.cluster.local/qwen/v1"
    assert prod_with(address="10.50.3.3").outputs["openaiBaseUrl"] == "http://10.50.3.3/v1"
    with pytest.raises(PreflightError, match=r"inferenceGateway.address: 10.9.9.9 is not an IP of the cluster"):
        prod_with(address="10.9.9.9")
