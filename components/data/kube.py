"""Small, pure builders for the pod specs and policies of the data and app layer.

Shared by Milvus, Redis, the RAG app and the gateway: container resources from config, the Pod Security
`restricted` contexts, NetworkPolicy peers, and Kubernetes memory quantities. No resources are created
here except by `network_policy` and `secret`, which take their options from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.namespaces import PART_OF
from stacks.config.platform import Resources

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (1.22+); NetworkPolicies select namespaces by it."""

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_CPU = re.compile(r"^(\d+(?:\.\d+)?m?)$")


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ("1Gi", "512Mi", "1G", "1073741824") in bytes.

    Raises ValueError naming the accepted forms for anything else (e.g. "1GB")."""
    match = _QUANTITY.match(quantity.strip())
    if not match:
        raise ValueError(f"{quantity!r} is not a Kubernetes memory quantity; use e.g. 512Mi, 1Gi or 2G")
    number, suffix = match.groups()
    unit = _BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix or ""]
    return int(float(number) * unit)


def is_cpu_quantity(quantity: str) -> bool:
    """True for CPU quantities such as "500m", "1", "1.5"."""
    return bool(_CPU.match(quantity.strip()))


def resources(r: Resources) -> dict[str, Any]:
    """Container resources: requests as configured; the memory limit defaults to the request (no
    overcommit of memory), the CPU limit is set only when configured (no throttling by default)."""
    limits = {"memory": r.memory_limit or r.memory}
    if r.cpu_limit:
        limits["cpu"] = r.cpu_limit
    return {"requests": {"cpu": r.cpu, "memory": r.memory}, "limits": limits}


def memory_limit_bytes(r: Resources) -> int:
    return memory_bytes(r.memory_limit or r.memory)


def restricted_pod_security(uid: int, gid: int) -> dict[str, Any]:
    """Pod-level securityContext that satisfies Pod Security `restricted`."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security(read_only_root: bool = True) -> dict[str, Any]:
    """Container-level securityContext that satisfies Pod Security `restricted`."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }


def secret_env(name: str, secret: pulumi.Input[str], key: str) -> dict[str, Any]:
    """An environment variable filled from a Secret key (never a literal value)."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the namespace of the pod that reads it."""

    name: str
    key: str

    def env(self, var: str) -> dict[str, Any]:
        return secret_env(var, self.name, self.key)


def http_probe(path: str, port: str, period_s: int, failures: int, timeout_s: int = 3) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period_s,
        "timeoutSeconds": timeout_s,
        "failureThreshold": failures,
    }


def pod_disruption_budget(
    resource_name: str, name: str, namespace: str, pod_labels: Mapping[str, str], opts: pulumi.ResourceOptions
) -> k8s.policy.v1.PodDisruptionBudget:
    """Keep at least one replica through voluntary disruptions (node drains, upgrades)."""
    return k8s.policy.v1.PodDisruptionBudget(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": PART_OF},
        spec={"minAvailable": 1, "selector": {"matchLabels": dict(pod_labels)}},
        opts=opts,
    )


def labels(name: str, component: str) -> dict[str, str]:
    """Pod and object labels: the selector labels plus part-of."""
    return {**selector_labels(name, component), **PART_OF}


def selector_labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


@dataclass(frozen=True)
class Peer:
    """Pods allowed to connect: those with `labels` in namespace `namespace`."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    """Pod labels to match; empty admits every pod of the namespace."""

    def rule(self) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: self.namespace}},
            "podSelector": {"matchLabels": dict(self.labels)},
        }


def ingress_rule(peers: Sequence[Peer], ports: Sequence[int]) -> dict[str, Any]:
    return {"from": [p.rule() for p in peers], "ports": [{"protocol": "TCP", "port": p} for p in ports]}


def network_policy(
    resource_name: str,
    namespace: str,
    pod_labels: Mapping[str, str],
    ingress: Sequence[dict[str, Any]],
    opts: pulumi.ResourceOptions,
    *,
    name: str | None = None,
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
        metadata={"name": name or resource_name, "namespace": namespace, "labels": PART_OF},
        spec=spec,
        opts=opts,
    )


def secret(
    resource_name: str,
    name: str,
    namespace: str,
    string_data: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """An Opaque Secret. Values are Pulumi secrets (RandomPassword results): they stay encrypted in state."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": PART_OF},
        type="Opaque",
        string_data={k: pulumi.Output.secret(v) for k, v in string_data.items()},
        opts=opts,
    )


# --- who talks to whom: the pod labels the NetworkPolicies admit --------------------------------------
APP_POD_LABELS = selector_labels("rag-app", "app")
"""The RAG app (OGX) pods, in the platform namespace."""
GATEWAY_POD_LABELS = selector_labels("gateway", "gateway")
"""The LiteLLM gateway pods, in the platform namespace."""
INGEST_JOB_POD_LABELS = selector_labels("ingest", "job")
"""The ingest Job's pods (jobs namespace) must carry these labels to reach Milvus."""
