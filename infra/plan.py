"""Offline plan: run the real program for a stack under the SDK's mocks, without the Pulumi CLI or credentials.

    python -m infra.plan dev --out .plan/dev
    python -m infra.plan prod --diff origin/main --markdown plan-comment.md

Prints the resource tree, the stack's monthly cost range with the lines behind it (stacks/cost.py) and a
summary; writes `plan.json` (every resource with type, name, parent and, for those that are not Kubernetes
objects, its inputs; the cost estimate; the stack outputs, secrets redacted), `k8s/` (one YAML file per
Kubernetes object, named `<kind>-<namespace>-<name>.yaml`, each validated strictly against its schema) and
`helm/` (the values of each Helm release, and in `helm/<release>/` the objects its chart renders with them,
named and validated the same way; infra/charts.py). The output is deterministic: two plans of the same commit
are byte-identical (sorted resources, sorted keys, names instead of running numbers).

`--diff BASE` compares with a plan directory or with the stack planned at a git ref (in a temporary copy of
that commit, offline): resources and objects added, removed and changed, with the changed fields, and the
monthly cost before and after; `--markdown FILE` writes that as a pull-request comment.

Exit codes: 0 plan is valid, 1 schema errors, 2 configuration errors (printed all at once, with the stack
file's line, key paths and fixes) or a `--diff` base that cannot be read.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import sys
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import helm_python as helm
import pulumi
import yaml

from infra import charts, diff, mocks, validate
from infra import stack_file as stack_files
from infra.mocks import ProgramRun, Registered
from infra.stack_file import StackFileError
from stacks import cost
from stacks.load import parse, values_from_engine
from stacks.preflight import PreflightError

ROOT = Path(__file__).resolve().parent.parent
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_NOT_OBJECTS = ("pulumi:providers:", "kubernetes:helm.sh/", "kubernetes:yaml")
_HEAD_KEYS = ("apiVersion", "kind", "metadata")


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


def sorted_keys(value: Any) -> Any:
    """Every mapping with its keys sorted (as `kubectl get -o yaml` prints them); lists keep their order."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def manifest(resource: Registered) -> dict[str, Any]:
    body = {k: v for k, v in plain(resource.inputs).items() if not k.startswith("__")}
    return {"apiVersion": body.pop("apiVersion", None), "kind": body.pop("kind", None), **body}


def _stable(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind and metadata first, then the other keys; every nested mapping sorted."""
    head = {k: sorted_keys(obj[k]) for k in _HEAD_KEYS if k in obj}
    return {**head, **{k: sorted_keys(obj[k]) for k in sorted(obj) if k not in _HEAD_KEYS}}


def label(resource: Registered) -> str:
    return f"{resource.type}::{resource.name}"


def _slug(*parts: object) -> str:
    return "-".join(s for s in (re.sub(r"[^a-z0-9.]+", "-", str(p).lower()).strip("-") for p in parts if p) if s)


def object_identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what makes a Kubernetes object unique in a cluster."""
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return group, str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def file_names(objects: list[tuple[str, str, dict[str, Any]]]) -> dict[str, str]:
    """(key, tiebreak, object) -> {key: `<kind>-<namespace>-<name>.yaml`}; objects that share that slug get their
    API group in it (`<kind>.<group>-...`), and, should two objects still share one, their `tiebreak`."""
    names = {key: _slug(obj.get("kind") or "object", *object_identity(obj)[2:]) for key, _, obj in objects}
    taken = Counter(names.values())
    for key, _, obj in objects:
        if taken[names[key]] > 1:
            group, kind, namespace, name = object_identity(obj)
            names[key] = _slug(f"{kind}.{group}" if group else kind, namespace, name)
    taken = Counter(names.values())
    for key, tiebreak, _ in objects:
        if taken[names[key]] > 1:
            names[key] = _slug(names[key], tiebreak)
    return {key: f"{name}.yaml" for key, name in names.items()}


def object_file_names(objects: list[tuple[Registered, dict[str, Any]]]) -> dict[str, str]:
    """Resource URN -> its object's file name (`file_names`; the Pulumi resource name breaks the last ties)."""
    return file_names([(r.urn, r.name, obj) for r, obj in objects])


def print_tree(run: ProgramRun) -> None:
    children: dict[str | None, list[Registered]] = {}
    urns = {r.urn for r in run.resources}
    for r in run.resources:
        children.setdefault(r.parent if r.parent in urns else None, []).append(r)

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name)):
            modelled = "  (modelled: a child of a remote component)" if r.modelled else ""
            print(f"{'  ' * depth}{'+' if r.custom else '*'} {r.type}  {r.name}{modelled}")
            walk(r.urn, depth + 1)

    walk(None, 0)


