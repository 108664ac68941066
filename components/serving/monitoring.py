"""Prometheus-operator ServiceMonitors for the serving pods (the pods also carry prometheus.io/* annotations
for annotation-based scrapers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def service_monitor_spec(
    selector: Mapping[str, str], namespace: str, port: str = "http", path: str = "/metrics", interval: str = "15s"
) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(selector)},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": port, "path": path, "interval": interval, "scheme": "http"}],
    }


def service_monitor(
    resource_name: str,
    name: str,
    namespace: str,
    selector: Mapping[str, str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    port: str = "http",
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor for the Service whose labels match `selector`. The prometheus-operator CRDs must be in
    the cluster (kube-prometheus-stack installs them)."""
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata={"name": name, "namespace": namespace, "labels": dict(labels)},
        spec=service_monitor_spec(selector, namespace, port=port),
        opts=opts,
    )
