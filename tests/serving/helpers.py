"""Shared helpers for the serving-layer tests: the stacks and config variations run under the SDK's mocks,
and rendered manifests (secrets masked, structure kept) to assert on and validate."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from infra.mocks import ProgramRun, Registered
from infra.plan import is_kubernetes_object, manifest
from tests.stackrun import run_stack, run_values, stack_values

SERVING_NS = "serving"


def serving_objects(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object the serving layer renders: the serving namespace's, and the cluster-scoped
    objects under the ModelServing component."""
    serving_urns = {r.urn for r in run.resources if r.type.startswith("leanrag:serving:")}
    out = []
    for r in run.resources:
        if not is_kubernetes_object(r):
            continue
        obj = manifest(r)
        if (obj.get("metadata") or {}).get("namespace") == SERVING_NS or r.parent in serving_urns:
            out.append(obj)
    return out


def objects_of(run: ProgramRun, kind: str) -> list[dict[str, Any]]:
    return [o for o in serving_objects(run) if o["kind"] == kind]


def obj(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects_of(run, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def resource_named(run: ProgramRun, name: str, type_suffix: str = "") -> Registered:
    found = [r for r in run.resources if r.name == name and r.type.endswith(type_suffix)]
    assert len(found) == 1, f"expected one resource {name}, found {[r.type for r in found]}"
    return found[0]


def depends_on(run: ProgramRun, resource: Registered) -> set[str]:
    """Names of the resources `resource` waits for."""
    by_urn = {r.urn: r.name for r in run.resources}
    return {by_urn.get(u, u) for u in resource.dependencies}


def dev() -> ProgramRun:
    return run_stack("dev")


def prod() -> ProgramRun:
    return run_stack("prod")


def local() -> ProgramRun:
    return run_stack("local")


def values(stack: str) -> dict[str, Any]:
    return stack_values(stack)


@cache
def _run_json(payload: str, secrets: str) -> ProgramRun:
    return run_values(json.loads(payload), stack="test", secrets=json.loads(secrets) or None)


def run_variant(vals: dict[str, Any], secrets: dict[str, str] | None = None) -> ProgramRun:
    """The program for modified stack values (cached by content: runs are pure)."""
    return _run_json(json.dumps(vals, sort_keys=True), json.dumps(secrets or {}, sort_keys=True))


def with_serving(stack: str, **serving: Any) -> dict[str, Any]:
    """A stack's values with keys of leanrag:serving replaced."""
    vals = copy.deepcopy(values(stack))
    vals["serving"] = {**vals.get("serving", {}), **serving}
    return vals


_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "name",
}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What keeps a pod spec from Pod Security `restricted` (Kubernetes pod security standards)."""
    out = []
    psc = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            out.append(flag)
    for v in pod.get("volumes", []):
        if set(v) - _RESTRICTED_VOLUMES:
            out.append(f"volume {v['name']} of type {sorted(set(v) - _RESTRICTED_VOLUMES)}")
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: capabilities not dropped")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            out.append(f"{name}: runAsNonRoot not set")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: no RuntimeDefault seccomp profile")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{name}: hostPort")
    return out


def workloads(run: ProgramRun) -> list[dict[str, Any]]:
    return [o for o in serving_objects(run) if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
