"""infra/config.py is the only reader of Pulumi config; everything else receives typed values."""

import re

from tests.renderkit import ROOT

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
