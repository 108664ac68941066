"""Offline plan: run the real program for a stack under the SDK's mocks, without the Pulumi CLI or credentials.

    python -m infra.plan dev --out .plan/dev

Prints the resource tree and a summary; writes `plan.json` (every resource with type, name and parent,
and the stack outputs with secrets redacted), `k8s/` (one YAML file per Kubernetes object, each validated
strictly against its schema) and `helm/` (the values of each Helm release, and in `helm/<release>/` the objects
its chart renders with them, validated the same way; infra/charts.py). Exit codes: 0 plan is valid,
1 schema errors, 2 configuration errors (printed all at once, with the stack file's line, key paths and fixes).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import helm_python as helm
import pulumi
import yaml

from infra import charts, mocks, validate
from infra import stack_file as stack_files
from infra.mocks import ProgramRun, Registered
from infra.stack_file import StackFileError
from stacks.preflight import PreflightError

ROOT = Path(__file__).resolve().parent.parent
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_NOT_OBJECTS = ("pulumi:providers:", "kubernetes:helm.sh/", "kubernetes:yaml")


def is_kubernetes_object(resource: Registered) -> bool:
    return resource.custom and resource.type.startswith("kubernetes:") and not resource.type.startswith(_NOT_OBJECTS)


COMPUTED = "[computed]"
"""Shown where a value is known only after `pulumi up` (what `pulumi preview` prints as output<T>)."""


def plain(value: Any) -> Any:
    """Engine-shaped values -> plain YAML: integral floats back to ints, secrets redacted, unknowns marked."""
    value = mocks.redact(value)
    if isinstance(value, pulumi.output.Unknown):
        return COMPUTED
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def manifest(resource: Registered) -> dict[str, Any]:
    body = {k: v for k, v in plain(resource.inputs).items() if not k.startswith("__")}
    return {"apiVersion": body.pop("apiVersion", None), "kind": body.pop("kind", None), **body}


def _label(resource: Registered) -> str:
    return f"{resource.type}::{resource.name}"


def _file_name(index: int, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", "object"), meta.get("namespace", ""), meta.get("name", "")]
    slug = "-".join(re.sub(r"[^a-z0-9.]+", "-", str(p).lower()).strip("-") for p in parts if p)
    return f"{index:03d}-{slug}.yaml"


def print_tree(run: ProgramRun) -> None:
    children: dict[str | None, list[Registered]] = {}
    urns = {r.urn for r in run.resources}
    for r in run.resources:
        children.setdefault(r.parent if r.parent in urns else None, []).append(r)

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name)):
            print(f"{'  ' * depth}{'+' if r.custom else '*'} {r.type}  {r.name}")
            walk(r.urn, depth + 1)

    walk(None, 0)


def helm_release(resource: Registered) -> charts.Release:
    """A Helm release resource as the chart renderer takes it: the values exactly as passed (secrets redacted)."""
    inputs = resource.inputs
    return charts.Release(
        name=str(inputs.get("name") or resource.name),
        chart=str(inputs["chart"]).rsplit("/", 1)[-1],
        version=str(inputs["version"]),
        namespace=str(inputs.get("namespace") or "default"),
        values=plain(inputs.get("values", {})),
    )


def _write_rendered(release: Registered, folder: Path) -> tuple[list[str], str | None]:
    """Render a release's chart into `folder` (one file per object) and validate every object: the errors, and why
    it was not rendered (no sources of its chart at all), if so."""
    try:
        objects = charts.render(helm_release(release))
    except charts.NoChartSources as e:
        return [], str(e)
    except charts.ChartNotFound as e:
        return [f"helm/{release.name}: {e}"], None
    except helm.HelmError as e:
        return [f"helm/{release.name}: the chart rejects the values: {e}"], None
    except yaml.YAMLError as e:
        return [f"helm/{release.name}: the chart renders YAML that does not parse: {e}"], None
    folder.mkdir(parents=True)
    errors = []
    for i, obj in enumerate(objects, 1):
        name = _file_name(i, obj)
        (folder / name).write_text(yaml.safe_dump(obj, sort_keys=False))
        errors += [f"helm/{release.name}/{name}: {e}" for e in validate.validate(obj)]
    return errors, None


def write_plan(stack: str, run: ProgramRun, out: Path) -> list[str]:
    """Write plan.json, k8s/ and helm/ (each release's values, and its chart rendered with them when the chart
    sources are there: infra/charts.py); return every schema error found."""
    (out / "k8s").mkdir(parents=True, exist_ok=True)
    (out / "helm").mkdir(exist_ok=True)
    for old in [*(out / "k8s").glob("*.yaml"), *(out / "helm").glob("*.yaml")]:
        old.unlink()
    for old_dir in (p for p in (out / "helm").iterdir() if p.is_dir()):
        shutil.rmtree(old_dir)
    by_urn = {r.urn: r for r in run.resources}
    errors: list[str] = []
    objects = [r for r in run.resources if is_kubernetes_object(r)]
    for i, resource in enumerate(objects, 1):
        obj = manifest(resource)
        name = _file_name(i, obj)
        (out / "k8s" / name).write_text(yaml.safe_dump(obj, sort_keys=False))
        errors += [f"k8s/{name}: {e}" for e in validate.validate(obj)]
    releases = run.of_type(HELM_RELEASE)
    have_charts = charts.charts_dir().is_dir()
    not_rendered: dict[str, str] = {}
    for release in releases:
        values = plain(release.inputs.get("values", {}))
        (out / "helm" / f"{release.name}.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
        if not have_charts:
            not_rendered[release.name] = f"no chart sources at {charts.charts_dir()} (set {charts.CHARTS_DIR_ENV})"
            continue
        release_errors, why_not = _write_rendered(release, out / "helm" / release.name)
        errors += release_errors
        if why_not:
            not_rendered[release.name] = why_not
    plan = {
        "stack": stack,
        "summary": {
            "resources": len(run.resources),
            "kubernetesObjects": len(objects),
            "helmReleases": len(releases),
            "schemaErrors": len(errors),
        },
        "countsByType": dict(sorted(Counter(r.type for r in run.resources).items())),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "parent": _label(by_urn[r.parent]) if r.parent in by_urn else None,
                "custom": r.custom,
            }
            for r in run.resources
        ],
        "helmReleases": [
            {
                "name": r.name,
                "chart": r.inputs.get("chart"),
                "version": r.inputs.get("version"),
                "namespace": r.inputs.get("namespace"),
                "rendered": r.name not in not_rendered,
                **({"notRendered": not_rendered[r.name]} if r.name in not_rendered else {}),
            }
            for r in releases
        ],
        "outputs": run.outputs,
        "secretOutputs": sorted(run.secret_outputs),
    }
    (out / "plan.json").write_text(json.dumps(plan, indent=2, sort_keys=False, default=str) + "\n")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name (reads Pulumi.<stack>.yaml) or a path to a stack file")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: .plan/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    stack_file = Path(args.stack) if args.stack.endswith((".yaml", ".yml")) else ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        known = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
        print(f"error: no stack file {stack_file}; known stacks: {', '.join(known)}", file=sys.stderr)
        return 2
    stack = stack_file.name.split(".")[1] if stack_file.name.startswith("Pulumi.") else stack_file.stem
    out = args.out or ROOT / ".plan" / stack
    try:
        parsed = stack_files.read(stack_file)
    except StackFileError as e:
        print(f"plan {stack}: {e}", file=sys.stderr)
        return 2
    config, secret_keys = parsed.engine_config()
    problems = list(parsed.problems)
    try:
        run = mocks.run_program(config, secret_keys, stack)
    except PreflightError as e:
        problems += e.problems
    if problems:
        located = PreflightError([parsed.locate(p) for p in problems])
        print(f"plan {stack}: configuration invalid ({stack_file.name})\n{located}", file=sys.stderr)
        return 2
    if not args.quiet:
        print_tree(run)
    errors = write_plan(stack, run, out)
    for error in errors:
        print(f"schema error: {error}", file=sys.stderr)
    n_objects = sum(1 for r in run.resources if is_kubernetes_object(r))
    for release in json.loads((out / "plan.json").read_text())["helmReleases"]:
        if not release["rendered"]:
            print(f"note: Helm release {release['name']} not rendered: {release['notRendered']}")
    print(
        f"plan {stack}: {len(run.resources)} resources ({n_objects} Kubernetes objects, "
        f"{len(run.of_type(HELM_RELEASE))} Helm releases), {len(errors)} schema errors -> {out}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
