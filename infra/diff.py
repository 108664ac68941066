"""Compare two offline plans: what a change adds, removes and changes, field by field, and what it costs.

A base is a plan directory (`python -m infra.plan ... --out DIR`) or a git ref: the stack is then planned at
that commit in a temporary copy (`git archive`, no network, the current environment's packages). Resources are
matched by type and name, Kubernetes objects by API group, kind, namespace and name (so a base written with
numbered file names still compares), Helm releases with their values. Changed fields are printed as a path and
old -> new; values the plan redacted stay redacted, and a Secret's data is never shown.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from infra import charts
from infra.mocks import REDACTED, stack_config
from stacks import cost
from stacks.load import parse, values_from_engine
from stacks.preflight import PreflightError

MISSING: Any = object()
"""A field on one side only."""
_OBJECT_TYPE_EXCLUDED = ("pulumi:providers:", "kubernetes:helm.sh/", "kubernetes:yaml")
_MAX_FIELDS, _MAX_ITEMS, _MAX_VALUE = 20, 100, 100
_MAX_COMMENT = 60_000
"""Characters of a --markdown comment (GitHub refuses comments over 65,536)."""


class BaseError(Exception):
    """The --diff base cannot be read (the message says why and what to pass)."""


# --- reading plans -----------------------------------------------------------------------------------------


@dataclass
class Plan:
    label: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`<type> <name>` -> inputs (Helm releases with their values), for everything but Kubernetes objects."""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`<Kind>[.<group>] <namespace>/<name>` -> the manifest."""
    cost: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    has_inputs: bool = True
    """False for a plan written before plans recorded resource inputs: its resources compare by presence."""


def _is_object_type(type_: str, custom: bool) -> bool:
    return custom and type_.startswith("kubernetes:") and not type_.startswith(_OBJECT_TYPE_EXCLUDED)


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    kind = f"{obj.get('kind')}.{group}" if group else str(obj.get("kind"))
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{kind} {where}{meta.get('name')}"


def read_plan(folder: Path, label: str) -> Plan:
    """A plan directory as written by infra.plan (this version's, or an older one's without inputs or cost)."""
    plan = Plan(label)
    index = folder / "plan.json"
    if not index.exists():
        plan.notes.append(f"{label}: no plan (nothing to compare with: everything counts as added)")
        return plan
    data = json.loads(index.read_text())
    for path in sorted((folder / "k8s").glob("*.yaml")):
        obj = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        plan.objects[object_key(obj)] = obj
    for path in sorted((folder / "helm").glob("*/*.yaml")):  # what each release's chart renders (infra/charts.py)
        obj = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        plan.objects[f"{object_key(obj)} (Helm release {path.parent.name})"] = obj
    helm_files = {h["name"]: h.get("file", f"helm/{h['name']}.yaml") for h in data.get("helmReleases", [])}
    seen: dict[str, int] = {}
    for r in data.get("resources", []):
        if _is_object_type(r["type"], r.get("custom", True)):
            continue
        key = f"{r['type']} {r['name']}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key} (under {r.get('parent')})"
        inputs = dict(r.get("inputs") or {})
        if r["type"] == "kubernetes:helm.sh/v3:Release" and r["name"] in helm_files:
            values = folder / helm_files[r["name"]]
            inputs["values"] = yaml.load(values.read_text(), Loader=yaml.CSafeLoader) if values.exists() else None
        plan.resources[key] = inputs
    plan.cost = data.get("cost")
    plan.has_inputs = any("inputs" in r for r in data.get("resources", []))
    return plan


# --- the base --------------------------------------------------------------------------------------------


@dataclass
class BasePlan:
    """A base plan on disk; a temporary one (a git ref) is removed on exit."""

    path: Path
    label: str
    tmp: tempfile.TemporaryDirectory[str] | None = None
    fallback_cost: dict[str, Any] | None = None
    """The base stack file priced by this tree's cost model, for a base plan written before plans had a cost."""
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> BasePlan:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)


