"""Where the platform runs: the cloud, its network and node pools, or an existing cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stacks.config.base import ConfigModel, DnsLabel

CloudName = Literal["aws", "gcp", "existing"]


class NodePool(ConfigModel):
    """A group of identical nodes. GPU pools are tainted `nvidia.com/gpu=present:NoSchedule`."""

    name: DnsLabel
    """Pool name; models and jobs refer to it."""
    instance_type: str
    """AWS instance type or GCP machine type from the catalog (stacks/catalog.yaml); free text for `existing`."""
    min_nodes: int = Field(default=0, ge=0)
    """Lower bound of the autoscaler; 0 lets the pool scale from zero."""
    max_nodes: int = Field(default=1, ge=1)
    """Upper bound of the autoscaler; the cost policy multiplies it by the hourly price."""
    desired_nodes: int | None = Field(default=None, ge=0)
    """Initial size; defaults to min_nodes."""
    spot: bool = False
    """Spot (AWS) / Spot VMs (GCP): cheaper, can be reclaimed."""
    disk_gb: int = Field(default=200, ge=20)
    """Root volume size; model weights are cached here."""
    gpu: str | None = None
    """Only for cloud `existing`: the GPU model of the pool's nodes (a catalog name such as L4)."""
    gpu_count: int = Field(default=0, ge=0)
    """Only for cloud `existing`: GPUs per node."""

    @model_validator(mode="after")
    def _bounds(self) -> NodePool:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is larger than maxNodes ({self.max_nodes})")
        if self.desired_nodes is not None and not self.min_nodes <= self.desired_nodes <= self.max_nodes:
            raise ValueError("desiredNodes must lie between minNodes and maxNodes")
        return self


class AwsSettings(ConfigModel):
    vpc_cidr: str = "10.40.0.0/16"
    """CIDR of the VPC the stack creates (private subnets per zone, one NAT gateway per zone in prod)."""
    single_nat_gateway: bool = True
    """One NAT gateway for all zones (cheaper) instead of one per zone (zone-redundant)."""
    kubernetes_version: str = "1.33"
    """EKS control plane version."""


class GcpSettings(ConfigModel):
    project: str = ""
    """GCP project id (required for cloud `gcp`)."""
    subnet_cidr: str = "10.50.0.0/20"
    pods_cidr: str = "10.52.0.0/14"
    services_cidr: str = "10.56.0.0/20"
    master_cidr: str = "172.16.0.32/28"
    """/28 for the GKE control plane's private endpoint."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"


class ExistingClusterSettings(ConfigModel):
    context: str = ""
    """kubeconfig context to use (e.g. kind-leanrag); empty uses the secret `kubeconfig` or the current context."""
    storage_class: str = "standard"
    """StorageClass for persistent volumes (kind: standard)."""
    model_store_uri: str = "pvc://model-store"
    """Where quantized models are kept on a cluster without a bucket: a PersistentVolumeClaim."""


EndpointAccess = Literal["public", "private"]
WayIn = Literal["dnsEndpoint", "inVpc"]


class ApiEndpoint(ConfigModel):
    """Who can reach the cluster's Kubernetes API, and so who can deploy the stack (the program creates the
    Kubernetes objects through it). Nodes always reach it privately."""

    access: EndpointAccess = "private"
    """public: the API's address answers only the CIDRs in allowedCidrs (never 0.0.0.0/0); private: it has no
    public address, deployers come in through wayIn."""
    allowed_cidrs: list[str] = Field(default_factory=list)
    """access public: the networks that may reach the API: your egress IP as a /32 (`curl -s
    https://checkip.amazonaws.com` prints it), your VPN's and your CI runners' egress ranges."""
    way_in: WayIn | None = None
    """access private: dnsEndpoint (GKE only: the control plane's DNS name, authorised by Google IAM, reachable
    from a laptop or a hosted CI runner with Google credentials) or inVpc (deployers run inside the network: a
    self-hosted CI runner, a Pulumi Deployments agent or a VPN). Unset: dnsEndpoint on GKE, inVpc on EKS."""

    def resolved_way_in(self, cloud: str) -> WayIn | None:
        """How deployers reach a private endpoint on `cloud` (the default filled in); None when it is public."""
        if self.access == "public":
            return None
        return self.way_in or ("dnsEndpoint" if cloud == "gcp" else "inVpc")


class ClusterConfig(ConfigModel):
    name: DnsLabel = "leanrag"
    """Cluster name prefix; resources are named after it and the stack."""
    api_endpoint: ApiEndpoint = ApiEndpoint()
    """How deployers (`pulumi up` from a laptop, `pulumi preview` in CI) reach the Kubernetes API (docs/deploy.md)."""
    system_pool: NodePool = NodePool(name="system", instance_type="m7i.xlarge", min_nodes=2, max_nodes=4)
    """CPU pool for system pods, Milvus, Redis, the app and the CPU tier. Unwritten on gcp: instanceType
    n2-standard-4 instead of AWS's m7i.xlarge."""
    gpu_pools: list[NodePool] = Field(default_factory=list)
    """GPU pools; each is tainted for GPU pods only and may scale from zero."""
    aws: AwsSettings = AwsSettings()
    gcp: GcpSettings = GcpSettings()
    existing: ExistingClusterSettings = ExistingClusterSettings()
    ephemeral: bool = False
    """A review stack that `pulumi destroy` removes whole (the benchmark workflow's): the model bucket is
    force-destroyed with its objects and GKE's deletion protection is off. Never for a stack whose bucket holds
    weights or reports you keep."""
