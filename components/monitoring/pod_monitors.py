"""PodMonitors for a Prometheus operator the user runs (provider: operator), pure builders.

They carry the same scrape contract as the stack's own Prometheus (components/kube/metrics.py): one PodMonitor per
watched namespace keeps its pods annotated prometheus.io/scrape and scrapes the annotated port and path; one more
scrapes the DCGM exporters on the GPU nodes.
"""

from __future__ import annotations

from typing import Any

from components.monitoring import prometheus

_CAMEL = {"source_labels": "sourceLabels", "target_label": "targetLabel"}


def _relabeling(rule: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL.get(k, k): v for k, v in rule.items()}


def annotated_pods_spec(namespace: str) -> dict[str, Any]:
    """Every annotated pod of `namespace` (the operator adds the namespace, pod and container labels itself)."""
    rules = prometheus.annotated_pods_job([namespace])["relabel_configs"]
    own = [r for r in rules if r.get("target_label") not in ("namespace", "pod")]
    return {
        "selector": {},
        "namespaceSelector": {"matchNames": [namespace]},
        "podMetricsEndpoints": [{"relabelings": [_relabeling(r) for r in own]}],
    }


def dcgm_spec() -> dict[str, Any]:
    """The DCGM exporters in any namespace, their own namespace and pod labels kept (the pod that holds a GPU)."""
    return {
        "selector": {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/name",
                    "operator": "In",
                    "values": list(prometheus.DCGM_EXPORTER_NAMES),
                }
            ]
        },
        "namespaceSelector": {"any": True},
        "podMetricsEndpoints": [{"port": "metrics", "honorLabels": True}],
    }