def _dump(value: Any) -> str:
    """YAML through libyaml's emitter (PyYAML's C binding: several times faster than the Python one)."""
    return yaml.dump(value, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)


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


def _write_rendered(
    release: Registered, rendering: Future[list[dict[str, Any]]], folder: Path
) -> tuple[list[str], str | None]:
    """Write a release's rendered chart (`charts.render`'s result) into `folder` (one file per object) and validate
    every object: the errors, and why it was not rendered (no sources of its chart at all), if so."""
    try:
        objects = rendering.result()
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
    stable = [(str(i), str(i), _stable(obj)) for i, obj in enumerate(objects)]
    names = file_names(stable)
    for key, _, obj in sorted(stable, key=lambda entry: names[entry[0]]):
        (folder / names[key]).write_text(_dump(obj))
        errors += [f"helm/{release.name}/{names[key]}: {e}" for e in validate.validate(obj)]
    return errors, None


def write_plan(stack: str, run: ProgramRun, out: Path, estimate: cost.CostEstimate | None = None) -> list[str]:
    """Write plan.json, k8s/ and helm/ (each release's values, and its chart rendered with them when the chart
    sources are there: infra/charts.py), deterministically; return every schema error found."""
    (out / "k8s").mkdir(parents=True, exist_ok=True)
    (out / "helm").mkdir(exist_ok=True)
    for old in [*(out / "k8s").glob("*.yaml"), *(out / "helm").glob("*.yaml")]:
        old.unlink()
    for old_dir in (p for p in (out / "helm").iterdir() if p.is_dir()):
        shutil.rmtree(old_dir)
    by_urn = {r.urn: r for r in run.resources}
    ordered = sorted(
        run.resources, key=lambda r: (r.type, r.name, label(by_urn[r.parent]) if r.parent in by_urn else "")
    )
    releases = [r for r in ordered if r.type == HELM_RELEASE]
    have_charts = charts.charts_dir().is_dir()
    # Helm renders in Go (helm_python's library, called without the GIL): the charts render in a worker thread
    # while this one writes and validates the program's own objects.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="helm") as helm_worker:
        renderings = {r.urn: helm_worker.submit(charts.render, helm_release(r)) for r in releases if have_charts}
        objects = [(r, _stable(manifest(r))) for r in ordered if is_kubernetes_object(r)]
        files = {urn: f"k8s/{name}" for urn, name in object_file_names(objects).items()}
        errors: list[str] = []
        for r, obj in sorted(objects, key=lambda pair: files[pair[0].urn]):
            (out / files[r.urn]).write_text(_dump(obj))
            errors += [f"{files[r.urn]}: {e}" for e in validate.validate(obj)]
        not_rendered: dict[str, str] = {}
        for release in releases:
            files[release.urn] = f"helm/{release.name}.yaml"
            (out / files[release.urn]).write_text(_dump(sorted_keys(plain(release.inputs.get("values", {})))))
            if not have_charts:
                not_rendered[release.name] = f"no chart sources at {charts.charts_dir()} (set {charts.CHARTS_DIR_ENV})"
                continue
            release_errors, why_not = _write_rendered(release, renderings[release.urn], out / "helm" / release.name)
            errors += release_errors
            if why_not:
                not_rendered[release.name] = why_not

    def entry(r: Registered) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": r.type,
            "name": r.name,
            "parent": label(by_urn[r.parent]) if r.parent in by_urn else None,
            "custom": r.custom,
        }
        if r.modelled:
            item["modelled"] = True
        if r.urn in files:
            item["file"] = files[r.urn]
        if r.custom and not is_kubernetes_object(r):
            inputs = {k: v for k, v in plain(r.inputs).items() if not k.startswith("__") and k != "values"}
            item["inputs"] = sorted_keys(inputs)
        return item

    plan = {
        "stack": stack,
        "summary": {
            "resources": len(run.resources),
            "kubernetesObjects": len(objects),
            "helmReleases": len(releases),
            "schemaErrors": len(errors),
        },
        "countsByType": dict(sorted(Counter(r.type for r in run.resources).items())),
        "resources": [entry(r) for r in ordered],
        "helmReleases": [
            {
                "name": r.name,
                "chart": r.inputs.get("chart"),
                "version": r.inputs.get("version"),
                "namespace": r.inputs.get("namespace"),
                "file": files[r.urn],
                "rendered": r.name not in not_rendered,
                **({"notRendered": not_rendered[r.name]} if r.name in not_rendered else {}),
            }
            for r in releases
        ],
        "cost": estimate.as_dict() if estimate else None,
        "outputs": sorted_keys(run.outputs),
        "secretOutputs": sorted(run.secret_outputs),
    }
    (out / "plan.json").write_text(json.dumps(plan, indent=2, default=str) + "\n")
    return errors


