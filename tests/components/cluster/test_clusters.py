"""Cluster components under mocks: security-relevant inputs per cloud and identical output shapes."""

import json

import pytest

from components.cluster.aws import CONTROL_PLANE_LOGS, WORKER_NODE_POLICIES
from components.cluster.base import POOL_LABEL, ClusterOutputs
from components.cluster.gcp import NODE_ROLES
from tests.renderkit import run_stack


@pytest.fixture(scope="module")
def dev():
    return run_stack("dev")


@pytest.fixture(scope="module")
def prod():
    return run_stack("prod")


def test_eks_control_plane_is_encrypted_and_logged(dev):
    # who reaches the API endpoint: tests/components/cluster/test_api_endpoint.py
    eks = dev.one("aws:eks/cluster:Cluster").inputs
    assert eks["vpcConfig"]["endpointPrivateAccess"] is True
    assert eks["vpcConfig"]["subnetIds"] == [
        "subnet-priv-us-east-1a",
        "subnet-priv-us-east-1b",
        "subnet-priv-us-east-1c",
    ]
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    assert eks["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms")
    assert eks["enabledClusterLogTypes"] == CONTROL_PLANE_LOGS
    assert dev.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_vpc_has_private_subnets_and_nat(dev):
    vpc = dev.one("awsx:ec2:Vpc").inputs
    assert vpc["natGateways"]["strategy"] == "Single"
    assert {s["type"] for s in vpc["subnetSpecs"]} == {"Private", "Public"}


def test_node_groups_use_imdsv2_hop_limit_1_and_encrypted_volumes(dev):
    templates = dev.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    for lt in templates:
        meta = lt.inputs["metadataOptions"]
        assert (meta["httpTokens"], meta["httpPutResponseHopLimit"]) == ("required", 1)
        ebs = lt.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["kmsKeyId"].startswith("arn:aws:kms")


def test_gpu_node_group_scales_from_zero_on_spot_with_taint_and_nvidia_ami(dev):
    gpu = dev.one("aws:eks/nodeGroup:NodeGroup", "leanrag-dev-gpu-l4").inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA" and gpu["capacityType"] == "SPOT"
    assert gpu["scalingConfig"]["minSize"] == 0 and gpu["scalingConfig"]["maxSize"] == 2
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"][POOL_LABEL] == "gpu-l4"
    tags = gpu["tags"]
    assert tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == "present:NoSchedule"
    assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
    system = dev.one("aws:eks/nodeGroup:NodeGroup", "leanrag-dev-system").inputs
    assert system["taints"] == [] and system["amiType"] == "AL2023_x86_64_STANDARD"


def test_node_role_has_exactly_the_three_worker_policies(dev):
    attached = {
        a.inputs["policyArn"]
        for a in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("leanrag-dev-node-")
    }
    assert attached == set(WORKER_NODE_POLICIES)


def test_workloads_reach_the_bucket_through_pod_identity_with_least_privilege(dev):
    associations = {
        (a.inputs["namespace"], a.inputs["serviceAccount"])
        for a in dev.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    assert {("serving", "model-store"), ("jobs", "model-store"), ("kube-system", "cluster-autoscaler")} == associations
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", "leanrag-dev-model-store-policy").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    assert all(s["Resource"] != "*" for s in policy["Statement"])


def test_model_bucket_is_versioned_encrypted_and_private(dev):
    assert dev.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = dev.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    block = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))


def test_volumes_bind_on_eks_through_the_ebs_csi_driver_and_an_encrypted_default_class(dev):
    addon = dev.one("aws:eks/addon:Addon", "leanrag-dev-ebs-csi-driver").inputs
    assert addon["addonVersion"] and addon["podIdentityAssociations"][0]["serviceAccount"] == "ebs-csi-controller-sa"
    storage = dev.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage["provisioner"] == "ebs.csi.aws.com"
    assert storage["parameters"]["encrypted"] == "true" and storage["parameters"]["kmsKeyId"].startswith("arn:aws:kms")
    assert storage["volumeBindingMode"] == "WaitForFirstConsumer"


