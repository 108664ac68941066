"""Who may connect to the model servers: the NetworkPolicy ingress rule of every serving pod.

Admitted: every pod of the app namespace (the RAG app and its LiteLLM gateway), the benchmark Job's pods,
the monitoring layer's Prometheus (when there is one), the endpoint pickers (they scrape /metrics to score
replicas) and, in llm-d mode on GKE, the managed gateway's proxies and health checkers. Kubelet probes come from
the node and are not subject to these rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components import kube

GKE_HEALTH_CHECK_CIDRS = ("35.191.0.0/16", "130.211.0.0/22")
"""Google Cloud's health checkers (documented source ranges of Google Cloud load balancer health checks)."""


@dataclass(frozen=True)
class Clients:
    """Everything that may call the model servers of one stack."""

    app_namespace: str
    jobs_namespace: str
    serving_namespace: str
    scraper: kube.Peer | None = None
    """The Prometheus pods that scrape /metrics (None without a Prometheus)."""
    gateway_cidrs: Sequence[str] = ()
    """Source ranges of a managed gateway's proxies (llm-d mode on GKE), admitted by ipBlock."""

    def peers(self) -> list[kube.Peer | kube.IpBlock]:
        return [
            kube.Peer(self.app_namespace),
            kube.Peer(self.jobs_namespace, kube.BENCHMARK_JOB_POD_LABELS),
            *([self.scraper] if self.scraper is not None else []),
            kube.Peer(self.serving_namespace, {kube.COMPONENT: kube.ENDPOINT_PICKER}),
            *(kube.IpBlock(cidr) for cidr in self.gateway_cidrs),
        ]

    def ingress_rule(self, port: int) -> dict[str, Any]:
        """Ingress from every client, only on `port`; egress stays open (weights are downloaded from Hugging
        Face or streamed from a bucket)."""
        return kube.ingress_rule(self.peers(), [port])
