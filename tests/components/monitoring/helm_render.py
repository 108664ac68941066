"""Render a Helm release of the plan offline: the pinned chart from the shared charts folder, with the exact values
the program passes (helm-python-sdk, no helm binary, no cluster).

The charts folder is $LEANRAG_CHARTS_DIR, else `shared/charts` beside the repository (CI) or beside the main
checkout of a git worktree. A user with network access can point the variable at charts pulled by version.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from infra.mocks import ProgramRun
from tests.renderkit import ROOT, helm_values, release

CHARTS_ENV = "LEANRAG_CHARTS_DIR"


@cache
def charts_dir() -> Path:
    configured = os.environ.get(CHARTS_ENV)
    if configured:
        return Path(configured)
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    candidates = [ROOT.parent / "shared" / "charts"]
    if common:
        candidates.append(Path(common).parent.parent / "shared" / "charts")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise AssertionError(f"no charts folder: set {CHARTS_ENV} (tried {', '.join(map(str, candidates))})")


def chart_path(name: str, version: str) -> Path:
    return charts_dir() / name / version


def render_release(run: ProgramRun, helm_name: str) -> list[dict[str, Any]]:
    """Every object the release would create, as Helm renders it for an install."""
    inputs = release(run, helm_name).inputs
    path = chart_path(inputs["chart"], inputs["version"])
    assert path.is_dir(), f"chart {inputs['chart']} {inputs['version']} is not in {charts_dir()}"
    rendered = helm.Chart.load(str(path)).render(
        helm_values(run, helm_name), name=inputs["name"], namespace=inputs["namespace"], is_install=True
    )
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith((".yaml", ".yml")):
            objects += [o for o in yaml.safe_load_all(text) if o]
    return objects