def test_gpu_addons_and_autoscaler_are_pinned_helm_releases(dev):
    cluster = dev.one("leanrag:cluster:AwsGpuCluster")
    releases = {r.name: r.inputs for r in dev.of_type("kubernetes:helm.sh/v3:Release") if r.parent == cluster.urn}
    assert set(releases) == {
        "leanrag-dev-nvidia-device-plugin",
        "leanrag-dev-dcgm-exporter",
        "leanrag-dev-cluster-autoscaler",
    }
    for release in releases.values():
        assert release["version"] and release["atomic"] is True
    plugin = releases["leanrag-dev-nvidia-device-plugin"]["values"]
    assert plugin["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_gke_is_private_shielded_encrypted_with_workload_identity(prod):
    gke = prod.one("gcp:container/cluster:Cluster").inputs
    assert gke["privateClusterConfig"]["enablePrivateNodes"] is True
    assert gke["workloadIdentityConfig"]["workloadPool"] == "my-gcp-project.svc.id.goog"
    assert gke["enableShieldedNodes"] is True
    assert gke["releaseChannel"]["channel"] == "REGULAR"
    assert gke["datapathProvider"] == "ADVANCED_DATAPATH"
    assert gke["databaseEncryption"]["state"] == "ENCRYPTED" and gke["databaseEncryption"]["keyName"]
    assert gke["removeDefaultNodePool"] is True
    assert gke["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert prod.one("gcp:kms/cryptoKey:CryptoKey").inputs["rotationPeriod"] == "7776000s"


def test_gke_node_pools_use_a_dedicated_account_and_gke_metadata(prod):
    pools = {p.name: p.inputs for p in prod.of_type("gcp:container/nodePool:NodePool")}
    assert set(pools) == {"leanrag-prod-system", "leanrag-prod-gpu-l4"}
    for pool in pools.values():
        node = pool["nodeConfig"]
        assert node["serviceAccount"] == "leanrag-prod-nodes@my-gcp-project.iam.gserviceaccount.com"
        assert node["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
        assert node["shieldedInstanceConfig"]["enableSecureBoot"] is True
    roles = {m.inputs["role"] for m in prod.of_type("gcp:projects/iAMMember:IAMMember")}
    assert roles == set(NODE_ROLES)


def test_gke_gpu_pool_has_accelerator_driver_autoscaling_and_taint(prod):
    gpu = prod.one("gcp:container/nodePool:NodePool", "leanrag-prod-gpu-l4").inputs
    accel = gpu["nodeConfig"]["guestAccelerators"][0]
    assert accel["type"] == "nvidia-l4" and accel["count"] == 1
    assert accel["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
    assert gpu["autoscaling"]["totalMinNodeCount"] == 1 and gpu["autoscaling"]["totalMaxNodeCount"] == 6
    assert gpu["nodeConfig"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["nodeConfig"]["spot"] is False


def test_llm_d_gets_the_proxy_only_subnet_its_managed_gateway_needs(prod):
    proxy = prod.one("gcp:compute/subnetwork:Subnetwork", "leanrag-prod-proxy-only").inputs
    assert proxy["purpose"] == "REGIONAL_MANAGED_PROXY" and proxy["role"] == "ACTIVE"
    assert proxy["ipCidrRange"] == "10.58.0.0/23"


def test_gke_workloads_reach_the_bucket_with_workload_identity(prod):
    bucket = prod.one("gcp:storage/bucket:Bucket").inputs
    assert bucket["versioning"]["enabled"] is True and bucket["publicAccessPrevention"] == "enforced"
    members = {m.inputs["member"] for m in prod.of_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert members == {
        "serviceAccount:my-gcp-project.svc.id.goog[serving/model-store]",
        "serviceAccount:my-gcp-project.svc.id.goog[jobs/model-store]",
    }
    accounts = [
        a for a in prod.of_type("kubernetes:core/v1:ServiceAccount") if a.inputs["metadata"]["name"] == "model-store"
    ]
    assert accounts and all(
        a.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        == "leanrag-prod-model-store@my-gcp-project.iam.gserviceaccount.com"
        for a in accounts
    )


def test_outputs_have_the_same_shape_on_every_cloud():
    fields = set(ClusterOutputs.__dataclass_fields__)
    assert {"kubeconfig", "provider", "model_store_uri", "service_account_annotations", "system", "gpu_pools"} <= fields
    keys = [set(run_stack(s).outputs) for s in ("dev", "prod", "local")]
    assert keys[0] == keys[1] == keys[2]
