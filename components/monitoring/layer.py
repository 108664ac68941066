"""The monitoring layer of a stack: the Prometheus that KEDA queries and the dashboards read, and the dashboards.

By `monitoring.prometheus.provider` (resolved by `stacks.monitoring.prometheus_provider`):

- install: the pinned prometheus-community chart in monitoring.namespace (components/monitoring/prometheus.py),
  with NetworkPolicies that let only KEDA and the namespace's own pods (Grafana) query it;
- operator: PodMonitors for the user's Prometheus operator (components/monitoring/pod_monitors.py);
- external: nothing to create; the user's Prometheus scrapes the pods by their annotations;
- none: no Prometheus (preflight makes sure nothing needs one).

Dashboards (monitoring.dashboards) are ConfigMaps in monitoring.namespace for Grafana's sidecar. The layer is
built before the serving and app layers: they read `MonitoringOutputs` (the query URL for KEDA, the scraper their
NetworkPolicies admit on metrics ports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster.base import ClusterOutputs
from components.monitoring import grafana, pod_monitors, prometheus
from components.monitoring.dashboards import DASHBOARDS, Scope
from stacks.config.monitoring import MonitoringConfig, PrometheusProvider


@dataclass(frozen=True)
class MonitoringOutputs:
    """What the serving and app layers and the stack outputs read."""

    provider: PrometheusProvider
    prometheus_url: str | None
    """In-cluster query URL of the Prometheus KEDA's triggers query and Grafana reads; None without one."""
    scraper: kube.Peer | None
    """The pods that scrape metrics: NetworkPolicies admit them on metrics ports. None without a Prometheus."""
    dashboards: list[str]
    """Names of the dashboards' ConfigMaps (in monitoring.namespace)."""

    def as_dict(self) -> dict[str, Any]:
        return {"prometheusUrl": self.prometheus_url, "grafanaDashboards": self.dashboards}


@dataclass
class MonitoringArgs:
    config: MonitoringConfig
    provider: PrometheusProvider
    """monitoring.prometheus.provider, resolved (never None)."""
    cluster: ClusterOutputs
    """Where Prometheus runs (the system pool) and what it waits for."""
    scope: Scope
    """The serving and platform namespaces: their annotated pods are scraped, the dashboards query them."""
    storage_class: str | None = None
    """StorageClass of Prometheus's volume; None uses the cluster's default."""
    namespaces: Sequence[pulumi.Resource] = field(default_factory=list)
    """The serving and platform Namespaces (PodMonitors are created in them)."""


def outputs_for(args: MonitoringArgs) -> MonitoringOutputs:
    """The layer's outputs, from the config alone (pure)."""
    ns, provider = args.config.namespace, args.provider
    url: str | None = None
    scraper: kube.Peer | None = None
    if provider == "install":
        url, scraper = prometheus.query_url(ns), prometheus.scraper(ns)
    elif provider in ("external", "operator"):
        url, scraper = args.config.prometheus.url, kube.Peer(ns)
    boards = [f"{board}-dashboard" for board in DASHBOARDS] if args.config.dashboards else []
    return MonitoringOutputs(provider=provider, prometheus_url=url, scraper=scraper, dashboards=boards)


class Monitoring(pulumi.ComponentResource):
    """Prometheus (installed, or PodMonitors for yours) and the Grafana dashboards."""

    outputs: MonitoringOutputs
    prometheus: k8s.helm.v3.Release | None
    """The Prometheus release (provider install)."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:monitoring:Monitoring", name, None, opts)
        cfg, ns = args.config, args.config.namespace
        cluster_ready = list(args.cluster.ready)
        self.outputs = outputs_for(args)
        self.prometheus = None
        in_namespace: list[pulumi.Resource] = []
        if args.provider == "install":
            self.prometheus = kube.helm_release(
                f"{name}-prometheus",
                versions.PROMETHEUS,
                ns,
                prometheus.chart_values(
                    cfg.prometheus,
                    ns,
                    prometheus.ScrapeTargets([args.scope.serving, args.scope.platform]),
                    args.cluster.system,
                    args.storage_class,
                ),
                pulumi.ResourceOptions(parent=self, depends_on=cluster_ready),
                release_name=prometheus.RELEASE,
            )
            in_namespace = [self.prometheus]  # the release creates the namespace
            after = pulumi.ResourceOptions(parent=self, depends_on=in_namespace)
            kube.network_policy(
                f"{name}-prometheus-server",
                ns,
                prometheus.SERVER_POD_LABELS,
                prometheus.network_policy_rules(cfg.prometheus.query_from, ns),
                after,
                name=prometheus.SERVER,
            )
            kube.network_policy(
                f"{name}-kube-state-metrics",
                ns,
                prometheus.KSM_POD_LABELS,
                prometheus.ksm_rules(ns),
                after,
                name="kube-state-metrics",
            )
        elif args.provider == "operator":
            self._pod_monitors(name, args)

        for board in self.outputs.dashboards:
            key = board.removesuffix("-dashboard")
            k8s.core.v1.ConfigMap(
                f"{name}-{board}",
                metadata={
                    "name": board,
                    "namespace": ns,
                    "labels": {**kube.PART_OF, **grafana.SIDECAR_LABEL},
                    "annotations": dict(grafana.FOLDER_ANNOTATION),
                },
                data={f"{key}.json": grafana.to_json(DASHBOARDS[key](args.scope))},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*cluster_ready, *in_namespace]),
            )
        self.register_outputs(self.outputs.as_dict())

    def _pod_monitors(self, name: str, args: MonitoringArgs) -> None:
        labels = {**kube.PART_OF, **args.config.prometheus.pod_monitor_labels}
        opts = pulumi.ResourceOptions(parent=self, depends_on=[*args.cluster.ready, *args.namespaces])
        specs = {ns: pod_monitors.annotated_pods_spec(ns) for ns in (args.scope.serving, args.scope.platform)}
        for ns, spec in specs.items():
            _pod_monitor(f"{name}-{ns}-pods", "leanrag-pods", ns, spec, labels, opts)
        _pod_monitor(f"{name}-dcgm", "dcgm-exporter", args.config.namespace, pod_monitors.dcgm_spec(), labels, opts)


def _pod_monitor(
    resource: str, name: str, namespace: str, spec: dict[str, Any], labels: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource,
        api_version="monitoring.coreos.com/v1",
        kind="PodMonitor",
        metadata={"name": name, "namespace": namespace, "labels": labels},
        spec=spec,
        opts=opts,
    )
