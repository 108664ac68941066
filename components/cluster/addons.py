"""Cluster add-ons installed from pinned Helm charts: the NVIDIA device plugin and the DCGM exporter on GPU
nodes, and the cluster autoscaler (EKS). The values are pure functions, rendered with their charts in the tests
(infra/charts.py), so what each pod gets is checked on the objects Kubernetes would receive.

What the charts let us set is set as the platform's own pods have it: CPU and memory requests and limits, the
image pull policy, no privilege escalation, no capabilities, RuntimeDefault seccomp, and a non-root high uid
where the program needs no root. The device plugin stays root: it serves the kubelet's device-plugin socket
and reads the GPU device nodes from host paths (tests/infra/checkov.yaml lists what that costs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster.base import GPU_TAINT_KEY, POOL_LABEL

NON_ROOT_UID = 65534
"""`nobody`: a high uid that owns nothing in the image or on the node."""
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
"""The autoscaler's ServiceAccount in kube-system; the EKS Pod Identity association binds its AWS role to it."""


def _non_root_pod(uid: int = NON_ROOT_UID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _locked_container(*, read_only_root: bool = True) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": read_only_root,
    }


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def on_gpu_nodes(gpu_pools: Sequence[str]) -> dict[str, Any]:
    """Tolerate the GPU taint and run only on the GPU pools' nodes."""
    return {
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": list(gpu_pools)}]}
                    ]
                }
            }
        },
    }


def device_plugin_values(gpu_pools: Sequence[str]) -> dict[str, Any]:
    """The NVIDIA device plugin (advertises nvidia.com/gpu). Root with the chart's container defaults (no privilege
    escalation, no capabilities): it writes the kubelet's device-plugin socket on the host."""
    return {
        **on_gpu_nodes(gpu_pools),
        "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "resources": _resources("50m", "64Mi", "200m", "256Mi"),
    }


def dcgm_exporter_values(gpu_pools: Sequence[str]) -> dict[str, Any]:
    """The DCGM exporter (GPU metrics). Non-root without SYS_ADMIN: the dashboards read device metrics
    (DCGM_FI_DEV_*), not the profiling ones (DCGM_FI_PROF_*) that need it (the chart's documented non-root mode)."""
    return {
        **on_gpu_nodes(gpu_pools),
        "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            **_locked_container(read_only_root=False),
            "capabilities": {"drop": ["ALL"], "add": []},  # replaces the chart's SYS_ADMIN
        },
        "resources": _resources("100m", "128Mi", "200m", "512Mi"),
        "serviceMonitor": {"enabled": False},
    }


def cluster_autoscaler_values(cluster_name: pulumi.Input[str], region: str, kubernetes_version: str) -> dict[str, Any]:
    """The cluster autoscaler (AWS, auto-discovery by the node groups' tags), as the release of the cluster's
    Kubernetes minor (versions.CLUSTER_AUTOSCALER_IMAGE_TAGS; the chart's own for a minor not listed there)."""
    values: dict[str, Any] = {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-local-storage": False,
            "expander": "least-waste",
        },
        "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
        "securityContext": _non_root_pod(),
        "containerSecurityContext": _locked_container(),
        "resources": _resources("100m", "300Mi", "500m", "600Mi"),
    }
    tag = versions.CLUSTER_AUTOSCALER_IMAGE_TAGS.get(kubernetes_version)
    if tag is not None:
        values["image"]["tag"] = tag
    return values


def gpu_node_addons(
    name: str,
    gpu_pools: list[str],
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
) -> list[pulumi.Resource]:
    """Device plugin (advertises nvidia.com/gpu) and DCGM exporter (GPU metrics) on GPU nodes only."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on))
    plugin = kube.helm_release(
        f"{name}-nvidia-device-plugin",
        versions.NVIDIA_DEVICE_PLUGIN,
        "kube-system",
        device_plugin_values(gpu_pools),
        opts,
    )
    dcgm = kube.helm_release(
        f"{name}-dcgm-exporter", versions.DCGM_EXPORTER, "monitoring", dcgm_exporter_values(gpu_pools), opts
    )
    return [plugin, dcgm]
