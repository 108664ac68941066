"""EKS with GPU node groups that scale from zero, a versioned encrypted model bucket and Pod Identity.

The VPC comes from awsx (private subnets per zone behind NAT). The EKS control plane, node groups and
IAM are plain pulumi-aws resources rather than pulumi-eks: each security-relevant input (endpoint access,
KMS encryption, logging, IMDSv2, node role policies) is then a property of a resource that the policy pack
and the SDK's mocks can both see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster import kubeconfig
from components.cluster.addons import AUTOSCALER_SERVICE_ACCOUNT, cluster_autoscaler_values, gpu_node_addons
from components.cluster.base import (
    ACCELERATOR_LABEL,
    GPU_TAINT,
    POOL_LABEL,
    ClusterOutputs,
    Placement,
    cpu_placement,
    gpu_placement,
)
from stacks.config.cluster import AwsSettings, NodePool

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
WORKER_NODE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
]
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
_POD_IDENTITY_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@dataclass(frozen=True)
class GpuPool:
    pool: NodePool
    gpu: str
    gpus_per_node: int


@dataclass
class AwsGpuClusterArgs:
    region: str
    zones: list[str]
    private_endpoint: bool
    public_access_cidrs: list[str]
    system_pool: NodePool
    gpu_pools: list[GpuPool]
    settings: AwsSettings
    workload_service_accounts: list[tuple[str, str]]
    """(namespace, serviceaccount) pairs that get read/write access to the model bucket."""
    tags: dict[str, str] = field(default_factory=dict)


class AwsGpuCluster(pulumi.ComponentResource):
    """An EKS cluster for LLM serving.

    Outputs: `outputs` (ClusterOutputs), `cluster_name`, `bucket_name`.
    """

    outputs: ClusterOutputs

    def __init__(self, name: str, args: AwsGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:cluster:AwsGpuCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"leanrag:stack": name, **args.tags}

        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name}: EKS secrets and model bucket encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.settings.vpc_cidr,
            availability_zone_names=args.zones,
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy.SINGLE
                if args.settings.single_nat_gateway
                else awsx.ec2.NatGatewayStrategy.ONE_PER_AZ
            ),
            subnet_specs=[
                awsx.ec2.SubnetSpecArgs(
                    type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=19, tags={"kubernetes.io/role/internal-elb": "1"}
                ),
                awsx.ec2.SubnetSpecArgs(
                    type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=22, tags={"kubernetes.io/role/elb": "1"}
                ),
            ],
            enable_dns_hostnames=True,
            tags=tags,
            opts=child,
        )

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role", assume_role_policy=_trust("eks.amazonaws.com"), tags=tags, opts=child
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            role_arn=cluster_role.arn,
            version=args.settings.kubernetes_version,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=vpc.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=not args.private_endpoint,
                public_access_cidrs=None if args.private_endpoint else args.public_access_cidrs,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn)
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy]),
        )
        pod_identity = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            addon_version=versions.EKS_ADDON_POD_IDENTITY,
            opts=child,
        )

        node_role = aws.iam.Role(
            f"{name}-node-role", assume_role_policy=_trust("ec2.amazonaws.com"), tags=tags, opts=child
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[1]}", role=node_role.name, policy_arn=arn, opts=child
            )
            for arn in WORKER_NODE_POLICIES
        ]
        node_groups = [self._node_group(name, cluster, node_role, vpc, key, args.system_pool, None, tags, attachments)]
        node_groups += [
            self._node_group(name, cluster, node_role, vpc, key, g.pool, g, tags, attachments) for g in args.gpu_pools
        ]

        bucket = aws.s3.Bucket(f"{name}-models", force_destroy=False, tags=tags, opts=child)
        aws.s3.BucketVersioning(
            f"{name}-models-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-models-sse",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-models-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self._bucket_access(name, cluster, bucket, key, args.workload_service_accounts, tags, pod_identity)

        kubeconfig_json: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: kubeconfig.eks(v[0], v[1], v[2], args.region)
            )
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig_json,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )
        ready: list[pulumi.Resource] = list(node_groups)
        ready += self._block_storage(name, cluster, key, provider, pod_identity, tags, node_groups)
        self._autoscaler(
            name, cluster, args.region, args.settings.kubernetes_version, provider, pod_identity, tags, ready
        )
        if args.gpu_pools:
            ready += gpu_node_addons(name, [g.pool.name for g in args.gpu_pools], self, provider, node_groups)

        gpu_placements: dict[str, Placement] = {
            g.pool.name: gpu_placement(g.pool.name, g.gpu, g.gpus_per_node) for g in args.gpu_pools
        }
        self.cluster_name = cluster.name
        self.bucket_name = bucket.bucket
        self.outputs = ClusterOutputs(
            kubeconfig=kubeconfig_json,
            provider=provider,
            model_store_uri=pulumi.Output.concat("s3://", bucket.bucket),
            service_account_annotations=pulumi.Output.from_input({}),
            system=cpu_placement(args.system_pool.name),
            gpu_pools=gpu_placements,
            ready=ready,
        )
        self.register_outputs(
            {"clusterName": self.cluster_name, "bucketName": self.bucket_name, **self.outputs.as_dict()}
        )

    def _node_group(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        role: aws.iam.Role,
        vpc: awsx.ec2.Vpc,
        key: aws.kms.Key,
        pool: NodePool,
        gpu: GpuPool | None,
        tags: dict[str, str],
        after: Sequence[pulumi.Resource],
    ) -> aws.eks.NodeGroup:
        child = pulumi.ResourceOptions(parent=self)
        template = aws.ec2.LaunchTemplate(
            f"{name}-{pool.name}-lt",
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": pool.disk_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "kms_key_id": key.arn,
                        "delete_on_termination": "true",
                    },
                }
            ],
            tag_specifications=[{"resource_type": "instance", "tags": {**tags, "Name": f"{name}-{pool.name}"}}],
            tags=tags,
            opts=child,
        )
        labels = {POOL_LABEL: pool.name, **({ACCELERATOR_LABEL: gpu.gpu} if gpu else {})}
        taints = [{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": "NO_SCHEDULE"}] if gpu else []
        autoscaler_tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
        if gpu:
            autoscaler_tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] = "present:NoSchedule"
            autoscaler_tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] = str(gpu.gpus_per_node)
        return aws.eks.NodeGroup(
            f"{name}-{pool.name}",
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=vpc.private_subnet_ids,
            instance_types=[pool.instance_type],
            capacity_type="SPOT" if pool.spot else "ON_DEMAND",
            ami_type="AL2023_x86_64_NVIDIA" if gpu else "AL2023_x86_64_STANDARD",
            scaling_config={
                "min_size": pool.min_nodes,
                "max_size": pool.max_nodes,
                "desired_size": pool.desired_nodes if pool.desired_nodes is not None else pool.min_nodes,
            },
            update_config={"max_unavailable": 1},
            labels=labels,
            taints=taints,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            tags={**tags, **autoscaler_tags, "k8s.io/cluster-autoscaler/enabled": "true"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=after, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _bucket_access(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        service_accounts: list[tuple[str, str]],
        tags: dict[str, str],
        agent: aws.eks.Addon,
    ) -> None:
        """Least privilege: the workload role may list the bucket and read/write its objects, nothing else."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-model-store-role", assume_role_policy=_POD_IDENTITY_TRUST, tags=tags, opts=child)
        policy = pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": a[0]},
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                            "Resource": f"{a[0]}/*",
                        },
                        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": a[1]},
                    ],
                }
            )
        )
        aws.iam.RolePolicy(f"{name}-model-store-policy", role=role.id, policy=policy, opts=child)
        for namespace, account in service_accounts:
            aws.eks.PodIdentityAssociation(
                f"{name}-{namespace}-{account}",
                cluster_name=cluster.name,
                namespace=namespace,
                service_account=account,
                role_arn=role.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[agent]),
            )

    def _block_storage(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        key: aws.kms.Key,
        provider: k8s.Provider,
        agent: aws.eks.Addon,
        tags: dict[str, str],
        node_groups: Sequence[pulumi.Resource],
    ) -> list[pulumi.Resource]:
        """The EBS CSI driver (EKS add-on, Pod Identity) and an encrypted gp3 default StorageClass, so the
        PersistentVolumeClaims of Milvus and Redis bind."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-ebs-csi-role", assume_role_policy=_POD_IDENTITY_TRUST, tags=tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ebs-csi-policy", role=role.name, policy_arn=EBS_CSI_POLICY, opts=child)
        aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=role.id,
            policy=key.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Resource": arn,
                                "Action": [
                                    "kms:CreateGrant",
                                    "kms:Decrypt",
                                    "kms:DescribeKey",
                                    "kms:Encrypt",
                                    "kms:GenerateDataKeyWithoutPlaintext",
                                    "kms:ReEncryptFrom",
                                    "kms:ReEncryptTo",
                                ],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        addon = aws.eks.Addon(
            f"{name}-ebs-csi-driver",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            addon_version=versions.EKS_ADDON_EBS_CSI,
            pod_identity_associations=[{"role_arn": role.arn, "service_account": "ebs-csi-controller-sa"}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[agent, *node_groups]),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": "gp3-encrypted", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com",
            parameters=key.arn.apply(lambda arn: {"type": "gp3", "encrypted": "true", "kmsKeyId": arn}),
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[addon]),
        )
        return [addon, storage_class]

    def _autoscaler(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        region: str,
        kubernetes_version: str,
        provider: k8s.Provider,
        agent: aws.eks.Addon,
        tags: dict[str, str],
        ready: list[pulumi.Resource],
    ) -> None:
        """cluster-autoscaler, so node groups (GPU ones included) scale up from zero on pending pods."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-autoscaler-role", assume_role_policy=_POD_IDENTITY_TRUST, tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-autoscaler-policy",
            role=role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Resource": "*",
                            "Action": [
                                "autoscaling:DescribeAutoScalingGroups",
                                "autoscaling:DescribeAutoScalingInstances",
                                "autoscaling:DescribeLaunchConfigurations",
                                "autoscaling:DescribeScalingActivities",
                                "autoscaling:DescribeTags",
                                "ec2:DescribeImages",
                                "ec2:DescribeInstanceTypes",
                                "ec2:DescribeLaunchTemplateVersions",
                                "ec2:GetInstanceTypesFromInstanceRequirements",
                                "eks:DescribeNodegroup",
                            ],
                        },
                        {
                            "Effect": "Allow",
                            "Resource": "*",
                            "Action": [
                                "autoscaling:SetDesiredCapacity",
                                "autoscaling:TerminateInstanceInAutoScalingGroup",
                            ],
                            "Condition": {
                                "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}
                            },
                        },
                    ],
                }
            ),
            opts=child,
        )
        association = aws.eks.PodIdentityAssociation(
            f"{name}-cluster-autoscaler",
            cluster_name=cluster.name,
            namespace="kube-system",
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[agent]),
        )
        ready.append(
            kube.helm_release(
                f"{name}-cluster-autoscaler",
                versions.CLUSTER_AUTOSCALER,
                "kube-system",
                cluster_autoscaler_values(cluster.name, region, kubernetes_version),
                pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[association, *ready]),
            )
        )
