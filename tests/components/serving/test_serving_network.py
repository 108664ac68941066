"""Who reaches the llm-d routing pods under the serving namespace's default deny: the endpoint pickers (ext-proc
from the Gateway's proxies, metrics from Prometheus), the body-based router (from GKE's proxies) and an
in-cluster Gateway's proxy pods (from the app and the benchmark); KServe's pods from the model servers' clients."""

from __future__ import annotations

from typing import Any

from components.kube import APP_POD_LABELS, BENCHMARK_JOB_POD_LABELS, BODY_ROUTER, ENDPOINT_PICKER
from components.serving.epp import EXT_PROC_PORT, HEALTH_PORT, METRICS_PORT
from components.serving.gateway import BBR_HEALTH_PORT, BBR_NAME, BBR_PORT, GATEWAY_NAME
from components.serving.kserve import KSERVE_POD_LABELS
from components.serving.resolve import GATEWAY_POD_LABEL
from stacks.config.serving import InferenceGatewayConfig
from tests import renderkit as rk

SERVING = "serving"
APP = ("rag", APP_POD_LABELS)
BENCHMARK = ("jobs", BENCHMARK_JOB_POD_LABELS)
PROMETHEUS = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
STRANGER = (SERVING, {"app.kubernetes.io/name": "debug"})
PROXY = (SERVING, {GATEWAY_POD_LABEL: GATEWAY_NAME})


def _policies(stack: str) -> list[dict[str, Any]]:
    return rk.of_kind(rk.run_stack(stack), "NetworkPolicy")


def _policy(policies: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [policy] = [p for p in policies if p["metadata"]["namespace"] == SERVING and p["metadata"]["name"] == name]
    return policy


def _epp(model: str) -> tuple[str, dict[str, str]]:
    return SERVING, {"app.kubernetes.io/name": f"{model}-epp", "app.kubernetes.io/component": ENDPOINT_PICKER}


def _prometheus(stack: str) -> tuple[str, dict[str, str]]:
    assert "monitoring" not in rk.stack_values(stack)["serving"]  # the default Prometheus namespace
    return PROMETHEUS


def test_an_in_cluster_gateway_s_endpoint_picker_takes_ext_proc_from_the_gateway_and_metrics_from_prometheus():
    policies = _policies("eks-llmd")
    epp = _epp("llama-3-1-8b")
    assert rk.admits(policies, PROXY, epp, EXT_PROC_PORT)
    assert rk.admits(policies, _prometheus("eks-llmd"), epp, METRICS_PORT)
    for src in (APP, BENCHMARK, STRANGER):
        for port in (EXT_PROC_PORT, METRICS_PORT, HEALTH_PORT):
            assert not rk.admits(policies, src, epp, port), (src, port)
    assert not rk.admits(policies, PROXY, epp, METRICS_PORT)


def test_the_in_cluster_gateway_s_proxy_pods_take_the_app_and_the_benchmark_only():
    policies = _policies("eks-llmd")
    for port in (80, 8080):  # the listener's container port is the implementation's choice
        assert rk.admits(policies, APP, PROXY, port) and rk.admits(policies, BENCHMARK, PROXY, port)
        assert not rk.admits(policies, STRANGER, PROXY, port)
        assert not rk.admits(policies, ("jobs", {"app.kubernetes.io/name": "ingest"}), PROXY, port)


def test_on_gke_the_endpoint_pickers_and_the_body_based_router_take_the_managed_proxies_only():
    policies = _policies("prod")
    proxies = InferenceGatewayConfig().proxy_subnet_cidr  # prod keeps the default
    for model in ("llama-3-1-8b", "llama-guard-3-1b"):
        epp = _policy(policies, f"{model}-epp")
        by_port = {tuple(p["port"] for p in rule["ports"]): rule["from"] for rule in epp["spec"]["ingress"]}
        cidrs = {peer["ipBlock"]["cidr"] for peer in by_port[(EXT_PROC_PORT,)]}
        assert proxies in cidrs and all("ipBlock" in peer for peer in by_port[(EXT_PROC_PORT,)])
        assert rk.admits(policies, _prometheus("prod"), _epp(model), METRICS_PORT)
        assert not rk.admits(policies, APP, _epp(model), EXT_PROC_PORT)
    bbr = _policy(policies, BBR_NAME)
    [rule] = bbr["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} == {BBR_PORT, BBR_HEALTH_PORT}
    assert proxies in {peer["ipBlock"]["cidr"] for peer in rule["from"]}
    bbr_pod = (SERVING, {"app.kubernetes.io/name": BBR_NAME, "app.kubernetes.io/component": BODY_ROUTER})
    for src in (APP, BENCHMARK, STRANGER, PROXY):
        assert not rk.admits(policies, src, bbr_pod, BBR_PORT), src


def test_kserve_s_pods_take_the_model_servers_clients_and_each_other():
    policies = _policies("kserve")
    pod = (SERVING, {**KSERVE_POD_LABELS, "kserve.io/component": "workload"})
    scheduler = (SERVING, {**KSERVE_POD_LABELS, "app.kubernetes.io/component": "llminferenceservice-router-scheduler"})
    assert rk.admits(policies, APP, pod, 8000) and rk.admits(policies, PROXY, scheduler, EXT_PROC_PORT)
    assert rk.admits(policies, scheduler, pod, 8000) and rk.admits(policies, pod, pod, 5557)  # metrics, KV caches
    assert not rk.admits(policies, STRANGER, pod, 8000)
    assert not rk.admits(policies, APP, pod, 5557)
