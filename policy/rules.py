"""Cluster policy rules as plain functions over resource properties (engine names, camelCase).

The Pulumi policy pack (policy/pack.py) wraps them; tests call them directly on fixtures and on the
resources the program declares under mocks. Each rule returns violation messages that name the resource
and the fix; an empty list means compliant. The cost rules take the stack's config as well: the budget check
is `stacks.cost.budget_excess`, the same function preflight calls, over the same `monthlyBudgetUsd`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stacks import catalog, cost
from stacks.config import StackConfig

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_INLINE = "aws:iam/rolePolicy:RolePolicy"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"

EKS_WORKER_POLICIES = frozenset(
    {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    }
)
REQUIRED_EKS_LOGS = frozenset({"api", "audit", "authenticator"})
WORLD = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: dict[str, Any]


def _get(props: dict[str, Any], path: str, default: Any = None) -> Any:
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


# --- EKS -----------------------------------------------------------------------------------------------


def eks_endpoint_private(r: Resource) -> list[str]:
    if r.type != EKS_CLUSTER:
        return []
    public = _get(r.props, "vpcConfig.endpointPublicAccess", True)
    cidrs = _get(r.props, "vpcConfig.publicAccessCidrs") or []
    if not public:
        return []
    if not cidrs or any(c in WORLD for c in cidrs):
        return [
            f"EKS cluster {r.name}: the API endpoint is public and open to the internet; set "
            "vpcConfig.endpointPublicAccess=false (cluster.privateEndpoint: true) or restrict "
            "publicAccessCidrs to your networks"
        ]
    return []


def eks_secrets_encryption(r: Resource) -> list[str]:
    if r.type != EKS_CLUSTER:
        return []
    configs = r.props.get("encryptionConfig") or {}
    configs = configs if isinstance(configs, list) else [configs]
    if any("secrets" in (c.get("resources") or []) and _get(c, "provider.keyArn") for c in configs):
        return []
    return [
        f"EKS cluster {r.name}: Kubernetes secrets are not envelope-encrypted; add encryptionConfig "
        "{resources: [secrets], provider.keyArn: <KMS key with rotation>}"
    ]


def eks_control_plane_logging(r: Resource) -> list[str]:
    if r.type != EKS_CLUSTER:
        return []
    missing = REQUIRED_EKS_LOGS - set(r.props.get("enabledClusterLogTypes") or [])
    if missing:
        return [
            f"EKS cluster {r.name}: control-plane logs {sorted(missing)} are off; add them to enabledClusterLogTypes"
        ]
    return []


def imdsv2_hop_limit(r: Resource) -> list[str]:
    if r.type != LAUNCH_TEMPLATE:
        return []
    meta = r.props.get("metadataOptions") or {}
    if meta.get("httpTokens") == "required" and meta.get("httpPutResponseHopLimit") == 1:
        return []
    return [
        f"launch template {r.name}: instance metadata must require IMDSv2 tokens with hop limit 1 "
        "(pods must not reach the node's credentials); set metadataOptions {httpTokens: required, "
        "httpPutResponseHopLimit: 1}"
    ]


def _opens_ssh(from_port: Any, to_port: Any, protocol: Any, cidrs: Iterable[str]) -> bool:
    all_ports = str(protocol) in ("-1", "all")
    covers_22 = all_ports or (from_port is not None and to_port is not None and from_port <= 22 <= to_port)
    return covers_22 and any(c in WORLD for c in cidrs)


def no_ssh_from_world(r: Resource) -> list[str]:
    p = r.props
    rules: list[tuple[Any, Any, Any, list[str]]] = []
    if r.type == SECURITY_GROUP:
        rules = [
            (
                i.get("fromPort"),
                i.get("toPort"),
                i.get("protocol"),
                (i.get("cidrBlocks") or []) + (i.get("ipv6CidrBlocks") or []),
            )
            for i in p.get("ingress") or []
        ]
    elif r.type == SECURITY_GROUP_RULE and p.get("type") == "ingress":
        rules = [
            (
                p.get("fromPort"),
                p.get("toPort"),
                p.get("protocol"),
                (p.get("cidrBlocks") or []) + (p.get("ipv6CidrBlocks") or []),
            )
        ]
    elif r.type == SG_INGRESS_RULE:
        rules = [
            (
                p.get("fromPort"),
                p.get("toPort"),
                p.get("ipProtocol"),
                [c for c in (p.get("cidrIpv4"), p.get("cidrIpv6")) if c],
            )
        ]
    elif r.type == EKS_NODE_GROUP and p.get("remoteAccess") and not _get(p, "remoteAccess.sourceSecurityGroupIds"):
        return [
            f"node group {r.name}: remoteAccess without sourceSecurityGroupIds opens SSH to the world; "
            "remove remoteAccess (use SSM) or restrict it to a security group"
        ]
    if any(_opens_ssh(*rule) for rule in rules):
        return [
            f"{r.type.split(':')[-1]} {r.name}: SSH (22) is open to the internet; restrict the CIDR "
            "or use SSM Session Manager"
        ]
    return []


# --- GKE -----------------------------------------------------------------------------------------------


def _node_configs(r: Resource) -> list[dict[str, Any]]:
    if r.type in (GKE_CLUSTER, GKE_NODE_POOL) and isinstance(r.props.get("nodeConfig"), dict):
        return [r.props["nodeConfig"]]
    return []


def gke_private_nodes(r: Resource) -> list[str]:
    if r.type == GKE_CLUSTER and not _get(r.props, "privateClusterConfig.enablePrivateNodes"):
        return [f"GKE cluster {r.name}: nodes have public IPs; set privateClusterConfig.enablePrivateNodes=true"]
    return []


def gke_workload_identity(r: Resource) -> list[str]:
    out = []
    if r.type == GKE_CLUSTER and not _get(r.props, "workloadIdentityConfig.workloadPool"):
        out.append(
            f"GKE cluster {r.name}: Workload Identity is off; set workloadIdentityConfig.workloadPool "
            "to <project>.svc.id.goog"
        )
    for config in _node_configs(r):
        if _get(config, "workloadMetadataConfig.mode") != "GKE_METADATA":
            out.append(
                f"{r.name}: pods can reach the node's metadata server; set "
                "nodeConfig.workloadMetadataConfig.mode=GKE_METADATA"
            )
    return out


def gke_no_default_service_account(r: Resource) -> list[str]:
    out = []
    for config in _node_configs(r):
        account = config.get("serviceAccount") or "default"
        if account == "default" or str(account).endswith("-compute@developer.gserviceaccount.com"):
            out.append(
                f"{r.name}: nodes run as the Compute Engine default service account (Editor on the "
                "project); set nodeConfig.serviceAccount to a dedicated least-privilege account"
            )
    return out


def gke_shielded_nodes(r: Resource) -> list[str]:
    out = []
    if r.type == GKE_CLUSTER and r.props.get("enableShieldedNodes") is False:
        out.append(f"GKE cluster {r.name}: shielded nodes are off; set enableShieldedNodes=true")
    for config in _node_configs(r):
        if not _get(config, "shieldedInstanceConfig.enableSecureBoot"):
            out.append(f"{r.name}: secure boot is off; set nodeConfig.shieldedInstanceConfig.enableSecureBoot=true")
    return out


def gke_release_channel(r: Resource) -> list[str]:
    if r.type == GKE_CLUSTER and _get(r.props, "releaseChannel.channel") not in ("RAPID", "REGULAR", "STABLE"):
        return [
            f"GKE cluster {r.name}: no release channel, so no managed upgrades; set releaseChannel.channel "
            "to REGULAR or STABLE"
        ]
    return []


def gke_network_policy(r: Resource) -> list[str]:
    if r.type != GKE_CLUSTER:
        return []
    if r.props.get("datapathProvider") == "ADVANCED_DATAPATH" or _get(r.props, "networkPolicy.enabled"):
        return []
    return [
        f"GKE cluster {r.name}: NetworkPolicies are not enforced; set datapathProvider=ADVANCED_DATAPATH "
        "(Dataplane V2) or networkPolicy.enabled=true"
    ]


def gke_database_encryption(r: Resource) -> list[str]:
    if r.type != GKE_CLUSTER:
        return []
    if _get(r.props, "databaseEncryption.state") == "ENCRYPTED" and _get(r.props, "databaseEncryption.keyName"):
        return []
    return [
        f"GKE cluster {r.name}: secrets in etcd are not encrypted with Cloud KMS; set databaseEncryption "
        "{state: ENCRYPTED, keyName: <crypto key>}"
    ]


# --- GPUs ----------------------------------------------------------------------------------------------


def _gpu_taint(taints: list[dict[str, Any]] | None) -> bool:
    return any(
        t.get("key") == "nvidia.com/gpu" and t.get("effect") in ("NO_SCHEDULE", "NoSchedule") for t in taints or []
    )


def gpu_pools_tainted(r: Resource) -> list[str]:
    if r.type == EKS_NODE_GROUP:
        types = r.props.get("instanceTypes") or []
        has_gpu = "NVIDIA" in str(r.props.get("amiType", "")) or any(
            (s := catalog.instances("aws").get(t)) is not None and s.gpu for t in types
        )
        if has_gpu and not _gpu_taint(r.props.get("taints")):
            return [
                f"node group {r.name}: GPU nodes are not tainted, so any pod can land on them; add taint "
                "nvidia.com/gpu=present:NO_SCHEDULE"
            ]
    for config in _node_configs(r):
        if r.type == GKE_NODE_POOL and config.get("guestAccelerators") and not _gpu_taint(config.get("taints")):
            return [
                f"node pool {r.name}: GPU nodes are not tainted; add nodeConfig.taints "
                "nvidia.com/gpu=present:NO_SCHEDULE"
            ]
    return []


def stack_cost_cap(cfg: StackConfig) -> list[str]:
    """The stack at maxNodes within monthlyBudgetUsd: the same check and number as preflight's."""
    excess = cost.budget_excess(cfg)
    return [f"{excess.message}; {excess.fix}"] if excess else []


