"""The offline plan's output is deterministic and reviewable: byte-identical across runs, files named after the
objects, plan.json sorted, with resource inputs, the VPC's children and the cost estimate."""

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.mocks import REDACTED, Registered
from infra.plan import main, object_file_names, write_plan
from stacks import cost
from stacks.load import validated
from tests.renderkit import ROOT, run_stack, stack_values
from tests.stacks.test_cost import dev_by_hand, prod_by_hand


def _plan(stack: str, out: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", stack, "--out", str(out), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_two_plans_of_the_same_commit_are_byte_identical(stack, tmp_path):
    # separate processes with different hash seeds: registration order and set order both vary between them
    first, second = _plan(stack, tmp_path / "one", "1"), _plan(stack, tmp_path / "two", "2")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    files = _files(tmp_path / "one")
    assert files == _files(tmp_path / "two") and len(files) > 40
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "one", tmp_path / "two", files, shallow=False)
    assert mismatch == [] and errors == []
    assert first.stdout.replace(str(tmp_path / "one"), "") == second.stdout.replace(str(tmp_path / "two"), "")


def test_files_are_named_after_kind_namespace_and_name(tmp_path):
    write_plan("prod", run_stack("prod"), tmp_path)
    names = {p.name for p in (tmp_path / "k8s").glob("*.yaml")}
    assert {
        "deployment-serving-llama-3-1-8b.yaml",
        "namespace-rag.yaml",
        "gateway-serving-inference-gateway.yaml",
    } <= names
    assert not any(n[:3].isdigit() for n in names)
    rendered = {p.name for p in (tmp_path / "helm" / "leanrag-prod-keda").glob("*.yaml")}  # what the chart renders
    assert {"deployment-keda-keda-operator.yaml", "customresourcedefinition-scaledobjects.keda.sh.yaml"} <= rendered
    assert not any(n[:3].isdigit() for n in rendered)
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(names) == plan["summary"]["kubernetesObjects"]
    assert {r["file"] for r in plan["resources"] if r.get("file", "").startswith("k8s/")} == {f"k8s/{n}" for n in names}


def _object(urn: str, api_version: str, kind: str, name: str, namespace: str = "serving"):
    meta = {"name": name, "namespace": namespace}
    return Registered(urn, f"kubernetes:x:{kind}", urn, None, True, {}), {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": meta,
    }


def test_objects_sharing_kind_namespace_and_name_get_their_api_group():
    objects = [
        _object("a", "networking.k8s.io/v1", "NetworkPolicy", "app"),
        _object("b", "cilium.io/v2", "NetworkPolicy", "app"),
        _object("c", "v1", "Service", "app"),
        _object("d", "v1", "Service", "app"),  # the same object declared twice: the resource names tell them apart
    ]
    assert object_file_names(objects) == {
        "a": "networkpolicy.networking.k8s.io-serving-app.yaml",
        "b": "networkpolicy.cilium.io-serving-app.yaml",
        "c": "service-serving-app-c.yaml",
        "d": "service-serving-app-d.yaml",
    }


def test_plan_json_is_sorted_and_holds_inputs_cost_and_the_vpcs_children(tmp_path):
    write_plan("dev", run_stack("dev"), tmp_path, cost.estimate(validated(stack_values("dev"))))
    plan = json.loads((tmp_path / "plan.json").read_text())
    keys = [(r["type"], r["name"]) for r in plan["resources"]]
    assert keys == sorted(keys)
    assert [h["name"] for h in plan["helmReleases"]] == sorted(h["name"] for h in plan["helmReleases"])
    assert list(plan["outputs"]) == sorted(plan["outputs"])
    group = next(r for r in plan["resources"] if r["name"] == "leanrag-dev-gpu-l4" and r["type"].endswith("NodeGroup"))
    assert group["inputs"]["scalingConfig"] == {"desiredSize": 0, "maxSize": 2, "minSize": 0}
    assert group["inputs"]["capacityType"] == "SPOT"
    provider = next(r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == REDACTED
    milvus = next(
        r for r in plan["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release" and "milvus" in r["name"]
    )
    assert "values" not in milvus["inputs"] and milvus["file"] == "helm/leanrag-dev-milvus.yaml"
    # awsx's Vpc is a remote component: its children are modelled from its inputs and marked so
    modelled = [r for r in plan["resources"] if r.get("modelled")]
    assert sorted({r["type"].rsplit(":", 1)[1] for r in modelled}) == [
        "Eip", "InternetGateway", "NatGateway", "Route", "RouteTable", "RouteTableAssociation", "Subnet", "Vpc",
    ]  # fmt: skip
    assert [r["name"] for r in modelled if r["type"] == "aws:ec2/natGateway:NatGateway"] == ["leanrag-dev-vpc-1"]
    subnets = [r for r in modelled if r["type"] == "aws:ec2/subnet:Subnet"]
    assert len(subnets) == 6 and {s["inputs"]["availabilityZone"] for s in subnets} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }
    private = next(s for s in subnets if s["name"] == "leanrag-dev-vpc-private-1")
    assert private["inputs"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert plan["cost"]["monthly"] == {"min": pytest.approx(448.6632), "max": pytest.approx(1113.8344)}
    assert [line["item"] for line in plan["cost"]["lines"]][:2] == ["pool system", "pool gpu-l4"]


def test_the_plan_prints_the_monthly_range_and_the_lines_behind_it(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "infra.plan", "dev", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "monthly cost (aws us-east-1 list prices of 2025-09-01): $449..$1,114/month" in proc.stdout
    assert "  pool gpu-l4" in proc.stdout and "  NAT" in proc.stdout and "not priced:" in proc.stdout
    assert "aws:ec2/natGateway:NatGateway  leanrag-dev-vpc-1  (modelled" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].endswith(f"0 schema errors, $449..$1,114/month -> {tmp_path}")
    local = subprocess.run(
        [sys.executable, "-m", "infra.plan", "local", "--out", str(tmp_path / "local"), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert local.returncode == 0 and "not estimated (an existing cluster" in local.stdout
    assert json.loads((tmp_path / "local" / "plan.json").read_text())["cost"] is None


@pytest.mark.parametrize(
    ("stack", "by_hand", "printed"), [("dev", dev_by_hand, "$449..$1,114"), ("prod", prod_by_hand, "$1,762..$5,896")]
)
def test_the_plans_monthly_range_is_the_hand_calculation(stack, by_hand, printed, tmp_path, capsys):
    assert main([stack, "--out", str(tmp_path), "--quiet"]) == 0
    low, high = by_hand()
    assert json.loads((tmp_path / "plan.json").read_text())["cost"]["monthly"] == {
        "min": pytest.approx(low, abs=1e-4),
        "max": pytest.approx(high, abs=1e-4),
    }
    assert f"{printed}/month" in capsys.readouterr().out
