"""The contract every cluster component honours, whatever the cloud.

The platform layer only sees `ClusterOutputs`: a Kubernetes provider, a kubeconfig (secret), the model
store and the identity that reaches it, and where CPU and GPU pods go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

POOL_LABEL = "leanrag.dev/pool"
"""Every node carries the name of its pool under this label; pods select pools with it."""
ACCELERATOR_LABEL = "leanrag.dev/accelerator"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_TAINT_KEY, "value": "present", "effect": "NoSchedule"}
MODEL_STORE_SERVICE_ACCOUNT = "model-store"
"""Kubernetes ServiceAccount (in each namespace that needs it) bound to the bucket identity."""


@dataclass(frozen=True)
class Placement:
    """Where a pod runs: a node selector and the tolerations it needs there."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]] = field(default_factory=list)
    gpu: str | None = None
    """GPU model of the pool (catalog name), None for CPU pools."""
    gpus_per_node: int = 0


def cpu_placement(pool: str) -> Placement:
    return Placement(node_selector={POOL_LABEL: pool})


def gpu_placement(pool: str, gpu: str, gpus_per_node: int) -> Placement:
    toleration = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
    return Placement(node_selector={POOL_LABEL: pool}, tolerations=[toleration], gpu=gpu, gpus_per_node=gpus_per_node)


@dataclass
class ClusterOutputs:
    """Identical across AwsGpuCluster, GcpGpuCluster and ExistingCluster."""

    kubeconfig: pulumi.Output[str]
    """Secret."""
    provider: k8s.Provider
    model_store_uri: pulumi.Output[str]
    """s3://bucket, gs://bucket or pvc://claim: where quantized models live."""
    service_account_annotations: pulumi.Output[dict[str, str]]
    """Annotations that bind the model-store ServiceAccount to the bucket identity (empty on AWS: Pod Identity
    binds by namespace/name; GKE: iam.gke.io/gcp-service-account)."""
    system: Placement
    gpu_pools: dict[str, Placement]
    ready: list[pulumi.Resource]
    """Resources the platform must wait for (node groups, device plugin) before scheduling pods."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kubeconfig": self.kubeconfig,
            "modelStoreUri": self.model_store_uri,
            "systemPool": self.system.node_selector,
            "gpuPools": {name: p.node_selector for name, p in self.gpu_pools.items()},
        }


def workload_service_accounts(namespaces: list[str]) -> list[tuple[str, str]]:
    """The (namespace, name) pairs that may read and write the model store."""
    return [(ns, MODEL_STORE_SERVICE_ACCOUNT) for ns in namespaces]
