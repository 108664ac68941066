"""The cluster layer: one ComponentResource per stack, whichever the cloud, all honouring `ClusterOutputs`.

- `AwsGpuCluster`: EKS with GPU node groups, a model bucket and Pod Identity;
- `GcpGpuCluster`: GKE Standard with GPU node pools, a model bucket and Workload Identity;
- `ExistingCluster`: a cluster someone else runs (kind, a managed cluster): a provider and declared pools.

Other layers import only the contract in `components.cluster.base`.
"""

from components.cluster.aws import AwsGpuCluster, AwsGpuClusterArgs, GpuPool
from components.cluster.base import ClusterOutputs, Placement, workload_service_accounts
from components.cluster.existing import DeclaredGpuPool, ExistingCluster, ExistingClusterArgs
from components.cluster.gcp import GcpGpuCluster, GcpGpuClusterArgs, GkeGpuPool

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
