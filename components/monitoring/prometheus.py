"""The stack's own Prometheus: the values of the pinned prometheus-community chart (pure builders).

What it scrapes (every job is written here; the chart's cluster-wide default jobs are turned off):

- `leanrag-pods`: the pods of the stack's namespaces that carry the `prometheus.io/*` annotations
  (components/kube/metrics.py): vLLM, the endpoint pickers (the scale-from-zero signal), the LiteLLM gateway's
  metrics port, the RAG app's metrics port, the moderation adapter. Targets get `namespace`, `pod`, `app` and
  `component` labels from the pod;
- `dcgm-exporter`: NVIDIA's DCGM exporter on the GPU nodes, in any namespace, keeping the labels it sets (the
  namespace and pod that use each GPU);
- `kube-state-metrics`: Deployment and HPA replica counts of the stack's namespaces (the chart's
  kube-state-metrics, limited to those two collectors);
- `prometheus`: itself.

No node exporter, Pushgateway or Alertmanager: they are not needed for autoscaling or the dashboards (and the
node exporter needs host access that Pod Security `restricted` forbids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components import kube
from components.cluster.base import Placement
from stacks.config.monitoring import PrometheusConfig
from stacks.config.platform import Resources

RELEASE = "prometheus"
SERVER = "prometheus-server"
"""The server's Deployment and Service (server.fullnameOverride)."""
PORT = 9090
SERVER_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "server",
}
"""How the chart labels the server's pods: NetworkPolicies admit the scraper by them."""
KSM_PORT = 8080
KSM_POD_LABELS = {"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": RELEASE}
DCGM_EXPORTER_NAMES = ("dcgm-exporter", "gke-managed-dcgm-exporter")
"""`app.kubernetes.io/name` of DCGM exporter pods: NVIDIA's chart (cluster add-on on EKS), GKE's managed one."""
UID = GID = 65534
"""`nobody`, as the chart runs Prometheus."""
CHART_DEFAULT_JOBS = (
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "prometheus-pushgateway",
    "kubernetes-services",
    "kubernetes-pods",
    "kubernetes-pods-slow",
)
"""The scrape jobs chart 29.27.0 enables by default, turned off: they scrape every annotated pod, Service and node
of the cluster. A chart bump that adds a job fails the render test (tests/components/monitoring)."""


@dataclass(frozen=True)
class ScrapeTargets:
    """Where the pods to scrape run."""

    namespaces: Sequence[str]
    """Namespaces whose annotated pods are scraped (serving, platform)."""


def query_url(namespace: str) -> str:
    """Where KEDA's triggers and Grafana query the stack's Prometheus."""
    return kube.service_url(SERVER, namespace, PORT)


def _keep(source: str, regex: str) -> dict[str, Any]:
    return {"source_labels": [source], "action": "keep", "regex": regex}


def _copy(source: str, target: str) -> dict[str, Any]:
    return {"source_labels": [source], "action": "replace", "target_label": target}


def annotated_pods_job(namespaces: Sequence[str]) -> dict[str, Any]:
    """Every annotated pod of `namespaces`, on its annotated port and path (one target per pod: the address of
    each declared port is rewritten to the annotated one, and identical targets are merged)."""
    annotation = "__meta_kubernetes_pod_annotation_prometheus_io_"
    return {
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": list(namespaces)}}],
        "relabel_configs": [
            _keep(f"{annotation}scrape", "true"),
            {"source_labels": ["__meta_kubernetes_pod_container_init"], "action": "drop", "regex": "true"},
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "action": "drop",
                "regex": "Pending|Succeeded|Failed|Completed",
            },
            {
                "source_labels": [f"{annotation}path"],
                "action": "replace",
                "regex": "(.+)",
                "target_label": "__metrics_path__",
            },
            {  # IPv6 pod IPs go in brackets
                "source_labels": [f"{annotation}port", "__meta_kubernetes_pod_ip"],
                "action": "replace",
                "regex": r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
                "replacement": "[$2]:$1",
                "target_label": "__address__",
            },
            {
                "source_labels": [f"{annotation}port", "__meta_kubernetes_pod_ip"],
                "action": "replace",
                "regex": r"(\d+);((([0-9]+?)(\.|$)){4})",
                "replacement": "$2:$1",
                "target_label": "__address__",
            },
            _copy("__meta_kubernetes_namespace", "namespace"),
            _copy("__meta_kubernetes_pod_name", "pod"),
            _copy("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app"),
            _copy("__meta_kubernetes_pod_label_app_kubernetes_io_component", "component"),
            _copy("__meta_kubernetes_pod_node_name", "node"),
        ],
    }


