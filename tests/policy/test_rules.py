"""Every policy rule on a passing and a failing fixture, and on the stacks the program declares."""

import copy

import pytest

from infra.plan import plain
from policy import rules
from policy.rules import Resource
from stacks import cost
from stacks.load import validated
from tests.renderkit import run_stack, stack_values

EKS_OK = Resource(
    rules.EKS_CLUSTER,
    "eks",
    {
        "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "scheduler"],
    },
)
GKE_OK = Resource(
    rules.GKE_CLUSTER,
    "gke",
    {
        "privateClusterConfig": {"enablePrivateNodes": True},
        "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
        "enableShieldedNodes": True,
        "releaseChannel": {"channel": "REGULAR"},
        "datapathProvider": "ADVANCED_DATAPATH",
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
        "nodeConfig": {
            "serviceAccount": "n@p.iam.gserviceaccount.com",
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            "shieldedInstanceConfig": {"enableSecureBoot": True},
        },
    },
)
POOL_OK = Resource(
    rules.GKE_NODE_POOL,
    "gpu",
    {
        "nodeConfig": {
            **GKE_OK.props["nodeConfig"],
            "machineType": "g2-standard-8",
            "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
        },
        "autoscaling": {"totalMaxNodeCount": 2},
    },
)
NODEGROUP_OK = Resource(
    rules.EKS_NODE_GROUP,
    "gpu",
    {
        "instanceTypes": ["g6.xlarge"],
        "amiType": "AL2023_x86_64_NVIDIA",
        "scalingConfig": {"maxSize": 2},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
    },
)
LT_OK = Resource(
    rules.LAUNCH_TEMPLATE, "lt", {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}}
)


def changed(resource: Resource, path: str, value) -> Resource:
    props = copy.deepcopy(resource.props)
    node = props
    *parents, last = path.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return Resource(resource.type, resource.name, props)


CASES = [
    (rules.eks_endpoint_private, EKS_OK, "vpcConfig.endpointPublicAccess", True, "open to the internet"),
    (rules.eks_secrets_encryption, EKS_OK, "encryptionConfig", None, "not envelope-encrypted"),
    (rules.eks_control_plane_logging, EKS_OK, "enabledClusterLogTypes", ["api"], "['audit', 'authenticator']"),
    (rules.imdsv2_hop_limit, LT_OK, "metadataOptions.httpPutResponseHopLimit", 2, "hop limit 1"),
    (rules.gke_private_nodes, GKE_OK, "privateClusterConfig.enablePrivateNodes", False, "public IPs"),
    (rules.gke_workload_identity, GKE_OK, "nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA", "GKE_METADATA"),
    (rules.gke_workload_identity, GKE_OK, "workloadIdentityConfig", None, "Workload Identity is off"),
    (
        rules.gke_no_default_service_account,
        POOL_OK,
        "nodeConfig.serviceAccount",
        "123-compute@developer.gserviceaccount.com",
        "default service account",
    ),
    (rules.gke_shielded_nodes, GKE_OK, "nodeConfig.shieldedInstanceConfig.enableSecureBoot", False, "secure boot"),
    (rules.gke_release_channel, GKE_OK, "releaseChannel.channel", "UNSPECIFIED", "release channel"),
    (rules.gke_network_policy, GKE_OK, "datapathProvider", "LEGACY_DATAPATH", "NetworkPolicies are not enforced"),
    (rules.gke_database_encryption, GKE_OK, "databaseEncryption.state", "DECRYPTED", "Cloud KMS"),
    (rules.gpu_pools_tainted, NODEGROUP_OK, "taints", [], "not tainted"),
    (rules.gpu_pools_tainted, POOL_OK, "nodeConfig.taints", None, "not tainted"),
]


@pytest.mark.parametrize(("rule", "good", "path", "value", "expected"), CASES)
def test_rule_passes_good_and_catches_bad_with_name_and_fix(rule, good, path, value, expected):
    assert rule(good) == []
    bad = changed(good, path, value)
    (message,) = rule(bad)
    assert expected in message and good.name in message


def test_public_endpoint_restricted_to_cidrs_passes():
    ok = changed(
        changed(EKS_OK, "vpcConfig.endpointPublicAccess", True), "vpcConfig.publicAccessCidrs", ["198.51.100.0/24"]
    )
    assert rules.eks_endpoint_private(ok) == []
    assert rules.eks_endpoint_private(changed(ok, "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"]))