def _pool_of(r: Resource) -> tuple[str, int, int, bool] | None:
    """(instance type, min, max, spot) of a node group / node pool resource."""
    if r.type == EKS_NODE_GROUP:
        return (
            (r.props.get("instanceTypes") or [""])[0],
            int(_get(r.props, "scalingConfig.minSize", 0)),
            int(_get(r.props, "scalingConfig.maxSize", 0)),
            r.props.get("capacityType") == "SPOT",
        )
    if r.type == GKE_NODE_POOL:
        return (
            _get(r.props, "nodeConfig.machineType", ""),
            int(_get(r.props, "autoscaling.totalMinNodeCount", 0)),
            int(_get(r.props, "autoscaling.totalMaxNodeCount", 0)),
            bool(_get(r.props, "nodeConfig.spot", False)),
        )
    return None


def pools_priced(resources: Iterable[Resource], cfg: StackConfig) -> list[str]:
    """Every node group / pool the stack declares is one the cost estimate priced (same instance type, bounds
    and capacity type), so the budget check is about what will run."""
    priced = {
        (p.instance_type, p.min_nodes, p.max_nodes, p.spot) for p in (cfg.cluster.system_pool, *cfg.cluster.gpu_pools)
    }
    out = []
    for r in resources:
        pool = _pool_of(r)
        if pool is not None and pool not in priced:
            kind, low, high, spot = pool
            out.append(
                f"{r.type.split(':')[-1]} {r.name}: {kind} {low}..{high} nodes{' spot' if spot else ''} is not a pool "
                "of the stack config, so the cost estimate does not count it; declare pools only from "
                "cluster.systemPool / cluster.gpuPools"
            )
    return out


