"""Who reaches the Kubernetes API, per cloud: the default stack files give a deployer outside the VPC a way in
(EKS: a public endpoint limited to the listed CIDRs; GKE: a private IP and the IAM-authorised DNS endpoint), the
provider's kubeconfig points at that way in, and the other choices render as documented (docs/deploy.md)."""

import json
from ipaddress import ip_network

import pytest

from tests.renderkit import STACKS, run_stack, run_variant, stack_values, unwrap

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
SECRETS = {"hfToken": "hf_x"}


def kubeconfig_server(run) -> dict:
    """The cluster entry of the kubeconfig the stack's Kubernetes provider deploys with."""
    (provider,) = [p for p in run.of_type("pulumi:providers:kubernetes") if p.name.endswith("-k8s")]
    config = json.loads(unwrap(provider.inputs["kubeconfig"]))
    return config["clusters"][0]["cluster"]


def with_endpoint(stack: str, endpoint: dict) -> dict:
    values = stack_values(stack)
    values["cluster"] = {**values["cluster"], "apiEndpoint": endpoint}
    return values


def test_dev_eks_api_answers_the_listed_cidrs_from_outside_the_vpc():
    dev = run_stack("dev")
    listed = stack_values("dev")["cluster"]["apiEndpoint"]["allowedCidrs"]
    vpc = dev.one(EKS).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == listed
    assert all(ip_network(c).prefixlen > 0 for c in listed)
    # the deployer's kubeconfig uses the cluster's public endpoint (what `aws eks update-kubeconfig` writes)
    server = kubeconfig_server(dev)
    assert server["server"].endswith(".eks.amazonaws.com") and server["certificate-authority-data"]


@pytest.mark.parametrize("stack", [s for s in STACKS if stack_values(s)["cloud"] == "aws"])
def test_every_eks_stack_file_says_who_may_reach_its_api(stack):
    endpoint = stack_values(stack)["cluster"].get("apiEndpoint", {})
    assert endpoint.get("access") == "public", f"{stack}: an EKS stack file chooses its way in"
    assert endpoint["allowedCidrs"] and all(ip_network(c).prefixlen > 0 for c in endpoint["allowedCidrs"])


def test_prod_gke_api_is_private_and_reached_through_the_iam_dns_endpoint():
    prod = run_stack("prod")
    gke = prod.one(GKE).inputs
    assert gke["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert "masterAuthorizedNetworksConfig" not in gke
    assert gke["controlPlaneEndpointsConfig"] == {"dnsEndpointConfig": {"allowExternalTraffic": True}}
    # Google IAM authorises the DNS endpoint's callers: the deployer's kubeconfig names it, with no pinned CA
    server = kubeconfig_server(prod)
    assert set(server) == {"server"}
    assert server["server"].startswith("https://gke-") and server["server"].endswith(".us-central1.gke.goog")


def test_a_private_gke_endpoint_defaults_to_the_dns_way_in():
    gke = run_variant(with_endpoint("prod", {"access": "private"}), SECRETS).one(GKE).inputs
    assert gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True


def test_gke_in_vpc_closes_the_dns_endpoint_to_outside_traffic():
    run = run_variant(with_endpoint("prod", {"access": "private", "wayIn": "inVpc"}), SECRETS)
    gke = run.one(GKE).inputs
    assert gke["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False
    assert kubeconfig_server(run)["server"] == "https://10.0.0.2"  # the private IP endpoint, inside the VPC


def test_gke_public_endpoint_admits_only_the_listed_cidrs():
    run = run_variant(with_endpoint("prod", {"access": "public", "allowedCidrs": ["198.51.100.0/24"]}), SECRETS)
    gke = run.one(GKE).inputs
    assert gke["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert gke["privateClusterConfig"]["enablePrivateNodes"] is True
    assert gke["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "198.51.100.0/24", "displayName": "198.51.100.0/24"}],
        "gcpPublicCidrsAccessEnabled": False,
    }
    assert gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False
    assert kubeconfig_server(run)["certificate-authority-data"]


def test_eks_private_in_vpc_has_no_public_endpoint():
    run = run_variant(with_endpoint("dev", {"access": "private", "wayIn": "inVpc"}), SECRETS)
    vpc = run.one(EKS).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and vpc["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in vpc
