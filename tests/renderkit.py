"""The one render kit of the tests: run the real Pulumi program under the SDK's mocks (a stack file of the repo,
or config values given in the test), and read what it rendered: plain manifests, Helm values, Secrets, the
serving layer's objects, dependencies, secret scans, NetworkPolicy semantics, the Pod Security `restricted`
rules, and the objects each Helm release's chart renders with the program's values. Runs are cached (the program
is pure); the readers are pure functions over `ProgramRun`."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from infra import charts
from infra.mocks import ProgramRun, Registered, mock_secret, run_program, stack_config
from infra.plan import helm_release, is_kubernetes_object, manifest, plain

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
SERVING_NS = "serving"


# --- running the program ---------------------------------------------------------------------------------


@cache
def run_stack(stack: str) -> ProgramRun:
    """The program for a stack file in the repo."""
    config, secret_keys = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    return run_program(config, secret_keys, stack)


def stack_values(stack: str) -> dict[str, Any]:
    """The `leanrag:` values of a stack file, without the namespace, to modify in a test."""
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in raw.items() if k.startswith("leanrag:")}


def run_values(values: dict[str, Any], stack: str = "test", secrets: dict[str, str] | None = None) -> ProgramRun:
    """The program for `leanrag:` values given in the test (secrets as plain strings, marked secret)."""
    config = {f"leanrag:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    secrets = secrets or {}
    config.update({f"leanrag:{k}": v for k, v in secrets.items()})
    return run_program(config, [f"leanrag:{k}" for k in secrets], stack)


@cache
def _run_json(payload: str, secrets: str) -> ProgramRun:
    return run_values(json.loads(payload), stack="test", secrets=json.loads(secrets) or None)


def run_variant(vals: dict[str, Any], secrets: dict[str, str] | None = None) -> ProgramRun:
    """The program for modified stack values, as stack `test` (cached by content)."""
    return _run_json(json.dumps(vals, sort_keys=True), json.dumps(secrets or {}, sort_keys=True))


def dev() -> ProgramRun:
    return run_stack("dev")


def prod() -> ProgramRun:
    return run_stack("prod")


def local() -> ProgramRun:
    return run_stack("local")


def with_serving(stack: str, **serving: Any) -> dict[str, Any]:
    """A stack's values with keys of leanrag:serving replaced."""
    vals = stack_values(stack)
    vals["serving"] = {**vals.get("serving", {}), **serving}
    return vals


# --- reading what it rendered ----------------------------------------------------------------------------


def unwrap(value: Any) -> Any:
    """Inputs with secrets unwrapped (to check what a Secret really holds)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def manifests(run: ProgramRun) -> list[dict[str, Any]]:
    return [manifest(r) for r in run.resources if is_kubernetes_object(r)]


def find(run: ProgramRun, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    found = [
        m
        for m in manifests(run)
        if m["kind"] == kind
        and m["metadata"]["name"] == name
        and (namespace is None or m["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def of_kind(run: ProgramRun, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for m in manifests(run)
        if m["kind"] == kind and (namespace is None or m["metadata"].get("namespace") == namespace)
    ]


def secret_data(run: ProgramRun, name: str, namespace: str) -> dict[str, str]:
    """What a Secret really holds (unwrapped), after checking its values are marked secret."""
    raw = [
        r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == name and r.inputs["metadata"]["namespace"] == namespace
    ]
    assert len(raw) == 1, f"expected one Secret {namespace}/{name}"
    string_data = raw[0].inputs["stringData"]
    assert rpc.is_rpc_secret(string_data) or all(rpc.is_rpc_secret(v) for v in string_data.values())
    return unwrap(string_data)


def release(run: ProgramRun, helm_name: str) -> Registered:
    found = [r for r in run.of_type(HELM_RELEASE) if r.inputs.get("name") == helm_name]
    assert len(found) == 1, f"expected one Helm release {helm_name}"
    return found[0]


def helm_values(run: ProgramRun, helm_name: str) -> dict[str, Any]:
    return plain(release(run, helm_name).inputs.get("values", {}))


def serving_objects(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object the serving layer renders: the serving namespace's, and the cluster-scoped
    objects under the serving components."""
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
    """The serving layer's objects of `kind`."""
    return [o for o in serving_objects(run) if o["kind"] == kind]


