"""The offline plan (python -m infra.plan): every rendered object validates, and the CLI writes the plan and
reports configuration errors with keys and fixes."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.mocks import REDACTED
from infra.plan import is_kubernetes_object, manifest
from infra.validate import validate
from tests.renderkit import ROOT, STACKS, run_stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_kubernetes_object_validates_strictly(stack):
    objects = [manifest(r) for r in run_stack(stack).resources if is_kubernetes_object(r)]
    assert objects
    errors = {f"{o['kind']}/{o['metadata'].get('name')}": validate(o) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


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
