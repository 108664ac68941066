"""GPU node add-ons installed from pinned Helm charts: the NVIDIA device plugin and the DCGM exporter."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster.base import GPU_TAINT_KEY, POOL_LABEL


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
    plugin = kube.helm_release(
        f"{name}-nvidia-device-plugin", versions.NVIDIA_DEVICE_PLUGIN, "kube-system", on_gpu_nodes, opts
    )
    dcgm = kube.helm_release(
        f"{name}-dcgm-exporter",
        versions.DCGM_EXPORTER,
        "monitoring",
        {**on_gpu_nodes, "serviceMonitor": {"enabled": False}},
        opts,
    )
    return [plugin, dcgm]
