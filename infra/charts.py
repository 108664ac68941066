"""Render the program's Helm releases offline, with the exact values it passes, from published chart sources.

`pulumi up` hands a release's values to Helm; a wrong key there is silently ignored until the cluster shows it.
Here the chart is rendered as Helm would install it (helm-python-sdk: Helm v4 as a library, no cluster, no
chart repository), so the offline plan and the tests see the objects Kubernetes would receive.

Charts are read from one folder of chart sources laid out `<chart>/<version>/` (the published sources, see
../shared/charts/README.md): `LEANRAG_CHARTS`, or by default `shared/charts` next to the repository's
checkout (for a git worktree, next to its main checkout). A release whose chart version is not there cannot
be rendered: `ChartNotFound` names the folder and the versions that are there. Never render one version and
deploy another: the version comes from the release itself (components/versions.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHARTS_DIR_ENV = "LEANRAG_CHARTS"
TEST_HOOK = "test"
"""`helm.sh/hook: test` objects run only with `helm test`; `pulumi up` never creates them."""


class ChartNotFound(Exception):
    """The chart version a release pins is not in the charts folder."""


class NoChartSources(ChartNotFound):
    """The charts folder has no version of the chart at all (e.g. a chart pulled from an OCI registry whose sources
    were never added): the release cannot be rendered, which the plan notes rather than fails on."""


def _main_checkout() -> Path:
    """The main checkout of the repository (itself, unless this is a `git worktree`)."""
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ROOT
    return Path(common).parent if common else ROOT


@cache
def charts_dir() -> Path:
    """`LEANRAG_CHARTS`, else `shared/charts` beside the checkout or inside it (or beside the main checkout)."""
    if os.environ.get(CHARTS_DIR_ENV):
        return Path(os.environ[CHARTS_DIR_ENV]).expanduser().resolve()
    for candidate in (ROOT.parent / "shared" / "charts", ROOT / "shared" / "charts"):
        if candidate.is_dir():
            return candidate
    return _main_checkout().parent / "shared" / "charts"


@dataclass(frozen=True)
class Release:
    """A Helm release as the program declares it."""

    name: str
    """The release name (Helm's), which the chart names its objects after."""
    chart: str
    """The chart's name (an OCI reference's last part)."""
    version: str
    namespace: str
    values: dict[str, Any]


def chart_path(chart: str, version: str) -> Path:
    """The chart's folder for `version`; ChartNotFound when it is not in the charts folder."""
    folder = charts_dir() / chart
    path = folder / version
    if not (path / "Chart.yaml").is_file():
        there = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not there:
            raise NoChartSources(
                f"no sources of chart {chart} in {charts_dir()}: add <chart>/<version>/ there (with its licence) to "
                f"render its releases, or set {CHARTS_DIR_ENV}"
            )
        raise ChartNotFound(
            f"chart {chart} {version} is not in {charts_dir()} (versions there: {', '.join(there) or 'none'}); "
            f"pin one of them in components/versions.py after reading its release notes, or set {CHARTS_DIR_ENV} "
            "to a folder with this version"
        )
    return path


_DOCUMENT_SEPARATOR = re.compile(r"(?:^|\n)---")
"""Helm's own split of a rendered template (releaseutil): "---" at a line start, whatever follows it on the line
(charts write "---# comment", which a YAML parser would not take as a separator)."""


def split_documents(text: str) -> list[dict[str, Any]]:
    """The objects of a rendered template, split as Helm does (parsed by libyaml: PyYAML's pure-Python parser took
    most of the offline plan's time on KEDA's CRDs)."""
    docs = (yaml.load(part, Loader=yaml.CSafeLoader) for part in _DOCUMENT_SEPARATOR.split(text) if part.strip())
    return [doc for doc in docs if isinstance(doc, dict) and doc]


def render(release: Release) -> list[dict[str, Any]]:
    """Every object `helm install` would create for the release (hooks included, test hooks excluded), in
    template order. Raises ChartNotFound, or helm_python.HelmError for values the chart rejects."""
    chart = helm.Chart.load(chart_path(release.chart, release.version))
    try:
        if chart.schema:
            chart.validate_schema(release.values)
        rendered = chart.render(release.values, name=release.name, namespace=release.namespace, is_install=True)
    finally:
        chart.close()
    objects: list[dict[str, Any]] = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for obj in split_documents(text):
            hook = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
            if TEST_HOOK in {h.strip() for h in hook.split(",")}:
                continue
            if _namespaced(obj):  # Helm installs namespaced objects without one into the release's namespace
                obj.setdefault("metadata", {}).setdefault("namespace", release.namespace)
            objects.append(obj)
    return objects


_CLUSTER_SCOPED = {
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def _namespaced(obj: dict[str, Any]) -> bool:
    return obj.get("kind") not in _CLUSTER_SCOPED