def dcgm_job() -> dict[str, Any]:
    """The DCGM exporters on the GPU nodes, wherever they run. Their own `namespace`, `pod` and `Hostname` labels
    (the pod that holds each GPU) are kept."""
    return {
        "honor_labels": True,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            _keep("__meta_kubernetes_pod_label_app_kubernetes_io_name", "|".join(DCGM_EXPORTER_NAMES)),
            _keep("__meta_kubernetes_pod_container_port_name", "metrics"),
            _copy("__meta_kubernetes_pod_node_name", "node"),
        ],
    }


def kube_state_metrics_job(namespace: str) -> dict[str, Any]:
    """The chart's kube-state-metrics (in the monitoring namespace); its `namespace` labels name the objects."""
    return {
        "honor_labels": True,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            _keep("__meta_kubernetes_pod_label_app_kubernetes_io_name", KSM_POD_LABELS["app.kubernetes.io/name"]),
            _keep("__meta_kubernetes_pod_container_port_name", "http"),
        ],
    }


def scrape_configs(targets: ScrapeTargets, namespace: str) -> dict[str, Any]:
    """The chart's `scrapeConfigs`: ours on, the chart's cluster-wide defaults off."""
    jobs: dict[str, Any] = {job: {"enabled": False} for job in CHART_DEFAULT_JOBS}
    jobs["prometheus"] = {"enabled": True}
    jobs["leanrag-pods"] = annotated_pods_job(targets.namespaces)
    jobs["dcgm-exporter"] = dcgm_job()
    jobs["kube-state-metrics"] = kube_state_metrics_job(namespace)
    return jobs


def _restricted_container() -> dict[str, Any]:
    return kube.restricted_container_security(read_only_root=True, non_root=True)


def _placement(placement: Placement) -> dict[str, Any]:
    return {"nodeSelector": dict(placement.node_selector), "tolerations": [dict(t) for t in placement.tolerations]}


def retention_size(storage_gb: int) -> str:
    """85% of the volume: Prometheus drops the oldest blocks before the volume fills (WAL and compaction need the
    rest)."""
    return f"{storage_gb * 850}MB"


def chart_values(
    cfg: PrometheusConfig,
    namespace: str,
    targets: ScrapeTargets,
    placement: Placement,
    storage_class: str | None,
) -> dict[str, Any]:
    """The values the program passes to the prometheus chart (rendered offline by the tests)."""
    volume: dict[str, Any] = {"enabled": True, "size": f"{cfg.storage_gb}Gi", "accessModes": ["ReadWriteOnce"]}
    if storage_class:
        volume["storageClass"] = storage_class
    return {
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "kube-state-metrics": {
            "enabled": True,
            "prometheusScrape": False,  # scraped by our kube-state-metrics job, not by Service annotations
            "collectors": ["deployments", "horizontalpodautoscalers"],
            "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
            "namespaces": ",".join(targets.namespaces),
            "resources": kube.resources(Resources(cpu="100m", memory="128Mi")),
            "containerSecurityContext": _restricted_container(),
            **_placement(placement),
        },
        "configmapReload": {
            "prometheus": {
                "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
                "containerSecurityContext": _restricted_container(),
                "resources": kube.resources(Resources(cpu="10m", memory="32Mi")),
            }
        },
        "server": {
            "fullnameOverride": SERVER,
            "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
            "service": {"servicePort": PORT},
            "global": {
                "scrape_interval": f"{cfg.scrape_interval_s}s",
                "scrape_timeout": f"{min(cfg.scrape_interval_s, 10)}s",
                "evaluation_interval": "1m",
            },
            "retention": cfg.retention,
            "retentionSize": retention_size(cfg.storage_gb),
            "persistentVolume": volume,
            "resources": kube.resources(cfg.resources),
            "securityContext": kube.restricted_pod_security(UID, GID),
            "containerSecurityContext": _restricted_container(),
            **_placement(placement),
        },
        "scrapeConfigs": scrape_configs(targets, namespace),
    }


def network_policy_rules(query_from: Sequence[str], namespace: str) -> list[dict[str, Any]]:
    """Who may query the server: KEDA's operator (query_from namespaces) and the monitoring namespace (Grafana)."""
    peers = [kube.Peer(ns) for ns in dict.fromkeys([namespace, *query_from])]
    return [kube.ingress_rule(peers, [PORT])]


def scraper(namespace: str) -> kube.Peer:
    """The Prometheus server's pods, as NetworkPolicies admit them on metrics ports."""
    return kube.Peer(namespace, SERVER_POD_LABELS)


def ksm_rules(namespace: str) -> list[dict[str, Any]]:
    return [kube.ingress_rule([scraper(namespace)], [KSM_PORT])]
