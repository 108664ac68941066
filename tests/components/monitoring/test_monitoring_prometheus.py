"""The stack's Prometheus: the release renders offline with the exact values the program passes; it scrapes the
pods that expose metrics (vLLM, endpoint pickers, text-embeddings-inference, gateway, app, moderation adapter,
DCGM) on their metrics port,
the NetworkPolicies let it, and KEDA's triggers query a Service the plan really creates."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from components import kube, versions
from components.app.deployment import METRICS_PORT as APP_METRICS_PORT
from components.app.gateway_deployment import METRICS_PORT as GATEWAY_METRICS_PORT
from components.app.moderation import PORT as MODERATION_PORT
from components.monitoring import prometheus
from components.serving.engine import HTTP_PORT
from components.serving.epp import METRICS_PORT as EPP_METRICS_PORT
from components.serving.text_embeddings import PORT as TEI_PORT
from infra import charts
from infra.mocks import ProgramRun
from infra.plan import helm_release
from tests.components.monitoring.scrape import POD_IP, scraped
from tests.renderkit import (
    admits,
    dev,
    helm_values,
    manifests,
    of_kind,
    prod,
    release,
    restricted_violations,
    run_variant,
    stack_values,
)

MONITORING = "monitoring"
PROMETHEUS_POD = (MONITORING, prometheus.SERVER_POD_LABELS)


def render_release(run: ProgramRun, helm_name: str) -> list[dict[str, Any]]:
    """Every object the release would create, as Helm renders it for an install (infra/charts.py, the plan's)."""
    return charts.render(helm_release(release(run, helm_name)))


def has_chart(chart: str, version: str) -> bool:
    try:
        charts.chart_path(chart.rsplit("/", 1)[-1], version)
    except charts.ChartNotFound:
        return False
    return True


@cache
def rendered(stack: str) -> list[dict[str, Any]]:
    return render_release({"dev": dev, "prod": prod}[stack](), prometheus.RELEASE)


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def scrape_jobs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(one(objects, "ConfigMap", prometheus.SERVER)["data"]["prometheus.yml"])
    return {job["job_name"]: job for job in config["scrape_configs"]}


def pod_templates(run: ProgramRun) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, workload name, pod template) of every Deployment the plan renders itself."""
    return [
        (d["metadata"]["namespace"], d["metadata"]["name"], d["spec"]["template"]) for d in of_kind(run, "Deployment")
    ]


# --- the release ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_installs_the_pinned_prometheus(stack):
    run = {"dev": dev, "prod": prod}[stack]()
    inputs = release(run, prometheus.RELEASE).inputs
    assert (inputs["chart"], inputs["version"]) == (versions.PROMETHEUS.name, versions.PROMETHEUS.version)
    assert inputs["namespace"] == MONITORING and inputs["atomic"] is True
    assert has_chart(inputs["chart"], inputs["version"])  # the version rendered is the one deployed
    assert run.outputs["prometheusUrl"] == "http://prometheus-server.monitoring.svc.cluster.local:9090"


def test_the_release_renders_only_the_server_and_kube_state_metrics():
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered("prod")}
    workloads = {n for k, n in kinds if k in ("Deployment", "StatefulSet", "DaemonSet")}
    assert workloads == {prometheus.SERVER, "prometheus-kube-state-metrics"}  # no node exporter, no Alertmanager
    assert ("Service", prometheus.SERVER) in kinds and ("PersistentVolumeClaim", prometheus.SERVER) in kinds


def test_storage_retention_and_resources_follow_the_config():
    vals = stack_values("prod")
    vals["monitoring"] = {
        "prometheus": {"storageGb": 50, "retention": "30d", "resources": {"cpu": "1", "memory": "4Gi"}}
    }
    objects = render_release(run_variant(vals, {"hfToken": "hf_x"}), prometheus.RELEASE)
    claim = one(objects, "PersistentVolumeClaim", prometheus.SERVER)
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    server = next(
        c
        for c in one(objects, "Deployment", prometheus.SERVER)["spec"]["template"]["spec"]["containers"]
        if c["name"] == prometheus.SERVER
    )
    assert "--storage.tsdb.retention.time=30d" in server["args"]
    assert "--storage.tsdb.retention.size=42500MB" in server["args"]  # 85% of the volume
    # CPU limit twice the request (kube.CPU_LIMIT_FACTOR, main), memory limit the request
    assert server["resources"] == {
        "requests": {"cpu": "1", "memory": "4Gi"},
        "limits": {"cpu": "2000m", "memory": "4Gi"},
    }
    default = one(rendered("prod"), "PersistentVolumeClaim", prometheus.SERVER)
    assert default["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_an_existing_cluster_gets_the_configured_storage_class():
    vals = stack_values("local")
    vals["monitoring"] = {"dashboards": True}  # the local stack turns its Prometheus off
    run = run_variant(vals)
    volume = helm_values(run, prometheus.RELEASE)["server"]["persistentVolume"]
    assert volume["storageClass"] == "standard"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_pod_of_the_release_is_restricted_and_sized(stack):
    for workload in of_kind_rendered(rendered(stack), "Deployment"):
        spec = workload["spec"]["template"]["spec"]
        assert restricted_violations(spec) == [], workload["metadata"]["name"]
        assert spec["nodeSelector"] == {"leanrag.dev/pool": "system"}
        for container in spec["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], container["name"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_container_of_the_release_pulls_its_pinned_image_always(stack):
    """The chart's default is IfNotPresent; the program's pods pull Always (kube.IMAGE_PULL_POLICY, checkov
    CKV_K8S_15): a node never runs a stale copy of a re-pushed tag."""
    containers = [
        c
        for workload in of_kind_rendered(rendered(stack), "Deployment")
        for c in [
            *workload["spec"]["template"]["spec"]["containers"],
            *workload["spec"]["template"]["spec"].get("initContainers", []),
        ]
    ]
    assert {c["name"] for c in containers} >= {"prometheus-server", "kube-state-metrics"}
    assert {c["name"]: c.get("imagePullPolicy") for c in containers} == {
        c["name"]: kube.IMAGE_PULL_POLICY for c in containers
    }


def of_kind_rendered(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


# --- what it scrapes ------------------------------------------------------------------------------------------


def test_it_scrapes_only_its_own_jobs():
    assert set(scrape_jobs(rendered("prod"))) == {"prometheus", "leanrag-pods", "dcgm-exporter", "kube-state-metrics"}
    assert scrape_jobs(rendered("prod"))["leanrag-pods"]["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": ["serving", "rag"]}}
    ]


EXPECTED = {
    ("serving", "llama-3-1-8b"): HTTP_PORT,
    ("serving", "llama-guard-3-1b"): HTTP_PORT,
    ("serving", "llama-3-1-8b-epp"): EPP_METRICS_PORT,
    ("serving", "llama-guard-3-1b-epp"): EPP_METRICS_PORT,
    ("serving", "all-minilm-l6-v2"): TEI_PORT,  # text-embeddings-inference: /metrics on its API port, no key
    ("rag", "gateway"): GATEWAY_METRICS_PORT,
    ("rag", "rag-app"): APP_METRICS_PORT,
    ("rag", "moderation"): MODERATION_PORT,  # /metrics on its API port, no key
}
"""prod's pods that expose metrics, and the port Prometheus must scrape."""


