"""Which Prometheus a stack uses (monitoring.prometheus.provider): installed, the user's (by annotations, or its
Prometheus operator through PodMonitors), or none; KEDA, the NetworkPolicies and the outputs follow it. Every
object the monitoring layer renders validates."""

from __future__ import annotations

from typing import Any

import pytest

from components.monitoring import prometheus
from components.serving.engine import HTTP_PORT
from infra.mocks import ProgramRun
from infra.plan import is_kubernetes_object, manifest
from infra.validate import validate
from tests.components.monitoring.scrape import relabel
from tests.renderkit import admits, dev, find, local, of_kind, prod, run_variant, stack_values

YOURS = "http://prometheus-operated.observability.svc:9090"


def with_monitoring(stack: str, **monitoring: Any) -> ProgramRun:
    vals = stack_values(stack)
    vals["monitoring"] = monitoring
    return run_variant(vals, {"hfToken": "hf_x"} if stack == "prod" else None)


def releases(run: ProgramRun) -> set[str]:
    return {r.inputs["name"] for r in run.of_type("kubernetes:helm.sh/v3:Release")}


def monitoring_objects(run: ProgramRun) -> list[dict[str, Any]]:
    urns = {r.urn for r in run.resources if r.type.startswith("leanrag:monitoring:")}
    return [manifest(r) for r in run.resources if is_kubernetes_object(r) and r.parent in urns]


def server_addresses(run: ProgramRun) -> set[str]:
    return {t["metadata"]["serverAddress"] for so in of_kind(run, "ScaledObject") for t in so["spec"]["triggers"]}


def vllm_admits(run: ProgramRun, src: tuple[str, dict[str, str]]) -> bool:
    labels = find(run, "Deployment", "llama-3-1-8b", "serving")["spec"]["template"]["metadata"]["labels"]
    return admits(of_kind(run, "NetworkPolicy"), src, ("serving", labels), HTTP_PORT)


SMALL = {
    "dashboards": True,
    "prometheus": {"storageGb": 2, "retention": "2d", "resources": {"cpu": "200m", "memory": "512Mi"}},
}
"""The small Prometheus Pulumi.local.yaml's comment suggests for kind."""


def local_with_metrics() -> ProgramRun:
    return with_monitoring("local", **SMALL)


@pytest.mark.parametrize("stack", ["dev", "prod", "local-with-metrics"])
def test_every_object_of_the_monitoring_layer_validates(stack):
    objects = monitoring_objects({"dev": dev, "prod": prod, "local-with-metrics": local_with_metrics}[stack]())
    assert objects
    assert {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in objects if validate(o)} == {}


def test_install_is_the_default_when_autoscaling_or_dashboards_are_on():
    assert prometheus.RELEASE in releases(prod()) and prometheus.RELEASE in releases(dev())
    assert server_addresses(prod()) == {prometheus.query_url("monitoring")}
    assert vllm_admits(prod(), ("monitoring", prometheus.SERVER_POD_LABELS))
    assert not vllm_admits(prod(), ("monitoring", {"app.kubernetes.io/name": "grafana"}))  # only the server


def test_the_monitoring_namespace_is_configurable():
    run = with_monitoring("prod", namespace="observability")
    assert release_namespace(run) == "observability"
    assert server_addresses(run) == {"http://prometheus-server.observability.svc.cluster.local:9090"}
    assert vllm_admits(run, ("observability", prometheus.SERVER_POD_LABELS))
    assert not vllm_admits(run, ("monitoring", prometheus.SERVER_POD_LABELS))
    assert {
        c["metadata"]["namespace"] for c in of_kind(run, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")
    } == {"observability"}


def release_namespace(run: ProgramRun) -> str:
    [r] = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == prometheus.RELEASE]
    return str(r.inputs["namespace"])


def test_external_uses_your_prometheus_and_renders_no_scraper():
    run = with_monitoring("prod", namespace="observability", prometheus={"provider": "external", "url": YOURS})
    assert prometheus.RELEASE not in releases(run)
    assert not of_kind(run, "PodMonitor") and not of_kind(run, "ServiceMonitor")
    assert server_addresses(run) == {YOURS} and run.outputs["prometheusUrl"] == YOURS
    assert vllm_admits(run, ("observability", {"app": "anything"}))  # your Prometheus' pods, by namespace
    assert find(run, "ConfigMap", "vllm-dashboard", "observability")


def test_operator_gets_pod_monitors_with_the_same_scrape_contract():
    run = with_monitoring(
        "prod", prometheus={"provider": "operator", "url": YOURS, "podMonitorLabels": {"release": "kps"}}
    )
    assert prometheus.RELEASE not in releases(run)
    monitors = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in of_kind(run, "PodMonitor")}
    assert set(monitors) == {("serving", "leanrag-pods"), ("rag", "leanrag-pods"), ("monitoring", "dcgm-exporter")}
    for monitor in monitors.values():
        assert monitor["metadata"]["labels"]["release"] == "kps"
        assert validate(monitor) == []
        typo = {**monitor, "spec": {**monitor["spec"], "unknownField": 1}}
        assert validate(typo), "the PodMonitor schema accepted an unknown spec field"
    assert not of_kind(run, "ServiceMonitor")
    assert server_addresses(run) == {YOURS}

    rules = monitors[("serving", "leanrag-pods")]["spec"]["podMetricsEndpoints"][0]["relabelings"]
    as_prometheus = [
        {{"sourceLabels": "source_labels", "targetLabel": "target_label"}.get(k, k): v for k, v in r.items()}
        for r in rules
    ]
    target = {
        "__address__": "10.0.0.1:8000",
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_pod_ip": "10.0.0.1",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": "9090",
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
        "__meta_kubernetes_pod_container_init": "false",
        "__meta_kubernetes_pod_phase": "Running",
    }
    kept = relabel(target, as_prometheus)
    assert kept is not None and kept["__address__"] == "10.0.0.1:9090"
    assert relabel({**target, "__meta_kubernetes_pod_annotation_prometheus_io_scrape": ""}, as_prometheus) is None
    dcgm = monitors[("monitoring", "dcgm-exporter")]["spec"]
    assert dcgm["namespaceSelector"] == {"any": True} and dcgm["podMetricsEndpoints"][0]["honorLabels"] is True


def test_the_local_kind_stack_installs_no_prometheus_unless_asked():
    """kind on a laptop stays light: no Prometheus, no dashboards (nothing there reads metrics); the suggested
    small one is sized as its comment says."""
    run = local()
    assert prometheus.RELEASE not in releases(run) and not monitoring_objects(run)
    assert run.outputs["prometheusUrl"] is None and run.outputs["grafanaDashboards"] == []
    small = local_with_metrics()
    assert prometheus.RELEASE in releases(small)
    [r] = [r for r in small.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == prometheus.RELEASE]
    server = r.inputs["values"]["server"]
    assert server["resources"]["requests"] == {"cpu": "200m", "memory": "512Mi"}
    assert server["persistentVolume"]["size"] == "2Gi" and server["retention"] == "2d"


def test_none_renders_no_prometheus_and_admits_no_scraper():
    vals = stack_values("dev")
    vals["monitoring"] = {"prometheus": {"provider": "none"}, "dashboards": False}
    run = run_variant(vals)
    assert prometheus.RELEASE not in releases(run)
    assert run.outputs["prometheusUrl"] is None and run.outputs["grafanaDashboards"] == []
    assert not monitoring_objects(run)
    assert not vllm_admits(run, ("monitoring", prometheus.SERVER_POD_LABELS))
