"""checkov's Kubernetes checks over everything every stack renders, as the offline plan writes it: the program's
own objects (k8s/) and each Helm release's chart rendered with the program's values (helm/<release>/).

Zero failed checks outside the skip list of tests/infra/checkov.yaml (accepted for good, each with its reason).
An entry that matches no finding fails the test too: a fixed finding leaves the list.

checkov runs offline from its own environment (.venvs/checkov, `make venv-checkov`, requirements-checkov.txt):
`checkov -d DIR --framework kubernetes --skip-download`.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.plan import write_plan
from tests.renderkit import ROOT, STACKS, run_stack

CHECKOV = ROOT / ".venvs" / "checkov" / "bin" / "checkov"
EXCEPTIONS = Path(__file__).with_name("checkov.yaml")


@dataclass(frozen=True)
class Finding:
    stack: str
    source: str
    """k8s (the program's own objects) or helm/<chart>."""
    resource: str
    """checkov's name of the object: Kind.namespace.name."""
    check: str

    def __str__(self) -> str:
        return f"{self.check} {self.source} {self.resource} ({self.stack})"


def _matches(entry: dict[str, Any], finding: Finding) -> bool:
    return (
        entry["check"] == finding.check
        and fnmatch.fnmatchcase(finding.source, entry.get("source", "*"))
        and fnmatch.fnmatchcase(finding.resource, entry.get("resource", "*"))
    )


def _source(path: str, charts_by_release: dict[str, dict[str, str]]) -> tuple[str, str]:
    """(stack, source) of a file checkov names, e.g. /dev/helm/leanrag-dev-milvus/001-....yaml."""
    parts = Path(path).parts
    stack = parts[1]
    if parts[2] == "helm":
        return stack, f"helm/{charts_by_release[stack][parts[3]]}"
    return stack, parts[2]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make venv-checkov`")
    out = tmp_path_factory.mktemp("plans")
    charts_by_release: dict[str, dict[str, str]] = {}
    for stack in STACKS:
        errors = write_plan(stack, run_stack(stack), out / stack)
        assert errors == [], errors
        plan = json.loads((out / stack / "plan.json").read_text())
        charts_by_release[stack] = {r["name"]: str(r["chart"]).rsplit("/", 1)[-1] for r in plan["helmReleases"]}
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(out), "--framework", "kubernetes", "--skip-download", "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    reports = json.loads(proc.stdout)
    found = []
    for report in reports if isinstance(reports, list) else [reports]:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for failed in report["results"]["failed_checks"]:
            stack, source = _source(failed["file_path"], charts_by_release)
            found.append(Finding(stack, source, failed["resource"], failed["check_id"]))
    return found


def _skips() -> list[dict[str, Any]]:
    data = yaml.safe_load(EXCEPTIONS.read_text())
    assert set(data) == {"skip"}, "one list: fix a finding or skip it with its reason"
    for entry in data["skip"]:
        assert entry.get("reason"), entry
    return data["skip"]


@pytest.mark.slow
def test_checkov_finds_nothing_outside_the_skip_list(findings: list[Finding]):
    skips = _skips()
    unexpected = sorted({str(f) for f in findings if not any(_matches(e, f) for e in skips)})
    assert unexpected == [], "\n".join(unexpected)


@pytest.mark.slow
def test_every_skip_entry_still_matches_a_finding(findings: list[Finding]):
    stale = [e for e in _skips() if not any(_matches(e, f) for f in findings)]
    assert stale == [], "fixed: remove these entries from tests/infra/checkov.yaml"


def test_the_program_s_own_objects_are_skipped_only_by_name():
    """The skip list is for what charts, node agents and the programs the pods run cannot do. An entry for the
    program's own objects names the objects (a Kind.namespace.name pattern), so a new object meets the checks;
    the one accepted for all is images pinned by tag."""
    for entry in _skips():
        if entry["check"] == "CKV_K8S_43" or entry.get("source", "*").startswith("helm/"):
            continue
        assert entry.get("source") == "k8s", entry
        kind, namespace, name = entry.get("resource", "*").split(".", 2)
        assert "*" not in kind + namespace and name.strip("*-"), entry
