"""GKE Standard with GPU node pools that scale from zero, Workload Identity and a versioned model bucket."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.cluster import kubeconfig
from components.cluster.base import (
    ACCELERATOR_LABEL,
    GPU_TAINT,
    POOL_LABEL,
    ClusterOutputs,
    cpu_placement,
    gpu_placement,
)
from stacks.config.cluster import ApiEndpoint, GcpSettings, NodePool

NODE_ROLES = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
]
"""The minimum a GKE node needs (Google's hardening guide); never the Compute Engine default account."""


@dataclass(frozen=True)
class GkeGpuPool:
    pool: NodePool
    gpu: str
    accelerator_type: str
    gpus_per_node: int


@dataclass
class GcpGpuClusterArgs:
    project: str
    region: str
    zones: list[str]
    api_endpoint: ApiEndpoint
    """public: the IP endpoint answers allowedCidrs only; private: no public IP, deployers come in through the
    DNS-based endpoint (wayIn dnsEndpoint, Google IAM) or from inside the VPC (inVpc)."""
    system_pool: NodePool
    gpu_pools: list[GkeGpuPool]
    settings: GcpSettings
    workload_service_accounts: list[tuple[str, str]]
    labels: dict[str, str] = field(default_factory=dict)
    proxy_only_cidr: str | None = None
    """The region's proxy-only subnet, needed by GKE's managed internal L7 gateway (llm-d mode)."""
    ephemeral: bool = False
    """cluster.ephemeral: no deletion protection, and `pulumi destroy` deletes the model bucket with its objects."""


class GcpGpuCluster(pulumi.ComponentResource):
    """A private GKE Standard cluster for LLM serving.

    Outputs: `outputs` (ClusterOutputs), `cluster_name`, `bucket_name`.
    """

    outputs: ClusterOutputs

    def __init__(self, name: str, args: GcpGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:cluster:GcpGpuCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args.project
        labels = {"leanrag-stack": name, **args.labels}

        network = gcp.compute.Network(f"{name}-net", project=project, auto_create_subnetworks=False, opts=child)
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            project=project,
            region=args.region,
            network=network.id,
            ip_cidr_range=args.settings.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": args.settings.pods_cidr},
                {"range_name": "services", "ip_cidr_range": args.settings.services_cidr},
            ],
            opts=child,
        )
        if args.proxy_only_cidr:
            gcp.compute.Subnetwork(
                f"{name}-proxy-only",
                project=project,
                region=args.region,
                network=network.id,
                ip_cidr_range=args.proxy_only_cidr,
                purpose="REGIONAL_MANAGED_PROXY",
                role="ACTIVE",
                opts=child,
            )
        router = gcp.compute.Router(
            f"{name}-router", project=project, region=args.region, network=network.id, opts=child
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        project_number = gcp.organizations.get_project_output(project_id=project).number
        key_ring = gcp.kms.KeyRing(f"{name}-keys", project=project, location=args.region, opts=child)
        key = gcp.kms.CryptoKey(
            f"{name}-secrets", key_ring=key_ring.id, rotation_period="7776000s", purpose="ENCRYPT_DECRYPT", opts=child
        )
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project_number.apply(
                lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"
            ),
            opts=child,
        )

        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=project,
            account_id=f"{name}-nodes"[:30],
            display_name=f"{name} GKE nodes (least privilege)",
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=project,
                role=role,
                member=node_sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )

        endpoint = args.api_endpoint
        public = endpoint.access == "public"
        via_dns = endpoint.resolved_way_in("gcp") == "dnsEndpoint"
        authorized = [{"cidr_block": c, "display_name": c} for c in endpoint.allowed_cidrs] if public else []
        cluster = gcp.container.Cluster(
            f"{name}-gke",
            project=project,
            location=args.region,
            node_locations=args.zones,
            network=network.id,
            subnetwork=subnet.id,
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=self._node_config(node_sa, args.system_pool, None, labels),
            release_channel={"channel": args.settings.release_channel},
            workload_identity_config={"workload_pool": f"{project}.svc.id.goog"},
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": not public,
                "master_ipv4_cidr_block": args.settings.master_cidr,
            },
            # public: only the listed networks, not every Google Cloud address; private: the VPC
            master_authorized_networks_config={"cidr_blocks": authorized, "gcp_public_cidrs_access_enabled": False}
            if public
            else None,
            # the DNS-based endpoint: IAM (container.clusters.connect) decides, from any network
            control_plane_endpoints_config={"dns_endpoint_config": {"allow_external_traffic": via_dns}},
            ip_allocation_policy={"cluster_secondary_range_name": "pods", "services_secondary_range_name": "services"},
            datapath_provider="ADVANCED_DATAPATH",
            database_encryption={"state": "ENCRYPTED", "key_name": key.id},
            enable_shielded_nodes=True,
            gateway_api_config={"channel": "CHANNEL_STANDARD"},
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"]},
            monitoring_config={
                "enable_components": ["SYSTEM_COMPONENTS", "DCGM"],
                "managed_prometheus": {"enabled": True},
            },
            resource_labels=labels,
            deletion_protection=not args.ephemeral,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key_grant]),
        )
        pools = [self._node_pool(name, cluster, node_sa, args.system_pool, None, args.zones, labels)]
        pools += [self._node_pool(name, cluster, node_sa, g.pool, g, args.zones, labels) for g in args.gpu_pools]

        bucket = gcp.storage.Bucket(
            f"{name}-models",
            project=project,
            location=args.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=args.ephemeral,
            versioning={"enabled": True},
            labels=labels,
            opts=child,
        )
        annotations = self._bucket_access(name, project, bucket, args.workload_service_accounts)

        kubeconfig_json: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
                lambda v: kubeconfig.gke(v[0], v[1], v[2])
            )
            if not via_dns
            else pulumi.Output.all(cluster.name, cluster.control_plane_endpoints_config).apply(
                lambda v: kubeconfig.gke_dns(v[0], v[1]["dns_endpoint_config"]["endpoint"])
            )
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig_json,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=pools),
        )

        self.cluster_name = cluster.name
        self.bucket_name = bucket.name
        self.outputs = ClusterOutputs(
            kubeconfig=kubeconfig_json,
            provider=provider,
            model_store_uri=pulumi.Output.concat("gs://", bucket.name),
            service_account_annotations=annotations,
            system=cpu_placement(args.system_pool.name),
            gpu_pools={g.pool.name: gpu_placement(g.pool.name, g.gpu, g.gpus_per_node) for g in args.gpu_pools},
            ready=list(pools),
        )
        self.register_outputs(
            {"clusterName": self.cluster_name, "bucketName": self.bucket_name, **self.outputs.as_dict()}
        )

    @staticmethod
    def _node_config(
        sa: gcp.serviceaccount.Account, pool: NodePool, gpu: GkeGpuPool | None, labels: dict[str, str]
    ) -> dict[str, object]:
        config: dict[str, object] = {
            "machine_type": pool.instance_type,
            "disk_size_gb": pool.disk_gb,
            "disk_type": "pd-balanced",
            "spot": pool.spot,
            "service_account": sa.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "labels": {POOL_LABEL: pool.name, **({ACCELERATOR_LABEL: gpu.gpu} if gpu else {})},
            "resource_labels": labels,
            "metadata": {"disable-legacy-endpoints": "true"},
        }
        if gpu:
            config["guest_accelerators"] = [
                {
                    "type": gpu.accelerator_type,
                    "count": gpu.gpus_per_node,
                    "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
                }
            ]
            config["taints"] = [{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": "NO_SCHEDULE"}]
        return config

    def _node_pool(
        self,
        name: str,
        cluster: gcp.container.Cluster,
        sa: gcp.serviceaccount.Account,
        pool: NodePool,
        gpu: GkeGpuPool | None,
        zones: list[str],
        labels: dict[str, str],
    ) -> gcp.container.NodePool:
        return gcp.container.NodePool(
            f"{name}-{pool.name}",
            cluster=cluster.id,
            node_locations=zones,
            initial_node_count=pool.desired_nodes if pool.desired_nodes is not None else pool.min_nodes,
            autoscaling={
                "total_min_node_count": pool.min_nodes,
                "total_max_node_count": pool.max_nodes,
                "location_policy": "ANY" if pool.spot else "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config=self._node_config(sa, pool, gpu, labels),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )

    def _bucket_access(
        self, name: str, project: str, bucket: gcp.storage.Bucket, service_accounts: list[tuple[str, str]]
    ) -> pulumi.Output[dict[str, str]]:
        """A Google service account for workloads, bound to the Kubernetes ones by Workload Identity."""
        child = pulumi.ResourceOptions(parent=self)
        gsa = gcp.serviceaccount.Account(
            f"{name}-model-store",
            project=project,
            account_id=f"{name}-model-store"[:30],
            display_name=f"{name} model store access",
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-model-store-rw",
            bucket=bucket.name,
            role="roles/storage.objectUser",
            member=gsa.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=child,
        )
        for namespace, account in service_accounts:
            gcp.serviceaccount.IAMMember(
                f"{name}-{namespace}-{account}-wi",
                service_account_id=gsa.name,
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{project}.svc.id.goog[{namespace}/{account}]",
                opts=child,
            )
        return gsa.email.apply(lambda e: {"iam.gke.io/gcp-service-account": e})
