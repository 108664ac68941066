"""infra/config.py is the only reader of Pulumi config; everything else receives typed values."""

import re

from tests.renderkit import ROOT


def test_pulumi_config_is_read_only_by_the_entry_point_loader():
    offenders = []
    for path in ROOT.glob("**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv", ".venvs", "tests/")) or rel == "infra/config.py":
            continue
        if re.search(r"pulumi\.Config\(|require_object\(|get_object\(", path.read_text()):
            offenders.append(rel)
    assert offenders == []
