"""Who may connect to the model servers: the NetworkPolicy ingress rule of every serving pod.

Admitted: every pod of the app namespace (the RAG app and its LiteLLM gateway), the benchmark Job's pods,
the monitoring layer's Prometheus (when there is one), the endpoint pickers (they scrape /metrics to score
replicas; the standalone router's Envoy runs in their pods) and the Gateway's proxies: on GKE the managed
gateway's proxies and health checkers (by source range), elsewhere the in-cluster Gateway's proxy pods. Not the
ingest Job: it writes through the RAG app's API, and the app reaches the embedding model through the LiteLLM
gateway (docs/rag-path.md); except a reranker's pods (`for_reranker`), which the ingest Job's query path calls when
platform.app.retrieval.rerank is on (docs/retrieval.md). Kubelet probes come from the node and are not subject to
these rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
    gateway_pods: Mapping[str, str] | None = None
    """Labels of an in-cluster Gateway's proxy pods in the serving namespace (agentgateway, an external
    implementation), which connect to the InferencePool's pods directly."""
    ingest_job: bool = False
    """Admit the ingest Job's pods too (a reranker's servers: see `for_reranker`)."""

    def for_reranker(self) -> Clients:
        """The clients of a reranker's servers: these, plus the ingest Job, whose search/evaluate/context rerank
        with it (workloads/ingest/query.py)."""
        return replace(self, ingest_job=True)

    def peers(self) -> list[kube.Peer | kube.IpBlock]:
        return [
            kube.Peer(self.app_namespace),
            kube.Peer(self.jobs_namespace, kube.BENCHMARK_JOB_POD_LABELS),
            *([self.scraper] if self.scraper is not None else []),
            kube.Peer(self.serving_namespace, {kube.COMPONENT: kube.ENDPOINT_PICKER}),
            *(kube.IpBlock(cidr) for cidr in self.gateway_cidrs),
            *([kube.Peer(self.serving_namespace, dict(self.gateway_pods))] if self.gateway_pods else []),
            *([kube.Peer(self.jobs_namespace, kube.INGEST_JOB_POD_LABELS)] if self.ingest_job else []),
        ]

    def gateway_peers(self) -> list[kube.Peer | kube.IpBlock]:
        """The Gateway's proxies: what calls an endpoint picker's ext-proc port and the body-based router."""
        return [
            *(kube.IpBlock(cidr) for cidr in self.gateway_cidrs),
            *([kube.Peer(self.serving_namespace, dict(self.gateway_pods))] if self.gateway_pods else []),
        ]

    def gateway_callers(self) -> list[kube.Peer]:
        """Who calls an in-cluster Gateway's proxy pods: the app namespace (its LiteLLM gateway) and the benchmark
        Job's pods."""
        return [kube.Peer(self.app_namespace), kube.Peer(self.jobs_namespace, kube.BENCHMARK_JOB_POD_LABELS)]

    def ingress_rule(self, port: int) -> dict[str, Any]:
        """Ingress from every client, only on `port`; egress stays open (weights are streamed from a bucket)."""
        return kube.ingress_rule(self.peers(), [port])