def test_prod_pods_that_expose_metrics_are_scraped_once_on_their_metrics_port():
    job = scrape_jobs(rendered("prod"))["leanrag-pods"]
    found = {}
    for namespace, name, template in pod_templates(prod()):
        targets = scraped(job, namespace, template)
        if targets:
            found[(namespace, name)] = targets
    assert found == {key: {(f"{POD_IP}:{port}", "/metrics")} for key, port in EXPECTED.items()}


def test_unannotated_pods_and_other_namespaces_are_not_scraped():
    job = scrape_jobs(rendered("prod"))["leanrag-pods"]
    template = {
        "metadata": {"labels": {"app": "x"}, "annotations": kube.scrape_annotations(9000)},
        "spec": {"containers": [{"name": "x", "ports": [{"containerPort": 9000}]}]},
    }
    assert scraped(job, "rag", template) == {(f"{POD_IP}:9000", "/metrics")}
    assert scraped(job, "milvus", template) == set()
    plain = copy.deepcopy(template)
    del plain["metadata"]["annotations"]
    assert scraped(job, "rag", plain) == set()


def test_the_moderation_adapter_is_scraped_by_its_annotations():
    """The adapter (workloads/moderation) serves /metrics on its API port; annotated, it is scraped in either
    namespace it may run in."""
    job = scrape_jobs(rendered("prod"))["leanrag-pods"]
    template = {
        "metadata": {"labels": kube.labels("moderation", "moderation"), "annotations": kube.scrape_annotations(8080)},
        "spec": {"containers": [{"name": "moderation", "ports": [{"name": "http", "containerPort": 8080}]}]},
    }
    for namespace in ("rag", "serving"):
        assert scraped(job, namespace, template) == {(f"{POD_IP}:8080", "/metrics")}


