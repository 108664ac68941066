"""The cost estimate prices what the program renders: the same volumes, NAT gateways, load balancer and pools
(stacks/ may not import the components, so these checks keep its numbers honest)."""

import re

import pytest

from stacks import cost
from stacks.load import validated
from tests import renderkit as rk

STACKS = [s for s in rk.STACKS if validated(rk.stack_values(s)).cloud != "existing"]


def _gb(size: str) -> int:
    match = re.fullmatch(r"(\d+)Gi", size)
    assert match, size
    return int(match.group(1))


def _rendered_volumes(run) -> dict[str, int]:
    """GB of every volume claim the program renders or asks its charts for, by what it is."""
    values = rk.helm_values(run, "milvus")
    distributed = values["cluster"]["enabled"]
    # MinIO distributed: the chart's default 4 replicas x 1 drive (minio 8.0.17 in milvus 5.0.19), not overridden
    assert "replicas" not in values["minio"] and "drivesPerNode" not in values["minio"]
    volumes = {
        "Milvus MinIO": (4 if distributed else 1) * _gb(values["minio"]["persistence"]["size"]),
        "Milvus etcd": values["etcd"]["replicaCount"] * _gb(values["etcd"]["persistence"]["size"]),
    }
    if not distributed:
        volumes["Milvus standalone"] = _gb(values["standalone"]["persistence"]["persistentVolumeClaim"]["size"])
    for sts in rk.of_kind(run, "StatefulSet"):
        for claim in sts["spec"].get("volumeClaimTemplates", []):
            volumes["Redis"] = sts["spec"]["replicas"] * _gb(claim["spec"]["resources"]["requests"]["storage"])
    for pvc in rk.of_kind(run, "PersistentVolumeClaim"):
        volumes["RAG app (OGX)"] = _gb(pvc["spec"]["resources"]["requests"]["storage"])
    return volumes


@pytest.mark.parametrize("stack", STACKS)
def test_the_estimated_volumes_are_the_rendered_ones(stack):
    estimated = {what: n * size for what, n, size in cost.persistent_volumes(validated(rk.stack_values(stack)))}
    assert estimated == _rendered_volumes(rk.run_stack(stack))


@pytest.mark.parametrize("single", [True, False])
def test_the_estimated_nat_gateways_are_the_vpcs_modelled_ones(single):
    values = rk.stack_values("dev")
    values["cluster"] = {**values["cluster"], "aws": {"singleNatGateway": single}}
    modelled = rk.run_variant(values).of_type("aws:ec2/natGateway:NatGateway")
    assert all(r.modelled for r in modelled)
    assert len(modelled) == cost.nat_gateways(validated(values)) == (1 if single else 3)


@pytest.mark.parametrize("stack", STACKS)
def test_a_load_balancer_is_priced_exactly_when_a_gateway_is_rendered(stack):
    cfg = validated(rk.stack_values(stack))
    gateways = [g["spec"]["gatewayClassName"] for g in rk.of_kind(rk.run_stack(stack), "Gateway")]
    assert gateways == ([cost.gateway_class(cfg)] if cost.gateway_class(cfg) else [])
    priced = [line for line in cost.estimate(cfg).lines if line.item == "load balancer"]
    assert len(priced) == len(gateways)
