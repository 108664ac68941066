"""The cluster layer: one ComponentResource per stack, whichever the cloud, all honouring `ClusterOutputs`.

- `AwsGpuCluster`: EKS with GPU node groups, a model bucket and Pod Identity;
- `GcpGpuCluster`: GKE Standard with GPU node pools, a model bucket and Workload Identity;
- `ExistingCluster`: a cluster someone else runs (kind, a managed cluster): a provider and declared pools.

Other layers import only the contract in `components.cluster.base`.

The three clusters' modules load on first use of one of their names (PEP 562 `__getattr__`): a stack builds one
cluster, and importing the other clouds' SDKs (pulumi_aws and pulumi_awsx on GCP) cost about 0.1 s of every
offline plan. Type checkers see the names as ordinary imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from components.cluster.base import ClusterOutputs, Placement, workload_service_accounts

if TYPE_CHECKING:
    from components.cluster.aws import AwsGpuCluster, AwsGpuClusterArgs, GpuPool
    from components.cluster.existing import DeclaredGpuPool, ExistingCluster, ExistingClusterArgs
    from components.cluster.gcp import GcpGpuCluster, GcpGpuClusterArgs, GkeGpuPool

_MODULE_OF = {
    "AwsGpuCluster": "aws",
    "AwsGpuClusterArgs": "aws",
    "GpuPool": "aws",
    "DeclaredGpuPool": "existing",
    "ExistingCluster": "existing",
    "ExistingClusterArgs": "existing",
    "GcpGpuCluster": "gcp",
    "GcpGpuClusterArgs": "gcp",
    "GkeGpuPool": "gcp",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AwsGpuCluster",
    "AwsGpuClusterArgs",
    "ClusterOutputs",
    "DeclaredGpuPool",
    "ExistingCluster",
    "ExistingClusterArgs",
    "GcpGpuCluster",
    "GcpGpuClusterArgs",
    "GkeGpuPool",
    "GpuPool",
    "Placement",
    "workload_service_accounts",
]
