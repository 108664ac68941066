"""The stack files' example allowedCidrs: a warning in previews and the offline plan, a refusal for `pulumi up`
before any resource is declared; a real CIDR (or a private endpoint) passes silently."""

import pytest

from infra.assemble import check_way_in
from stacks.load import parse
from stacks.preflight import PreflightError
from tests.renderkit import stack_values

SECRETS = frozenset({"hfToken"})


def dev(**endpoint):
    values = stack_values("dev")
    if endpoint:
        values["cluster"]["apiEndpoint"] = endpoint
    return parse(values, SECRETS)


def test_the_example_address_warns_in_a_preview():
    problem = check_way_in(dev(), dry_run=True)
    assert problem is not None and problem.path == "cluster.apiEndpoint.allowedCidrs"
    assert "203.0.113.10/32" in problem.message and "checkip.amazonaws.com" in problem.fix


def test_pulumi_up_refuses_the_example_address():
    with pytest.raises(PreflightError, match=r"lists only example addresses \(203.0.113.10/32"):
        check_way_in(dev(), dry_run=False)


@pytest.mark.parametrize(
    "endpoint",
    [
        {"access": "public", "allowedCidrs": ["100.64.12.7/32"]},
        {"access": "public", "allowedCidrs": ["203.0.113.10/32", "100.64.12.7/32"]},  # someone can reach it
        {"access": "private", "wayIn": "inVpc"},
    ],
)
def test_a_reachable_endpoint_passes(endpoint):
    assert check_way_in(dev(**endpoint), dry_run=False) is None
