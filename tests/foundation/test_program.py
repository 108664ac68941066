"""The real program under the SDK's mocks, for every stack file in the repo."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.mocks import REDACTED
from infra.plan import is_kubernetes_object, manifest
from infra.validate import validate
from stacks.reference import main as reference_main
from tests.stackrun import ROOT, STACKS, run_stack

CLUSTER_TYPES = {
    "aws": "leanrag:cluster:AwsGpuCluster",
    "gcp": "leanrag:cluster:GcpGpuCluster",
    "existing": "leanrag:cluster:ExistingCluster",
}


def test_the_repo_has_the_three_stacks():
    assert {"dev", "prod", "local"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_wires_config_to_cluster_to_platform_to_outputs(stack):
    run = run_stack(stack)
    cloud = run.outputs["cloud"]
    cluster = run.one(CLUSTER_TYPES[cloud])
    namespaces = run.one("leanrag:platform:Namespaces")
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.parent == cluster.urn
    # every Kubernetes object hangs under a component and is created through the cluster's provider
    for r in run.resources:
        if is_kubernetes_object(r):
            assert r.parent is not None
    assert namespaces.parent is not None and "Stack" in namespaces.parent
    assert run.outputs["kubeconfig"] == REDACTED and "kubeconfig" in run.secret_outputs
    assert re.match(r"^(s3|gs|pvc)://", run.outputs["modelStoreUri"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_kubernetes_object_validates_strictly(stack):
    objects = [manifest(r) for r in run_stack(stack).resources if is_kubernetes_object(r)]
    assert objects
    errors = {f"{o['kind']}/{o['metadata'].get('name')}": validate(o) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


def test_namespaces_enforce_pod_security():
    for ns in run_stack("dev").of_type("kubernetes:core/v1:Namespace"):
        labels = ns.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] in ("restricted", "baseline")
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_pulumi_config_is_read_only_by_the_entry_point_loader():
    offenders = []
    for path in ROOT.glob("**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv", ".venvs", "tests/")) or rel == "stacks/load.py":
            continue
        if re.search(r"pulumi\.Config\(|require_object\(|get_object\(", path.read_text()):
            offenders.append(rel)
    assert offenders == []


def test_pulumi_yaml_and_config_reference_are_generated_from_the_schema():
    assert reference_main([]) == 0, "run: python -m stacks.reference --write"


def test_pulumi_yaml_declares_only_types_pulumi_accepts():
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["main"] == "infra/"
    for key, decl in project["config"].items():
        assert key.startswith("leanrag:")
        assert decl["type"] in ("string", "integer", "boolean", "array"), key
        assert decl["description"], key


def test_plan_cli_writes_plan_and_manifests(tmp_path: Path):
    out = tmp_path / "plan"
    proc = subprocess.run(
        [sys.executable, "-m", "infra.plan", "prod", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(
        r"plan prod: \d+ resources \(\d+ Kubernetes objects, \d+ Helm releases\), 0 schema errors", proc.stdout
    )
    assert "leanrag:cluster:GcpGpuCluster" in proc.stdout
    import json

    plan = json.loads((out / "plan.json").read_text())
    assert plan["summary"]["schemaErrors"] == 0
    assert {"type", "name", "parent", "custom"} <= set(plan["resources"][0])
    assert plan["outputs"]["kubeconfig"] == REDACTED
    assert len(list((out / "k8s").glob("*.yaml"))) == plan["summary"]["kubernetesObjects"]


def test_plan_cli_rejects_a_broken_stack_with_keys_and_fixes(tmp_path: Path):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(
        "config:\n  leanrag:cloud: aws\n  leanrag:region: us-east-1\n  leanrag:cluster:\n"
        "    gpuPools: [{name: gpu, instanceType: g6.xlarge, maxNodes: 1}]\n  leanrag:serving:\n"
        "    models: [{name: big, id: meta-llama/Llama-3.1-70B-Instruct, precision: bf16, pool: gpu}]\n"
        "  leanrag:hfToken: {secure: v1:abc}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "infra.plan", str(broken), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "leanrag:serving.models[0].precision: meta-llama/Llama-3.1-70B-Instruct in bf16" in proc.stderr
    assert "fix: try" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_plan_cli_names_known_stacks_for_a_typo(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "infra.plan", "devv"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "known stacks: " in proc.stderr and "dev" in proc.stderr
