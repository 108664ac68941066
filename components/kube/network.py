"""NetworkPolicies: who may open connections to which pods. Pure rule builders and the policy resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube.meta import NAMESPACE_NAME, PART_OF


@dataclass(frozen=True)
class Peer:
    """Pods allowed to connect: those with `labels` in namespace `namespace`."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    """Pod labels to match; empty admits every pod of the namespace."""

    def rule(self) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: self.namespace}},
            "podSelector": {"matchLabels": dict(self.labels)},
        }


@dataclass(frozen=True)
class IpBlock:
    """Sources outside the pod network allowed to connect (e.g. a managed load balancer's proxies)."""

    cidr: str

    def rule(self) -> dict[str, Any]:
        return {"ipBlock": {"cidr": self.cidr}}


def ingress_rule(peers: Sequence[Peer | IpBlock], ports: Sequence[int]) -> dict[str, Any]:
    """Admit `peers` on the TCP `ports`."""
    return {"from": [p.rule() for p in peers], "ports": [{"protocol": "TCP", "port": p} for p in ports]}


def network_policy(
    resource_name: str,
    namespace: str,
    pod_labels: Mapping[str, str],
    ingress: Sequence[dict[str, Any]],
    opts: pulumi.ResourceOptions,
    *,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    deny_egress: bool = False,
) -> k8s.networking.v1.NetworkPolicy:
    """Ingress to the pods with `pod_labels` only by the given rules (none: no ingress at all).
    `deny_egress` also blocks every outgoing connection (for servers that never dial out)."""
    types = ["Ingress", "Egress"] if deny_egress else ["Ingress"]
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(pod_labels)},
        "policyTypes": types,
        "ingress": list(ingress),
    }
    if deny_egress:
        spec["egress"] = []
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": name or resource_name, "namespace": namespace, "labels": dict(labels or PART_OF)},
        spec=spec,
        opts=opts,
    )


DEFAULT_DENY_INGRESS = "default-deny-ingress"


def default_deny_ingress(
    resource_name: str, namespace: str, opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """No pod of the namespace accepts connections unless another NetworkPolicy admits them (policies add up)."""
    return network_policy(resource_name, namespace, {}, [], opts, name=DEFAULT_DENY_INGRESS)
