"""Who may connect to the model servers: NetworkPolicy ingress rules (pure) for the serving pods.

Admitted: every pod of the app namespace (the RAG app and its LiteLLM gateway), the benchmark Job's pods,
Prometheus, the endpoint pickers (they scrape /metrics to score replicas) and, in llm-d mode, the inference
gateway's proxies. Kubelet probes come from the node and are not subject to these rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.serving.labels import BENCHMARK_JOB_LABELS, COMPONENT, ENDPOINT_PICKER, NAMESPACE_NAME

GKE_HEALTH_CHECK_CIDRS = ("35.191.0.0/16", "130.211.0.0/22")
"""Google Cloud's health checkers (documented source ranges of Google Cloud load balancer health checks)."""


@dataclass(frozen=True)
class Peer:
    """Pods with `labels` (all pods when empty) in `namespace`."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def rule(self) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: self.namespace}},
            "podSelector": {"matchLabels": dict(self.labels)},
        }


@dataclass(frozen=True)
class Clients:
    """Everything that may call the model servers of one stack."""

    app_namespace: str
    jobs_namespace: str
    serving_namespace: str
    prometheus_namespace: str
    gateway_cidrs: Sequence[str] = ()
    """Source ranges of a managed gateway's proxies (llm-d mode on GKE), admitted by ipBlock."""

    def peers(self) -> list[dict[str, Any]]:
        peers = [
            Peer(self.app_namespace).rule(),
            Peer(self.jobs_namespace, BENCHMARK_JOB_LABELS).rule(),
            Peer(self.prometheus_namespace).rule(),
            Peer(self.serving_namespace, {COMPONENT: ENDPOINT_PICKER}).rule(),
        ]
        return peers + [{"ipBlock": {"cidr": cidr}} for cidr in self.gateway_cidrs]


def ingress_policy_spec(pod_selector: Mapping[str, str], clients: Clients, port: int) -> dict[str, Any]:
    """Ingress to the selected pods only from `clients`, only on `port`; egress stays open (weights are
    downloaded from Hugging Face or streamed from a bucket)."""
    return {
        "podSelector": {"matchLabels": dict(pod_selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": clients.peers(), "ports": [{"protocol": "TCP", "port": port}]}],
    }