def obj(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    """The serving layer's one object of `kind` named `name`."""
    found = [o for o in objects_of(run, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def workloads(run: ProgramRun) -> list[dict[str, Any]]:
    """The serving layer's Deployments, StatefulSets, DaemonSets and Jobs."""
    return [o for o in serving_objects(run) if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def container(workload: Mapping[str, Any]) -> dict[str, Any]:
    """The first container of a workload's pods."""
    return pod_spec(workload)["containers"][0]


def resource_named(run: ProgramRun, name: str, type_suffix: str = "") -> Registered:
    found = [r for r in run.resources if r.name == name and r.type.endswith(type_suffix)]
    assert len(found) == 1, f"expected one resource {name}, found {[r.type for r in found]}"
    return found[0]


def depends_on(run: ProgramRun, resource: Registered) -> set[str]:
    """Names of the resources `resource` waits for."""
    by_urn = {r.urn: r.name for r in run.resources}
    return {by_urn.get(u, u) for u in resource.dependencies}


def generated_secrets(run: ProgramRun) -> dict[str, str]:
    """Resource name -> the value each RandomPassword has under the mocks."""
    return {r.name: mock_secret(r.name) for r in run.of_type(RANDOM_PASSWORD)}


def plaintext_leaks(run: ProgramRun) -> list[str]:
    """Where a generated secret appears in plain text. Only a Kubernetes Secret may hold one (marked secret in
    the inputs); anywhere else, marking it secret does not help (a ConfigMap or Helm value is plain text in
    the cluster), so other inputs are searched unwrapped. Stack outputs are searched with secrets redacted."""
    secrets = generated_secrets(run)
    leaks = []
    for r in run.resources:
        inputs = plain(r.inputs) if r.type == "kubernetes:core/v1:Secret" else unwrap(r.inputs)
        text = json.dumps(inputs, default=str)
        leaks += [f"{r.type} {r.name} holds {n}" for n, v in secrets.items() if v in text]
    outputs = json.dumps(run.outputs, default=str)
    leaks += [f"stack outputs hold {n}" for n, v in secrets.items() if v in outputs]
    return leaks


# --- what a pod really sees: env from Secrets, mounted configs with their references resolved --------------

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
LOCATOR_KEYS = re.compile(r"(^|_)(host|hosts|uri|url|urls|endpoint|api_base|base_url|address|dsn)$", re.IGNORECASE)
"""Config keys whose values name where a service is (a URL or a host): never a place for a credential."""
_OGX_REF = re.compile(r"\$\{env\.([A-Z0-9_]+)(?::=[^}]*)?\}")
_LITELLM_REF = re.compile(r"os\.environ/([A-Z0-9_]+)")
_KUBE_REF = re.compile(r"\$\(([A-Za-z0-9_]+)\)")


def _objects_unwrapped(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object with secrets unwrapped (the values a pod would really get)."""
    return [plain(unwrap(r.inputs)) | {"kind": r.inputs.get("kind")} for r in run.resources if is_kubernetes_object(r)]


def _data_of(objects: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, str]:
    for o in objects:
        meta = o.get("metadata") or {}
        if o.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
            return {**(o.get("data") or {}), **(o.get("stringData") or {})}
    return {}


def container_env(objects: list[dict[str, Any]], namespace: str, container: Mapping[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet fills it: plain values, Secret and ConfigMap keys."""
    env: dict[str, str] = {}
    for e in container.get("env", []):
        source = e.get("valueFrom") or {}
        if "value" in e:
            env[e["name"]] = _KUBE_REF.sub(lambda m: env.get(m.group(1), m.group(0)), str(e["value"]))
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[e["name"]] = str(_data_of(objects, "Secret", namespace, ref["name"]).get(ref["key"], ""))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[e["name"]] = str(_data_of(objects, "ConfigMap", namespace, ref["name"]).get(ref["key"], ""))
    return env


def mounted_configs(objects: list[dict[str, Any]], namespace: str, pod: Mapping[str, Any]) -> dict[str, str]:
    """ConfigMap files mounted into the pod: '<ConfigMap>/<key>' -> text."""
    files = {}
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            for key, text in _data_of(objects, "ConfigMap", namespace, name).items():
                files[f"{name}/{key}"] = str(text)
    return files


def resolve_references(text: str, env: Mapping[str, str]) -> str:
    """A config as its program reads it: OGX's ${env.NAME}, LiteLLM's os.environ/NAME, Kubernetes' $(NAME)."""
    for pattern in (_OGX_REF, _LITELLM_REF, _KUBE_REF):
        text = pattern.sub(lambda m: env.get(m.group(1), m.group(0)), text)
    return text


def _locators(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string that names where something is: under a locator key, or a URL."""
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(v, str) and (LOCATOR_KEYS.search(str(k)) or "://" in v):
                yield sub, v
            else:
                yield from _locators(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _locators(v, f"{path}[{i}]")
    elif isinstance(value, str) and "://" in value:
        yield path, value


def _parsed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def locator_leaks(run: ProgramRun) -> list[str]:
    """Where a generated secret ends up, once every reference is resolved as the pod would resolve it, inside a
    URL or host string of a mounted config or an environment variable, or on a command line (Kubernetes expands
    $(VAR) in args). A service logs such strings (OGX prints its resolved run config at start-up) and clients
    echo URLs in errors, so only fields meant for secrets (env vars from Secrets, password/token fields) may
    hold them."""
    secrets = generated_secrets(run)
    objects = _objects_unwrapped(run)
    leaks = []
    for o in objects:
        if o.get("kind") not in WORKLOAD_KINDS:
            continue
        ns, name = o["metadata"].get("namespace", ""), o["metadata"]["name"]
        pod = o["spec"]["template"]["spec"]
        files = mounted_configs(objects, ns, pod)
        for c in containers(pod):
            env = container_env(objects, ns, c)
            where = f"{o['kind']} {ns}/{name} container {c['name']}"
            cmdline = " ".join(resolve_references(str(a), env) for a in [*c.get("command", []), *c.get("args", [])])
            leaks += [f"{where}: command line holds {n}" for n, v in secrets.items() if v in cmdline]
            for var, value in env.items():
                if "://" in value or LOCATOR_KEYS.search(var):
                    leaks += [f"{where}: env {var} (a URL/host) holds {n}" for n, v in secrets.items() if v in value]
            for file, text in files.items():
                for path, value in _locators(_parsed(resolve_references(text, env))):
                    leaks += [f"{where}: {file} {path} holds {n}" for n, v in secrets.items() if v in value]
    return leaks


def rendered_config_files(run: ProgramRun) -> dict[str, str]:
    """Every config file the program renders into a ConfigMap: '<namespace>/<ConfigMap>/<key>' -> text."""
    out = {}
    for o in _objects_unwrapped(run):
        if o.get("kind") == "ConfigMap":
            for key, text in (o.get("data") or {}).items():
                out[f"{o['metadata'].get('namespace')}/{o['metadata']['name']}/{key}"] = str(text)
    return out


def containers(pod_spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers") or []  # charts may render `initContainers: null`
    yield from pod_spec.get("containers") or []


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- Pod Security Standards: restricted -----------------------------------------------------------------


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
"""Volume types Pod Security `restricted` allows (plus the volume's `name` key)."""


def restricted_violations(pod_spec: Mapping[str, Any]) -> list[str]:
    """The Pod Security `restricted` rules a pod spec breaks (the Kubernetes pod security standards, the subset
    the platform relies on)."""
    out = []
    pod = pod_spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            out.append(flag)
    for v in pod_spec.get("volumes") or []:
        if set(v) - _RESTRICTED_VOLUMES:
            out.append(f"volume {v['name']} of type {sorted(set(v) - _RESTRICTED_VOLUMES)}")
    for c in containers(pod_spec):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if caps.get("drop") != ["ALL"]:
            out.append(f"{name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: adds capabilities")
        if not (sc.get("runAsNonRoot", pod.get("runAsNonRoot"))):
            out.append(f"{name}: runAsNonRoot must be true")
        if sc.get("runAsUser", pod.get("runAsUser")) == 0:
            out.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile must be RuntimeDefault")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{name}: hostPort")
    return out


# --- NetworkPolicy semantics ----------------------------------------------------------------------------


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, src_ns: str, src_labels: Mapping[str, str]) -> bool:
    if "ipBlock" in peer:
        return False  # pods are matched by selectors in these tests
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    ns_ok = _selects(ns_sel, {NAMESPACE_LABEL: src_ns}) if ns_sel is not None else src_ns == policy_ns
    pod_ok = _selects(pod_sel, src_labels) if pod_sel is not None else True
    return ns_ok and pod_ok


def _port_matches(ports: list[dict[str, Any]] | None, port: int) -> bool:
    if not ports:
        return True
    return any(p.get("port") in (None, port) and p.get("protocol", "TCP") == "TCP" for p in ports)


def admits(
    policies: list[dict[str, Any]], src: tuple[str, Mapping[str, str]], dst: tuple[str, Mapping[str, str]], port: int
) -> bool:
    """Would the NetworkPolicies let pod `src` (namespace, labels) open TCP `port` on pod `dst`? (Ingress.)"""
    dst_ns, dst_labels = dst
    src_ns, src_labels = src
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == dst_ns
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], dst_labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            from_ok = not peers or any(_peer_matches(p, dst_ns, src_ns, src_labels) for p in peers)
            if from_ok and _port_matches(rule.get("ports"), port):
                return True
    return False


def egress_open(policies: list[dict[str, Any]], pod: tuple[str, Mapping[str, str]]) -> bool:
    """Whether the pod may open any outgoing connection at all."""
    ns, labels = pod
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == ns
        and "Egress" in p["spec"].get("policyTypes", [])
        and _selects(p["spec"]["podSelector"], labels)
    ]
    return not selecting or any(p["spec"].get("egress") for p in selecting)


# --- Helm releases rendered with their charts (infra/charts.py) -------------------------------------------------


@cache
def _rendered(stack: str, helm_name: str) -> tuple[str, ...]:
    return tuple(json.dumps(o) for o in charts.render(helm_release(release(run_stack(stack), helm_name))))


def helm_objects(stack: str, helm_name: str) -> list[dict[str, Any]]:
    """The objects the chart of a repo stack's Helm release renders with the values the program passes (as Helm
    would install them; fresh copies)."""
    return [json.loads(o) for o in _rendered(stack, helm_name)]


def pod_templates(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload among `objects` (Deployments, StatefulSets, DaemonSets, Jobs)."""
    out = []
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]))
    return out