def stack_file_of(arg: str) -> Path:
    return stack_files.path_of(arg, ROOT)


def stack_name(stack_file: Path) -> str:
    return stack_file.name.split(".")[1] if stack_file.name.startswith("Pulumi.") else stack_file.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name (reads Pulumi.<stack>.yaml) or a path to a stack file")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: .plan/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="print only the cost range and the summary")
    parser.add_argument(
        "--diff", metavar="BASE", default=None, help="compare with a plan directory or the stack at a git ref"
    )
    parser.add_argument(
        "--markdown", metavar="FILE", type=Path, default=None, help="with --diff: write it as a PR comment"
    )
    args = parser.parse_args(argv)
    if args.markdown and not args.diff:
        parser.error("--markdown needs --diff BASE (the comment reports a diff)")

    stack_file = stack_file_of(args.stack)
    if not stack_file.exists():
        known = stack_files.known_stacks(ROOT)
        print(f"error: no stack file {stack_file}; known stacks: {', '.join(known)}", file=sys.stderr)
        return 2
    stack = stack_name(stack_file)
    out = args.out or ROOT / ".plan" / stack
    try:
        parsed = stack_files.read(stack_file)
    except StackFileError as e:
        print(f"plan {stack}: {e}", file=sys.stderr)
        return 2
    config, secret_keys = parsed.engine_config()
    problems = list(parsed.problems)
    # Importing the provider SDKs allocates about a million long-lived objects, which the cyclic collector would
    # scan again and again: collect nothing while the program runs, then freeze what it made (~25% faster).
    gc.disable()
    try:
        run = mocks.run_program(config, secret_keys, stack)
    except PreflightError as e:
        problems += e.problems
    finally:
        gc.freeze()
        gc.enable()
    if problems:
        located = PreflightError([parsed.locate(p) for p in problems])
        print(f"plan {stack}: configuration invalid ({stack_file.name})\n{located}", file=sys.stderr)
        return 2
    secrets = frozenset(k.split(":", 1)[1] for k in secret_keys)
    estimate = cost.estimate(parse(values_from_engine(config), secrets))
    if not args.quiet:
        print_tree(run)
    errors = write_plan(stack, run, out, estimate)
    for error in errors:
        print(f"schema error: {error}", file=sys.stderr)
    if estimate is None:
        print("monthly cost: not estimated (an existing cluster: the stack creates nothing that is billed)")
    else:
        print("\n".join(estimate.table() if not args.quiet else estimate.table()[:1]))
    n_objects = sum(1 for r in run.resources if is_kubernetes_object(r))
    for release in json.loads((out / "plan.json").read_text())["helmReleases"]:
        if not release["rendered"]:
            print(f"note: Helm release {release['name']} not rendered: {release['notRendered']}")
    print(
        f"plan {stack}: {len(run.resources)} resources ({n_objects} Kubernetes objects, "
        f"{len(run.of_type(HELM_RELEASE))} Helm releases), {len(errors)} schema errors"
        f"{', ' + estimate.range if estimate else ''} -> {out}"
    )
    code = 1 if errors else 0
    if args.diff:
        try:
            base = diff.base_plan(args.diff, stack_file, ROOT)
        except diff.BaseError as e:
            print(f"error: --diff {args.diff}: {e}", file=sys.stderr)
            return 2
        with base:
            result = diff.compare(
                diff.read_plan(base.path, base.label), diff.read_plan(out, "this tree"), base.notes, base.fallback_cost
            )
        print("\n".join(result.text()))
        if args.markdown:
            args.markdown.write_text(result.markdown(stack))
            print(f"diff {stack}: markdown -> {args.markdown}")
    return code


if __name__ == "__main__":
    sys.exit(main())
