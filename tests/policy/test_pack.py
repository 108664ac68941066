"""The policy pack's cost policy, as the engine runs it: the stack's config arrives in PULUMI_CONFIG, and the
pack refuses an over-budget stack with the number preflight refuses it with (one function, one budget)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_policy import StackValidationArgs

from infra.mocks import stack_config
from infra.plan import plain
from policy import pack
from stacks import cost
from stacks.load import parse, values_from_engine
from stacks.preflight import PreflightError
from tests.renderkit import ROOT, run_stack

DOLLARS = re.compile(r"up to (\$[\d,]+)/month")


def _over_budget_stack(tmp_path: Path, budget: int) -> Path:
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    raw["config"]["leanrag:monthlyBudgetUsd"] = budget
    path = tmp_path / "Pulumi.over.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _policy_violations(monkeypatch, engine_config: dict[str, str], resources=()) -> list[str]:
    """The pack's cost policy with the config in the environment, as the engine starts a policy pack."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(engine_config))
    found: list[str] = []
    pack.validate_cost(StackValidationArgs(list(resources), {}), lambda message, urn=None: found.append(message))
    return found


def test_preflight_and_the_policy_pack_refuse_the_same_stack_with_the_same_number(tmp_path, monkeypatch):
    stack_file = _over_budget_stack(tmp_path, 4000)
    engine_config, _ = stack_config(stack_file)

    with pytest.raises(PreflightError) as refused:
        parse(values_from_engine(engine_config), frozenset({"hfToken"}))
    (policy_message,) = _policy_violations(monkeypatch, engine_config)
    plan = subprocess.run(
        [sys.executable, "-m", "infra.plan", str(stack_file), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    prod = parse(values_from_engine(stack_config(ROOT / "Pulumi.prod.yaml")[0]), frozenset({"hfToken"}))
    expected = cost.usd(cost.estimate(prod).max_usd)
    assert expected == "$5,896"
    assert DOLLARS.findall(str(refused.value)) == [expected]
    assert DOLLARS.findall(policy_message) == [expected]
    assert plan.returncode == 2 and DOLLARS.findall(plan.stderr) == [expected]
    for message in (str(refused.value), policy_message, plan.stderr):
        assert "over the budget of $4,000" in message


def test_the_pack_passes_the_stacks_within_budget_and_reads_no_budget_of_its_own(monkeypatch):
    for stack in ("dev", "prod"):
        engine_config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
        declared = [_policy_resource(r) for r in run_stack(stack).resources if r.custom]
        assert _policy_violations(monkeypatch, engine_config, declared) == []
    # no monthlyBudgetUsd in the stack: the schema default ($5,000), which prod at maxNodes exceeds
    engine_config, _ = stack_config(ROOT / "Pulumi.prod.yaml")
    del engine_config["leanrag:monthlyBudgetUsd"]
    (message,) = _policy_violations(monkeypatch, engine_config)
    assert "over the budget of $5,000" in message


def test_an_unreadable_stack_config_is_a_violation_not_a_crash(monkeypatch):
    (message,) = _policy_violations(monkeypatch, {"leanrag:cloud": "azure"})
    assert "cannot be read" in message and "leanrag:cloud" in message


def _policy_resource(r):
    from pulumi_policy import PolicyResource

    return PolicyResource(r.type, plain(r.inputs), r.urn, r.name, None, None, None, [], {})