@pytest.mark.parametrize(
    "resource",
    [
        Resource(
            rules.SECURITY_GROUP,
            "sg",
            {"ingress": [{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]},
        ),
        Resource(
            rules.SECURITY_GROUP_RULE,
            "r",
            {"type": "ingress", "fromPort": 0, "toPort": 65535, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]},
        ),
        Resource(
            rules.SG_INGRESS_RULE, "i", {"fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "cidrIpv4": "0.0.0.0/0"}
        ),
        Resource(rules.EKS_NODE_GROUP, "ng", {"remoteAccess": {"ec2SshKey": "k"}}),
    ],
)
def test_ssh_from_the_world_is_caught(resource):
    assert "SSH" in rules.no_ssh_from_world(resource)[0]


def test_ssh_from_a_private_range_passes():
    sg = Resource(
        rules.SECURITY_GROUP,
        "sg",
        {"ingress": [{"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/8"]}]},
    )
    assert rules.no_ssh_from_world(sg) == []


def test_node_role_with_an_extra_policy_is_caught():
    role = Resource(
        rules.IAM_ROLE,
        "node-role",
        {
            "name": "node-role",
            "assumeRolePolicy": (
                '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
                '"Action": "sts:AssumeRole"}]}'
            ),
        },
    )
    good = [role] + [
        Resource(rules.IAM_ATTACHMENT, f"a{i}", {"role": "node-role", "policyArn": arn})
        for i, arn in enumerate(sorted(rules.EKS_WORKER_POLICIES))
    ]
    assert rules.node_role_least_privilege(good) == []
    bad = [
        *good,
        Resource(
            rules.IAM_ATTACHMENT, "s3", {"role": "node-role", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}
        ),
    ]
    (message,) = rules.node_role_least_privilege(bad)
    assert "AmazonS3FullAccess" in message and "node-role" in message


def _config(stack: str, **changes):
    return validated({**stack_values(stack), **changes})


def test_cost_cap_is_the_stack_estimate_against_the_stacks_budget():
    dev = _config("dev")
    assert rules.stack_cost_cap(dev) == []  # $1,114 at maxNodes within $1,500
    top = cost.estimate(dev).max_usd
    (message,) = rules.stack_cost_cap(_config("dev", monthlyBudgetUsd=1000))
    assert f"up to {cost.usd(top)}/month" in message and "over the budget of $1,000" in message
    assert "pool gpu-l4 $502" in message and "maxNodes" in message
    # the pack keeps no budget of its own: unset, the stack's schema default applies
    values = {k: v for k, v in stack_values("prod").items() if k != "monthlyBudgetUsd"}
    assert validated(values).monthly_budget_usd == 5000
    (message,) = rules.stack_cost_cap(validated(values))
    assert "over the budget of $5,000" in message


def test_every_declared_pool_must_be_one_the_estimate_priced():
    cfg = _config("dev", cluster={"gpuPools": [{"name": "gpu", "instanceType": "g6.xlarge", "maxNodes": 2}]})
    group = changed(NODEGROUP_OK, "scalingConfig.minSize", 0)
    assert rules.pools_priced([group], cfg) == []
    (message,) = rules.pools_priced([changed(group, "scalingConfig.maxSize", 8)], cfg)
    assert "NodeGroup gpu: g6.xlarge 0..8 nodes is not a pool of the stack config" in message
    (message,) = rules.pools_priced([changed(group, "capacityType", "SPOT")], cfg)
    assert "0..2 nodes spot" in message
    (message,) = rules.pools_priced([POOL_OK], cfg)  # a GKE pool the config does not have
    assert "g2-standard-8 0..2 nodes" in message


def _declared(stack: str) -> list[Resource]:
    return [Resource(r.type, r.name, plain(r.inputs)) for r in run_stack(stack).resources if r.custom]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dev_and_prod_pass_every_rule(stack):
    assert rules.check_all(_declared(stack), _config(stack)) == []


def test_the_rules_see_the_stack_resources_they_guard():
    # guards against rules that pass only because their resource types never appear
    dev_types = {r.type for r in _declared("dev")}
    prod_types = {r.type for r in _declared("prod")}
    assert {
        rules.EKS_CLUSTER,
        rules.EKS_NODE_GROUP,
        rules.LAUNCH_TEMPLATE,
        rules.IAM_ROLE,
        rules.IAM_ATTACHMENT,
    } <= dev_types
    assert {rules.GKE_CLUSTER, rules.GKE_NODE_POOL} <= prod_types


def test_a_stack_that_breaks_rules_is_caught_with_resource_names():
    resources = _declared("dev")
    eks = next(r for r in resources if r.type == rules.EKS_CLUSTER)
    eks.props["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])
    violations = rules.check_all(resources, _config("dev", monthlyBudgetUsd=500))
    assert any("leanrag-dev-eks" in v and "open to the internet" in v for v in violations)
    assert any("over the budget of $500" in v and "pool gpu-l4" in v for v in violations)
    group = next(r for r in resources if r.type == rules.EKS_NODE_GROUP and r.name == "leanrag-dev-gpu-l4")
    group.props["scalingConfig"]["maxSize"] = 10
    assert any(
        "NodeGroup leanrag-dev-gpu-l4: g6.xlarge 0..10 nodes spot" in v
        for v in rules.check_all(resources, _config("dev"))
    )
