"""The `local` stack as the program renders it, read into what the demo starts.

`render()` runs the real Pulumi program (infra/__main__.py) for Pulumi.local.yaml under the SDK's mocks, as
`make plan` (infra/plan.py) and the tests (tests/renderkit.py) do, and keeps what a process on this machine needs:
the containers of every Deployment, StatefulSet and Job (image, command, args, env entries, mounts, volumes), the
ConfigMaps, the Services, the Secrets and the stack outputs, plus the typed stack config for settings the program
does not render into a pod (the benchmark of the CPU tier).

Secrets: under the mocks every RandomPassword has a known value (`infra.mocks.mock_secret`). A Secret's key is kept
as a `SecretText`: its rendered text and which RandomPassword values it holds (the gateway's master key is
"sk-" + a password, Redis's auth.conf is "requirepass " + a password), so local/site.py can put a locally
generated password in the same places. Nothing here is a real secret.

Runs in `.venv` (the Pulumi SDK); pure otherwise: it starts nothing and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from infra.mocks import ProgramRun, mock_secret, run_program, stack_config
from infra.plan import is_kubernetes_object, manifest, plain
from stacks.config import NAMESPACE, StackConfig
from stacks.load import parse

ROOT = Path(__file__).resolve().parent.parent
STACK = "local"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Container:
    """One container of a rendered workload, as its pod spec says."""

    kind: str
    """Deployment, StatefulSet, DaemonSet or Job."""
    workload: str
    """The workload's name (metadata.name)."""
    namespace: str
    labels: dict[str, str]
    """The pod template's labels (what Services select)."""
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    """The rendered entries: {name, value} or {name, valueFrom: {secretKeyRef | configMapKeyRef}}."""
    mounts: list[dict[str, Any]]
    volumes: dict[str, dict[str, Any]]
    """The pod's volumes by name."""
    init: bool = False
    """An init container."""

    @property
    def key(self) -> str:
        """<namespace>/<workload>: how the demo names it."""
        return f"{self.namespace}/{self.workload}"


@dataclass(frozen=True)
class ServicePort:
    """One port of a rendered Service."""

    name: str
    namespace: str
    port: int
    target: str | int
    """The container port (name or number) it forwards to."""
    selector: dict[str, str]

    @property
    def host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class SecretText:
    """One key of a rendered Secret: its text under the mocks, and RandomPassword name -> the mock value it holds."""

    text: str = field(repr=False)
    passwords: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class PasswordSpec:
    """How a RandomPassword is generated (its inputs)."""

    length: int
    special: bool


@dataclass(frozen=True)
class RenderedStack:
    stack: str
    config: StackConfig
    containers: list[Container]
    services: list[ServicePort]
    config_maps: dict[tuple[str, str], dict[str, str]]
    """(namespace, name) -> data."""
    secrets: dict[tuple[str, str], dict[str, SecretText]]
    """(namespace, name) -> key -> text."""
    passwords: dict[str, PasswordSpec]
    """RandomPassword resource name -> how it is generated."""
    helm_releases: list[str]
    """The Helm releases' names (their workloads are not rendered objects)."""
    outputs: dict[str, Any]
    """Stack outputs, secrets redacted ("[secret]")."""

    def container(self, namespace: str, workload: str, init: bool = False) -> Container:
        """The (first) container of a workload; KeyError naming what exists when there is none."""
        for c in self.containers:
            if (c.namespace, c.workload, c.init) == (namespace, workload, init):
                return c
        have = ", ".join(sorted({c.key for c in self.containers}))
        raise KeyError(f"the {self.stack} stack renders no workload {namespace}/{workload} (it has: {have})")

    def workloads(self) -> list[str]:
        """<namespace>/<workload> of every rendered workload, in render order."""
        return list(dict.fromkeys(c.key for c in self.containers))

    def config_file(self, namespace: str, name: str, key: str) -> str:
        return self.config_maps[(namespace, name)][key]


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _containers(obj: dict[str, Any]) -> list[Container]:
    pod = obj["spec"]["template"]
    spec, labels = pod["spec"], (pod.get("metadata") or {}).get("labels") or {}
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for claim in obj["spec"].get("volumeClaimTemplates") or []:  # a StatefulSet's claims
        name = claim["metadata"]["name"]
        volumes[name] = {"name": name, "persistentVolumeClaim": {"claimName": name}}
    meta = obj["metadata"]
    out = []
    for init, items in ((True, spec.get("initContainers") or []), (False, spec.get("containers") or [])):
        for c in items:
            out.append(
                Container(
                    kind=obj["kind"],
                    workload=meta["name"],
                    namespace=meta.get("namespace", ""),
                    labels=dict(labels),
                    name=c["name"],
                    image=c.get("image", ""),
                    command=[str(a) for a in c.get("command") or []],
                    args=[str(a) for a in c.get("args") or []],
                    env=list(c.get("env") or []),
                    mounts=list(c.get("volumeMounts") or []),
                    volumes=volumes,
                    init=init,
                )
            )
    return out


def _services(obj: dict[str, Any]) -> list[ServicePort]:
    meta, spec = obj["metadata"], obj["spec"]
    return [
        ServicePort(
            name=meta["name"],
            namespace=meta.get("namespace", ""),
            port=int(p["port"]),
            target=p.get("targetPort", int(p["port"])),
            selector=dict(spec.get("selector") or {}),
        )
        for p in spec.get("ports") or []
    ]


def read(run: ProgramRun, config: StackConfig, stack: str = STACK) -> RenderedStack:
    """What the demo needs of a program run."""
    passwords = {
        r.name: PasswordSpec(int(r.inputs.get("length", 32)), bool(r.inputs.get("special", False)))
        for r in run.of_type(RANDOM_PASSWORD)
    }
    mocked = {name: mock_secret(name) for name in passwords}
    containers: list[Container] = []
    services: list[ServicePort] = []
    config_maps: dict[tuple[str, str], dict[str, str]] = {}
    secrets: dict[tuple[str, str], dict[str, SecretText]] = {}
    for r in run.resources:
        if not is_kubernetes_object(r):
            continue
        obj = manifest(r)
        kind, meta = obj["kind"], obj["metadata"]
        where = (meta.get("namespace", ""), meta["name"])
        if kind in WORKLOAD_KINDS:
            containers += _containers(obj)
        elif kind == "Service":
            services += _services(obj)
        elif kind == "ConfigMap":
            config_maps[where] = {k: str(v) for k, v in (obj.get("data") or {}).items()}
        elif kind == "Secret":
            data = plain(_unwrap({**(r.inputs.get("data") or {}), **(r.inputs.get("stringData") or {})}))
            secrets[where] = {
                key: SecretText(str(text), {n: v for n, v in mocked.items() if v in str(text)})
                for key, text in data.items()
            }
    releases = [str(r.inputs.get("name", r.name)) for r in run.of_type(HELM_RELEASE)]
    return RenderedStack(
        stack, config, containers, services, config_maps, secrets, passwords, releases, dict(run.outputs)
    )


def stack_file(stack: str = STACK) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def render(stack: str = STACK) -> RenderedStack:
    """Run the program for Pulumi.<stack>.yaml under the mocks (a few seconds); PreflightError when the stack
    file is refused."""
    path = stack_file(stack)
    config, secret_keys = stack_config(path)
    run = run_program(config, secret_keys, stack)
    raw = yaml.safe_load(path.read_text())["config"]
    prefix = f"{NAMESPACE}:"
    typed = parse({k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix)})
    return read(run, typed, stack)
