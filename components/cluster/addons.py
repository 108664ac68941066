"""Cluster add-ons installed from pinned Helm charts: NVIDIA device plugin and DCGM exporter."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import versions
from components.cluster.base import GPU_TAINT_KEY, POOL_LABEL
from components.versions import Chart


def helm_release(
    name: str, chart: Chart, namespace: str, values: dict[str, object], opts: pulumi.ResourceOptions
) -> k8s.helm.v3.Release:
    """A Helm release from a pinned chart that waits for its workloads and rolls back on failure."""
    is_oci = chart.repo.startswith("oci://")
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=f"{chart.repo}/{chart.name}" if is_oci else chart.name,
        version=chart.version,
        repository_opts=None if is_oci else k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        create_namespace=True,
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        values=values,
        opts=opts,
    )


def gpu_node_addons(
    name: str,
    gpu_pools: list[str],
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
) -> list[pulumi.Resource]:
    """Device plugin (advertises nvidia.com/gpu) and DCGM exporter (GPU metrics) on GPU nodes only."""
    on_gpu_nodes: dict[str, object] = {
        "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": gpu_pools}]}
                    ]
                }
            }
        },
    }
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on))
    plugin = helm_release(
        f"{name}-nvidia-device-plugin", versions.NVIDIA_DEVICE_PLUGIN, "kube-system", on_gpu_nodes, opts
    )
    dcgm = helm_release(
        f"{name}-dcgm-exporter",
        versions.DCGM_EXPORTER,
        "monitoring",
        {**on_gpu_nodes, "serviceMonitor": {"enabled": False}},
        opts,
    )
    return [plugin, dcgm]
