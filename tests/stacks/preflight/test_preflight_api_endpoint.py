"""Preflight of cluster.apiEndpoint (the refusals are in test_preflight_rules.py's table): the fix names the
command that finds your IP, reachable choices pass, and the way in a private endpoint defaults to per cloud."""

from __future__ import annotations

import pytest

from stacks.load import parse
from tests.stacks.preflight.test_preflight_rules import BASE, config, problems


def test_a_public_endpoint_without_cidrs_says_how_to_find_your_ip():
    (found,) = problems(config(**{"cluster.apiEndpoint": {"access": "public"}}))
    assert "curl -s https://checkip.amazonaws.com" in found
    assert "pulumi config set --path 'leanrag:cluster.apiEndpoint.allowedCidrs[0]' <that IP>/32" in found


@pytest.mark.parametrize(
    "endpoint",
    [
        {},
        {"access": "private", "wayIn": "inVpc"},
        {"access": "public", "allowedCidrs": ["198.51.100.7/32", "2001:db8::/48"]},
    ],
)
def test_endpoints_that_someone_can_reach_pass(endpoint):
    assert problems(config(**{"cluster.apiEndpoint": endpoint})) == []


def test_the_dns_way_in_is_a_gcp_choice():
    gcp = config(
        **{
            "cloud": "gcp",
            "region": "us-central1",
            "cluster.gcp": {"project": "p"},
            "cluster.gpuPools.0.instanceType": "g2-standard-8",
            "cluster.systemPool": {"name": "system", "instanceType": "n2-standard-8"},
            "cluster.apiEndpoint": {"access": "private", "wayIn": "dnsEndpoint"},
        }
    )
    assert problems(gcp) == []
    assert parse(gcp).cluster.api_endpoint.resolved_way_in("gcp") == "dnsEndpoint"
    assert parse(BASE).cluster.api_endpoint.resolved_way_in("aws") == "inVpc"