def _priced(stack_file: Path) -> dict[str, Any] | None:
    try:
        config, secret_keys = stack_config(stack_file)
        estimate = cost.estimate(parse(values_from_engine(config), frozenset(k.split(":", 1)[1] for k in secret_keys)))
    except (PreflightError, cost.UnpricedStack, yaml.YAMLError):
        return None
    return estimate.as_dict() if estimate else None


def base_plan(base: str, stack_file: Path, root: Path) -> BasePlan:
    """The plan to compare with: `base` is a plan directory, or a git ref whose commit is planned offline."""
    folder = Path(base)
    if folder.is_dir():
        if not (folder / "plan.json").exists():
            raise BaseError("a folder without plan.json; pass a plan directory (--out of an earlier plan) or a git ref")
        return BasePlan(folder, str(folder))
    rev = _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if rev.returncode != 0:
        raise BaseError("neither a plan directory nor a git ref of this repository (try origin/main or a commit)")
    sha = rev.stdout.decode().strip()
    archive = _git(root, "archive", "--format=tar", sha)
    if archive.returncode != 0:
        raise BaseError(f"git archive failed: {archive.stderr.decode().strip()}")
    tmp = tempfile.TemporaryDirectory(prefix="leanrag-plan-base-")
    src, out = Path(tmp.name) / "src", Path(tmp.name) / "plan"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(src, filter="data")
    label = f"{base} ({sha[:10]})"
    result = BasePlan(out, label, tmp)
    inside = stack_file.resolve().is_relative_to(root)
    base_stack = src / stack_file.resolve().relative_to(root) if inside else stack_file
    if not base_stack.exists():
        result.notes.append(f"{stack_file.name} does not exist at {label}")
        return result
    print(f"planning the base: {stack_file.name} at {label} ...", file=sys.stderr, flush=True)
    # the copy is no checkout: point it at the chart sources this tree renders from, so both sides render them
    env = {**os.environ, charts.CHARTS_DIR_ENV: str(charts.charts_dir())}
    proc = subprocess.run(
        [sys.executable, "-m", "infra.plan", str(base_stack), "--out", str(out), "--quiet"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        first = (proc.stderr.strip().splitlines() or ["no output"])[:3]
        result.notes.append(f"the base could not be planned (exit {proc.returncode}): {' / '.join(first)}")
    result.fallback_cost = _priced(base_stack)
    return result


# --- comparing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    kind: str
    """added, removed or changed."""
    what: str
    """`resource` or `object`."""
    key: str
    fields: tuple[FieldChange, ...] = ()


def _named(items: list[Any]) -> bool:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return len(names) == len(items) and None not in names and len(set(names)) == len(names)


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Every leaf that differs: `a.b[2].c` paths; lists of named items (containers, env, ports) by name."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += field_changes(old.get(key, MISSING), new.get(key, MISSING), sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if old and new and _named(old) and _named(new):
            olds, news = {i["name"]: i for i in old}, {i["name"]: i for i in new}
            out = []
            for name in [*olds, *(n for n in news if n not in olds)]:
                out += field_changes(olds.get(name, MISSING), news.get(name, MISSING), f"{path}[{name}]")
            return out
        out = []
        for i in range(max(len(old), len(new))):
            out += field_changes(
                old[i] if i < len(old) else MISSING, new[i] if i < len(new) else MISSING, f"{path}[{i}]"
            )
        return out
    return [] if old == new else [FieldChange(path, old, new)]


def _redacted(key: str, changes: list[FieldChange]) -> list[FieldChange]:
    """A Secret's data and stringData never leave the plan, even as a diff."""
    if not key.startswith("Secret "):
        return changes
    return [
        FieldChange(
            c.path, REDACTED if c.old is not MISSING else MISSING, REDACTED if c.new is not MISSING else MISSING
        )
        if c.path.startswith(("data", "stringData"))
        else c
        for c in changes
    ]


def _compare(base: dict[str, Any], head: dict[str, Any], what: str) -> list[Change]:
    changes = [Change("removed", what, k) for k in sorted(set(base) - set(head))]
    changes += [Change("added", what, k) for k in sorted(set(head) - set(base))]
    for key in sorted(set(base) & set(head)):
        fields = _redacted(key, field_changes(base[key], head[key]))
        if fields:
            changes.append(Change("changed", what, key, tuple(fields)))
    return changes


@dataclass
class DiffResult:
    base: Plan
    head: Plan
    changes: list[Change]
    base_cost: dict[str, Any] | None
    head_cost: dict[str, Any] | None
    notes: list[str]

    def count(self, kind: str, what: str | None = None) -> int:
        return sum(1 for c in self.changes if c.kind == kind and (what is None or c.what == what))

    # --- cost ---

    def cost_delta(self) -> tuple[float, float] | None:
        if not (self.base_cost and self.head_cost):
            return None
        b, h = self.base_cost["monthly"], self.head_cost["monthly"]
        return h["min"] - b["min"], h["max"] - b["max"]

    def cost_line_changes(self) -> list[tuple[str, float, float]]:
        """(item, max before, max after) of the cost lines that changed."""
        if not (self.base_cost and self.head_cost):
            return []
        before = {line["item"]: line["max"] for line in self.base_cost["lines"]}
        after = {line["item"]: line["max"] for line in self.head_cost["lines"]}
        return [
            (item, before.get(item, 0.0), after.get(item, 0.0))
            for item in [*before, *(i for i in after if i not in before)]
            if before.get(item) != after.get(item)
        ]

    def cost_summary(self) -> str:
        def rng(c: dict[str, Any] | None) -> str:
            return f"{cost.usd(c['monthly']['min'])}..{cost.usd(c['monthly']['max'])}" if c else "(not priced)"

        delta = self.cost_delta()
        change = f" (min {_signed(delta[0])}, max {_signed(delta[1])})" if delta else ""
        return f"{rng(self.base_cost)} -> {rng(self.head_cost)}/month{change}"

    # --- output ---

    def headline(self) -> str:
        return (
            f"{self.count('changed')} changed, {self.count('added')} added, {self.count('removed')} removed; "
            f"monthly cost {self.cost_summary()}"
        )

    def text(self) -> list[str]:
        out = [f"diff: {self.base.label} -> {self.head.label}"]
        out += [f"  note: {n}" for n in self.notes]
        for what, title in (("resource", "resources"), ("object", "Kubernetes objects")):
            out.append(
                f"  {title}: {self.count('added', what)} added, {self.count('removed', what)} removed, "
                f"{self.count('changed', what)} changed"
            )
        sign = {"added": "+", "removed": "-", "changed": "~"}
        for c in self.changes:
            out.append(f"  {sign[c.kind]} {c.key}")
            out += [f"      {line}" for line in _field_lines(c.fields)]
        out.append(f"  monthly cost: {self.cost_summary()}")
        out += [
            f"      {item}: {_amount(b)} -> {_amount(a)} at maxNodes ({_signed(a - b)})"
            for item, b, a in self.cost_line_changes()
        ]
        return out

    def markdown(self, stack: str) -> str:
        """A pull-request comment: headline, cost delta table, the changes collapsed."""
        delta = self.cost_delta()
        head = [
            f"### Offline plan `{stack}` against `{self.base.label}`",
            "",
            f"**{self.count('changed')} changed · {self.count('added')} added · {self.count('removed')} removed**"
            f" · monthly cost {self.cost_summary()}",
            "",
        ]
        head += [f"> {n}" for n in self.notes] + ([""] if self.notes else [])
        if self.base_cost and self.head_cost and delta:
            b, h = self.base_cost["monthly"], self.head_cost["monthly"]
            head += [
                "| monthly cost (USD) | min | max |",
                "|---|--:|--:|",
                f"| before | {cost.usd(b['min'])} | {cost.usd(b['max'])} |",
                f"| after | {cost.usd(h['min'])} | {cost.usd(h['max'])} |",
                f"| change | {_signed(delta[0])} | {_signed(delta[1])} |",
                "",
            ]
            lines = self.cost_line_changes()
            if lines:
                head.append(
                    "Cost lines that changed (at maxNodes): "
                    + "; ".join(f"{item} {_amount(b)} → {_amount(a)}" for item, b, a in lines)
                )
                head.append("")
        if not self.changes:
            return "\n".join([*head, "No resource or Kubernetes object changes.", ""])
        body: list[str] = []
        size = sum(len(line) + 1 for line in head)
        for kind in ("changed", "added", "removed"):
            items = [c for c in self.changes if c.kind == kind]
            if not items:
                continue
            body += [f"<details><summary>{kind.capitalize()} ({len(items)})</summary>", ""]
            shown = 0
            for c in items[:_MAX_ITEMS]:
                entry = [f"- `{c.key}`", *(f"  - `{line}`" for line in _field_lines(c.fields))]
                if size + sum(len(line) + 1 for line in entry) > _MAX_COMMENT:
                    break
                body += entry
                size += sum(len(line) + 1 for line in entry)
                shown += 1
            if shown < len(items):
                body.append(f"- ... and {len(items) - shown} more (see the plan artifact)")
            body += ["", "</details>", ""]
        return "\n".join(head + body)


def _amount(amount: float) -> str:
    """Whole dollars, or cents below $100 (a bucket line moves by cents)."""
    return f"${amount:,.2f}" if abs(amount) < 100 else cost.usd(amount)


def _signed(amount: float) -> str:
    sign = "+" if amount >= 0 else "-"
    return f"{sign}${abs(amount):,.2f}" if abs(amount) < 10 else f"{sign}${abs(amount):,.0f}"


def _show(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _field_lines(fields: tuple[FieldChange, ...]) -> list[str]:
    out: list[str] = []
    for f in fields[:_MAX_FIELDS]:
        if isinstance(f.old, str) and isinstance(f.new, str) and ("\n" in f.old or "\n" in f.new):
            lines = list(difflib.unified_diff(f.old.splitlines(), f.new.splitlines(), lineterm="", n=0))[2:]
            shown = [line for line in lines if not line.startswith("@@")][:_MAX_FIELDS]
            out.append(f"{f.path}: (text) " + " | ".join(shown))
        else:
            out.append(f"{f.path}: {_show(f.old)} -> {_show(f.new)}")
    if len(fields) > _MAX_FIELDS:
        out.append(f"... and {len(fields) - _MAX_FIELDS} more fields")
    return out


def compare(
    base: Plan, head: Plan, base_notes: list[str] | None = None, fallback_cost: dict[str, Any] | None = None
) -> DiffResult:
    """What changes from `base` to `head`."""
    notes = [*(base_notes or []), *base.notes, *head.notes]
    head_resources = head.resources
    if not (base.has_inputs and head.has_inputs) and base.resources and head.resources:
        notes.append("one plan predates resource inputs in plan.json: resources compare by presence (and Helm values)")
        strip = {k: {"values": v["values"]} if "values" in v else {} for k, v in base.resources.items()}
        base = Plan(base.label, strip, base.objects, base.cost, base.notes)
        head_resources = {k: {"values": v["values"]} if "values" in v else {} for k, v in head.resources.items()}
    changes = _compare(base.resources, head_resources, "resource") + _compare(base.objects, head.objects, "object")
    base_cost = base.cost
    if base_cost is None and fallback_cost is not None:
        base_cost = fallback_cost
        notes.append("the base plan has no cost estimate: the base stack file is priced with this tree's model")
    return DiffResult(base, head, changes, base_cost, head.cost, notes)
