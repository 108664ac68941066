"""infra/config.py is the only reader of Pulumi config; everything else receives typed values. It checks the
provider keys (from the pinned SDKs) and the region against ours."""

import json
import re

import pytest

from infra.mocks import run_program
from infra.provider_keys import PROVIDER_PACKAGES, known_keys
from stacks.preflight import PreflightError
from tests.renderkit import ROOT, stack_values

PROGRAM = ("stacks", "components", "infra", "policy")


def test_pulumi_config_is_read_only_by_the_entry_point_loader():
    offenders = []
    # the program's packages: workloads and the local harness never import the Pulumi SDK (and boto3's
    # s3.get_object would match the pattern)
    for path in sorted(p for package in PROGRAM for p in (ROOT / package).glob("**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "infra/config.py":
            continue
        if re.search(r"pulumi\.Config\(|require_object\(|get_object\(", path.read_text()):
            offenders.append(rel)
    assert offenders == []


# --- provider keys in the real program's config reading ------------------------------------------------------


def _program_problems(extra: dict[str, str]) -> list[str]:
    config = {f"leanrag:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in stack_values("dev").items()}
    with pytest.raises(PreflightError) as e:
        run_program({**config, **extra}, [], "test")
    return [f"{p.key}: {p.message}" for p in e.value.problems]


def test_the_program_refuses_unknown_provider_keys_and_namespaces():
    found = _program_problems({"aws:region": "us-east-1", "aws:regoin": "us-east-2", "leanrg:cloud": "gcp"})
    assert found == [
        "aws:regoin: the aws provider has no setting 'regoin': it would be ignored",
        "leanrg:cloud: no provider of this program reads the namespace 'leanrg': the key would be ignored",
    ]


def test_the_program_refuses_a_provider_region_that_differs_from_ours():
    (found,) = _program_problems({"aws:region": "eu-west-1"})
    assert found.startswith("aws:region: aws:region is 'eu-west-1' but leanrag:region is 'us-east-1'")


def test_the_provider_keys_come_from_the_pinned_sdks():
    keys = known_keys()
    assert {"region", "profile", "defaultTags"} <= keys["aws"]  # type: ignore[operator]
    assert {"region", "project", "zone"} <= keys["gcp"]  # type: ignore[operator]
    assert {"context", "kubeconfig", "enableServerSideApply"} <= keys["kubernetes"]  # type: ignore[operator]
    assert keys["random"] == frozenset() and keys["pulumi"] is None


def test_every_provider_package_the_program_imports_is_known():
    imported = set()
    for path in sorted(p for package in PROGRAM for p in (ROOT / package).glob("**/*.py")):
        imported |= set(re.findall(r"^\s*(?:import|from) (pulumi_[a-z0-9_]+)", path.read_text(), re.MULTILINE))
    assert imported - {"pulumi_policy"} <= set(PROVIDER_PACKAGES.values())
