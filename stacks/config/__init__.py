"""The typed stack configuration: the one source of truth for every stack.

The entry point reads Pulumi config once into `StackConfig`; components receive only their slice.
Keys are camelCase in Pulumi.<stack>.yaml (e.g. `leanrag:serving: {mode: llm-d}`).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from stacks.config.base import DNS_LABEL, ConfigModel
from stacks.config.cluster import CloudName, ClusterConfig, NodePool
from stacks.config.images import WorkloadImages
from stacks.config.jobs import JobsConfig
from stacks.config.monitoring import MonitoringConfig
from stacks.config.platform import ACM_CERTIFICATE_ARN, HOSTNAME, PlatformConfig
from stacks.config.serving import ModelConfig, ServingConfig

NAMESPACE = "leanrag"
"""Pulumi config namespace of this project's keys (`leanrag:<key>`)."""

SECRET_KEYS = {
    "hfToken": "Hugging Face token for gated models (meta-llama/*)",
    "kubeconfig": "kubeconfig of an existing cluster (cloud: existing)",
}
"""Secret config keys: set with `pulumi config set --secret leanrag:<key> ...`; never in plain text."""


PATTERN_MEANINGS = {
    DNS_LABEL: "a name of lowercase letters, digits and '-', starting with a letter and ending with a letter or "
    "digit, at most 40 characters (e.g. llama-3-1-8b)",
    HOSTNAME: "a lowercase DNS hostname such as rag.example.com (no scheme, port or path)",
    ACM_CERTIFICATE_ARN: "an ACM certificate ARN: arn:aws:acm:REGION:ACCOUNT-ID:certificate/ID",
}
"""What a value of each pattern in the schema looks like, for errors (stacks/load.py)."""

GCP_SYSTEM_POOL_TYPE = "n2-standard-4"
"""The system pool's machine type on gcp when `cluster.systemPool` is not written."""


class StackConfig(ConfigModel):
    cloud: CloudName
    """aws (EKS), gcp (GKE) or existing (any kubeconfig, e.g. kind)."""
    region: str = ""
    """Cloud region, e.g. us-east-1 or us-central1 (unused for existing)."""
    zones: list[str] = Field(default_factory=list)
    """Zones for subnets and node pools; empty uses the first zones of the region (a, b, c)."""
    cluster: ClusterConfig = ClusterConfig()
    serving: ServingConfig = ServingConfig()
    platform: PlatformConfig = PlatformConfig()
    jobs: JobsConfig = JobsConfig()
    workload_images: WorkloadImages = WorkloadImages()
    """Registry and tag of the images built from this repository (docs/images.md)."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Prometheus for autoscaling and dashboards, and the Grafana dashboards (docs/monitoring.md)."""
    monthly_budget_usd: int = Field(default=5000, gt=0)
    """Cap on the stack's monthly cost: every pool at maxNodes plus control plane, NAT, load balancer, bucket and
    volumes (stacks/cost.py, printed by the offline plan) must stay within it; preflight and the policy pack check."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra tags/labels put on every cloud resource (e.g. team, cost-center)."""

    @model_validator(mode="after")
    def _system_pool_of_the_cloud(self) -> StackConfig:
        """An unwritten `cluster.systemPool` takes the cloud's machine type: its default is AWS's m7i.xlarge, which
        GKE has not; on gcp it is n2-standard-4 (the same 4 vCPUs and 16 GiB)."""
        if self.cloud == "gcp" and "system_pool" not in self.cluster.model_fields_set:
            pool = self.cluster.system_pool.model_copy(update={"instance_type": GCP_SYSTEM_POOL_TYPE})
            object.__setattr__(self, "cluster", self.cluster.model_copy(update={"system_pool": pool}))
        return self

    def pool(self, name: str) -> NodePool | None:
        pools = [self.cluster.system_pool, *self.cluster.gpu_pools]
        return next((p for p in pools if p.name == name), None)

    def effective_zones(self) -> list[str]:
        if self.zones:
            return list(self.zones)
        return [f"{self.region}-{z}" if self.cloud == "gcp" else f"{self.region}{z}" for z in "abc"]


__all__ = ["NAMESPACE", "SECRET_KEYS", "ModelConfig", "NodePool", "StackConfig"]