def node_role_least_privilege(resources: Iterable[Resource]) -> list[str]:
    """Roles that EC2 nodes assume carry only the three EKS worker policies and nothing inline."""
    resources = list(resources)
    node_roles = {}
    for r in resources:
        if r.type == IAM_ROLE:
            trust = r.props.get("assumeRolePolicy") or "{}"
            trust = json.loads(trust) if isinstance(trust, str) else trust
            principals = [_get(s, "Principal.Service") for s in trust.get("Statement", [])]
            if "ec2.amazonaws.com" in principals:
                node_roles[r.props.get("name") or r.name] = r
    out = []
    for role_name, role in node_roles.items():
        extra = set(role.props.get("managedPolicyArns") or []) - EKS_WORKER_POLICIES
        for r in resources:
            if r.props.get("role") in (role_name, role.name):
                if r.type == IAM_ATTACHMENT and r.props.get("policyArn") not in EKS_WORKER_POLICIES:
                    extra.add(r.props.get("policyArn"))
                elif r.type == IAM_INLINE:
                    extra.add(f"inline policy {r.name}")
        if extra:
            out.append(
                f"node role {role.name}: has {sorted(map(str, extra))} beyond the three EKS worker "
                "policies; give workloads their own role through Pod Identity instead"
            )
    return out


RESOURCE_RULES: dict[str, tuple[str, Callable[[Resource], list[str]]]] = {
    "eks-endpoint-private": ("EKS API endpoint private, or public only to listed CIDRs", eks_endpoint_private),
    "eks-secrets-encryption": ("EKS secrets encrypted with a KMS key", eks_secrets_encryption),
    "eks-control-plane-logging": ("EKS api/audit/authenticator logs on", eks_control_plane_logging),
    "imdsv2-hop-limit-1": ("Nodes require IMDSv2 with hop limit 1", imdsv2_hop_limit),
    "no-ssh-from-world": ("No SSH from 0.0.0.0/0", no_ssh_from_world),
    "gke-private-nodes": ("GKE nodes without public IPs", gke_private_nodes),
    "gke-workload-identity": ("Workload Identity and the GKE metadata server", gke_workload_identity),
    "gke-no-default-service-account": ("GKE nodes never use the default account", gke_no_default_service_account),
    "gke-shielded-nodes": ("Shielded GKE nodes with secure boot", gke_shielded_nodes),
    "gke-release-channel": ("GKE on a release channel", gke_release_channel),
    "gke-network-policy": ("GKE enforces NetworkPolicy", gke_network_policy),
    "gke-database-encryption": ("GKE etcd secrets encrypted with Cloud KMS", gke_database_encryption),
    "gpu-pools-tainted": ("GPU pools tainted nvidia.com/gpu NoSchedule", gpu_pools_tainted),
}


def check_all(resources: list[Resource], cfg: StackConfig) -> list[str]:
    """Every violation in a whole stack: resource rules plus the stack rules (cost from the stack config)."""
    out = [msg for r in resources for _, rule in RESOURCE_RULES.values() for msg in rule(r)]
    return out + node_role_least_privilege(resources) + pools_priced(resources, cfg) + stack_cost_cap(cfg)