def test_dcgm_exporters_are_scraped_on_their_metrics_port_in_any_namespace():
    job = scrape_jobs(rendered("prod"))["dcgm-exporter"]
    assert job["honor_labels"] is True  # keeps the namespace and pod of the GPU's user
    for name, namespace in (("dcgm-exporter", "monitoring"), ("gke-managed-dcgm-exporter", "gke-managed-system")):
        template = {
            "metadata": {"labels": {"app.kubernetes.io/name": name}},
            "spec": {"containers": [{"name": "exporter", "ports": [{"name": "metrics", "containerPort": 9400}]}]},
        }
        assert scraped(job, namespace, template) == {(f"{POD_IP}:9400", "/metrics")}
    other = {
        "metadata": {"labels": {"app.kubernetes.io/name": "node-exporter"}},
        "spec": {"containers": [{"name": "x", "ports": [{"name": "metrics", "containerPort": 9100}]}]},
    }
    assert scraped(job, "monitoring", other) == set()


def test_kube_state_metrics_is_scraped_and_limited_to_the_stack():
    objects = rendered("prod")
    ksm = one(objects, "Deployment", "prometheus-kube-state-metrics")
    assert scraped(scrape_jobs(objects)["kube-state-metrics"], MONITORING, ksm["spec"]["template"]) == {
        (f"{POD_IP}:{prometheus.KSM_PORT}", "/metrics")
    }
    args = " ".join(ksm["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--resources=deployments,horizontalpodautoscalers" in args and "--namespaces=serving,rag" in args


# --- NetworkPolicies --------------------------------------------------------------------------------------------


def test_network_policies_let_prometheus_scrape_every_metrics_port():
    run = prod()
    policies = of_kind(run, "NetworkPolicy")
    templates = {(ns, name): t for ns, name, t in pod_templates(run)}
    for (namespace, name), port in EXPECTED.items():
        labels = templates[(namespace, name)]["metadata"]["labels"]
        assert admits(policies, PROMETHEUS_POD, (namespace, labels), port), f"{namespace}/{name}:{port}"


def test_metrics_ports_without_auth_admit_only_prometheus():
    run = prod()
    policies = of_kind(run, "NetworkPolicy")
    templates = {(ns, name): t for ns, name, t in pod_templates(run)}
    app = ("rag", templates[("rag", "rag-app")]["metadata"]["labels"])
    gateway = ("rag", templates[("rag", "gateway")]["metadata"]["labels"])
    assert not admits(policies, app, gateway, GATEWAY_METRICS_PORT)
    assert admits(policies, app, gateway, 4000)  # the API port is unchanged
    assert not admits(policies, gateway, app, APP_METRICS_PORT)
    other_monitoring_pod = (MONITORING, {"app.kubernetes.io/name": "grafana"})
    assert not admits(policies, other_monitoring_pod, gateway, GATEWAY_METRICS_PORT)


def test_only_keda_and_the_monitoring_namespace_may_query_prometheus():
    policies = of_kind(prod(), "NetworkPolicy")
    server = (MONITORING, prometheus.SERVER_POD_LABELS)
    keda_namespace = release(prod(), "leanrag-prod-keda").inputs["namespace"]  # where the plan installs KEDA
    assert admits(policies, (keda_namespace, {"app": "keda-operator"}), server, prometheus.PORT)
    assert admits(policies, (MONITORING, {"app.kubernetes.io/name": "grafana"}), server, prometheus.PORT)
    assert not admits(policies, ("rag", {"app.kubernetes.io/name": "rag-app"}), server, prometheus.PORT)
    ksm = (MONITORING, prometheus.KSM_POD_LABELS)
    assert admits(policies, server, ksm, prometheus.KSM_PORT)
    assert not admits(policies, ("keda", {}), ksm, prometheus.KSM_PORT)


# --- KEDA's triggers query an address that exists in the plan ----------------------------------------------------


def services_of_the_plan(run: ProgramRun) -> set[tuple[str, str, int]]:
    """(namespace, name, port) of every Service the plan creates: its own manifests and what its Helm releases
    render (every release whose pinned chart is in the charts folder; Helm puts an object without a namespace into
    the release's)."""
    placed = [(s, s["metadata"].get("namespace")) for s in manifests(run)]
    for r in run.of_type("kubernetes:helm.sh/v3:Release"):
        if has_chart(r.inputs["chart"], r.inputs["version"]):
            placed += [
                (o, o["metadata"].get("namespace", r.inputs["namespace"]))
                for o in render_release(run, r.inputs["name"])
            ]
    return {
        (namespace, s["metadata"]["name"], int(p["port"]))
        for s, namespace in placed
        if s["kind"] == "Service"
        for p in s["spec"].get("ports", [])
    }


def service_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname and parts.port, url
    host = parts.hostname.removesuffix(".cluster.local").removesuffix(".svc").split(".")
    assert len(host) == 2, f"{url} is not <service>.<namespace>[.svc[.cluster.local]]"
    return host[1], host[0], parts.port


def autoscaled_existing() -> ProgramRun:
    vals = stack_values("local")
    vals["serving"] = {"cpuTier": {"enabled": True}, "autoscaling": {"enabled": True}}
    vals["cluster"]["gpuPools"] = [{"name": "gpu", "instanceType": "n", "gpu": "L4", "gpuCount": 1, "maxNodes": 2}]
    vals["serving"]["models"] = [
        {"name": "qwen", "id": "Qwen/Qwen2.5-7B-Instruct", "pool": "gpu", "precision": "w4a16", "maxReplicas": 2}
    ]
    return run_variant(vals)


@pytest.mark.parametrize("variant", ["prod", "dev-autoscaled", "existing-autoscaled"])
def test_every_keda_trigger_queries_a_service_of_the_plan(variant):
    if variant == "prod":
        run = prod()
    elif variant == "dev-autoscaled":
        vals = stack_values("dev")
        vals["serving"]["autoscaling"] = {"enabled": True}
        run = run_variant(vals)
    else:
        run = autoscaled_existing()
    scaled = of_kind(run, "ScaledObject")
    assert scaled
    services = services_of_the_plan(run)
    for so in scaled:
        for trigger in so["spec"]["triggers"]:
            address = service_of(trigger["metadata"]["serverAddress"])
            assert address in services, f"{so['metadata']['name']}/{trigger['name']}: {address} is not in the plan"


def test_the_resolver_rejects_an_address_the_plan_does_not_have():
    services = services_of_the_plan(prod())
    assert service_of("http://prometheus-server.monitoring.svc.cluster.local:9090") in services
    assert service_of("http://prometheus-server.monitoring.svc.cluster.local:80") not in services
    assert service_of("http://prometheus-operated.monitoring.svc:9090") not in services  # the old default
    assert service_of("http://prometheus-server.other.svc:9090") not in services
