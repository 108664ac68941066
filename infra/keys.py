"""`leanrag keys list|revoke|restore STACK [NAME]`: the clients' keys of a deployed stack, without a redeploy.

It drives `kubectl` (the operator's own credentials and context; no Kubernetes Python client is needed for three
calls) on the two ConfigMaps of the platform namespace that `pulumi up` makes from `leanrag:platform.clients`
(docs/access.md, "Managing keys"):

- `client-keys` (`clients.json`: each client's key digest and models) is read;
- `client-key-revocations` (name -> digest of the revoked key) is read, and changed with
  `kubectl patch configmap client-key-revocations --type merge -p PATCH`: deploys never rewrite it.

What a row, a revocation and a restore are is decided in one place, `components/app/leanrag_keys.py` (the file
the gateway and the RAG app run): `parse_clients`, `listing`, `revocation_patch`, `restore_patch`. This module
only fetches, patches and reports. No key is ever read or printed: only digests and their 12-digit fingerprints.

Revoking a revoked client, or restoring one that is not revoked, changes nothing and exits 0 (the state asked for
already holds), saying so. Every error is one line with the fix (`KeysError`); the CLI exits 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components.app import leanrag_keys
from infra import stack_file as stack_files
from infra.stack_file import StackFileError
from stacks.config import NAMESPACE
from stacks.config.platform import PlatformConfig

CLIENTS_CONFIGMAP = "client-keys"
REVOCATIONS_CONFIGMAP = "client-key-revocations"
"""The ConfigMaps components/app/client_keys.py creates (that module imports Pulumi; the CLI does not)."""
KUBECTL_TIMEOUT_S = 60
TAKES_EFFECT = (
    "the gateway and the RAG app see it when the kubelet refreshes the mounted ConfigMap (about a minute), "
    f"plus up to {leanrag_keys.RELOAD_S:.0f} s of the key check's cache; no restart, no redeploy"
)
KUBECTL_INSTALL = "https://kubernetes.io/docs/tasks/tools/"


class KeysError(Exception):
    """One line: what is wrong and how to fix it."""


def namespace_of(stack: str, root: Path) -> str:
    """`leanrag:platform.namespace` of the stack's file (default `rag`)."""
    path = stack_files.path_of(stack, root)
    if not path.exists():
        known = ", ".join(stack_files.known_stacks(root)) or "none"
        raise KeysError(
            f"no stack file {path} (known stacks: {known}); name one of them, give the path of yours, "
            "or pass --namespace NS"
        )
    try:
        config = stack_files.read(path).config
    except StackFileError as e:
        raise KeysError(f"{e} (or pass --namespace NS)") from None
    platform = config.get(f"{NAMESPACE}:platform") or {}
    written = platform.get("namespace") if isinstance(platform, dict) else None
    try:
        return PlatformConfig.model_validate({} if written is None else {"namespace": written}).namespace
    except ValidationError:
        raise KeysError(
            f"{path.name}: {NAMESPACE}:platform.namespace {written!r} is not a namespace name (lowercase letters, "
            "digits and '-'); fix it there or pass --namespace NS"
        ) from None


class Kubectl:
    """`kubectl [--context C] [--kubeconfig K] ...`, each failure as a KeysError naming the likely fix."""

    def __init__(self, stack: str, namespace: str, context: str | None = None, kubeconfig: str | None = None):
        self.stack, self.namespace = stack, namespace
        self.base = ["kubectl"]
        if context:
            self.base += ["--context", context]
        if kubeconfig:
            self.base += ["--kubeconfig", kubeconfig]

    def get_command(self, name: str) -> list[str]:
        return [*self.base, "get", "configmap", name, "-n", self.namespace, "-o", "json"]

    def patch_command(self, name: str, patch: dict[str, Any]) -> list[str]:
        body = json.dumps(patch, separators=(",", ":"))
        return [*self.base, "patch", "configmap", name, "-n", self.namespace, "--type", "merge", "-p", body]

    def run(self, cmd: list[str]) -> str:
        shown = shlex.join(cmd[: cmd.index("-p")] if "-p" in cmd else cmd)  # without the patch: it is long
        exe = shutil.which(cmd[0])
        if exe is None:
            raise KeysError(
                f"kubectl is not installed (not on PATH): install it ({KUBECTL_INSTALL}) and point it at the "
                "stack's cluster (`aws eks update-kubeconfig`, `gcloud container clusters get-credentials`, or "
                "--kubeconfig FILE)"
            )
        try:
            proc = subprocess.run(
                [exe, *cmd[1:]], capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise KeysError(
                f"`{shown}` got no answer within {KUBECTL_TIMEOUT_S} s: is the cluster's API "
                "endpoint reachable from here (cluster.apiEndpoint, docs/deploy.md)? is the context right?"
            ) from None
        if proc.returncode != 0:
            said = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1].strip()
            raise KeysError(f"`{shown}` failed: {said}; {self._fix(said)}")
        return proc.stdout

    def _fix(self, said: str) -> str:
        lowered = said.lower()
        where = f"namespace {self.namespace!r}"
        if "notfound" in lowered or "not found" in lowered:
            return (
                f"did `pulumi up` run for {self.stack} with {NAMESPACE}:platform.clients declared (the ConfigMap "
                f"is made then)? is the context right, and the {where} (--namespace)?"
            )
        if "forbidden" in lowered:
            return (
                f"your kubectl user may not do this in {where}: ask for get and patch on configmaps there, or use "
                "the context of the cluster's operator (--context)"
            )
        if "context" in lowered and "does not exist" in lowered:
            return "name a context from `kubectl config get-contexts` (--context), or pass --kubeconfig FILE"
        return (
            f"is the context right (`kubectl config current-context`, --context, --kubeconfig) and is the cluster "
            f"of {self.stack} reachable from here?"
        )

    def configmap_data(self, name: str) -> dict[str, str]:
        text = self.run(self.get_command(name))
        try:
            data = json.loads(text).get("data") or {}
        except (ValueError, AttributeError):
            raise KeysError(f"kubectl printed no ConfigMap for {name} (not JSON): check the kubectl on PATH") from None
        return {str(k): str(v) for k, v in data.items()}


def _read(kubectl: Kubectl) -> tuple[str, dict[str, str], dict[str, leanrag_keys.Client]]:
    """clients.json, the revocations, and the clients as the key check sees them."""
    clients_data = kubectl.configmap_data(CLIENTS_CONFIGMAP)
    if leanrag_keys.CLIENTS_FILE not in clients_data:
        raise KeysError(
            f"ConfigMap {CLIENTS_CONFIGMAP} in namespace {kubectl.namespace!r} has no {leanrag_keys.CLIENTS_FILE}: "
            f"it was not made by this program's `pulumi up`; run `pulumi up` for {kubectl.stack}"
        )
    clients_json = clients_data[leanrag_keys.CLIENTS_FILE]
    revocations = kubectl.configmap_data(REVOCATIONS_CONFIGMAP)
    try:
        clients = leanrag_keys.parse_clients(clients_json, revocations)
    except (ValueError, KeyError, AttributeError, TypeError):
        raise KeysError(
            f"{leanrag_keys.CLIENTS_FILE} of ConfigMap {CLIENTS_CONFIGMAP} is not what `pulumi up` writes "
            f"(name -> {{sha256, models}}): run `pulumi up` for {kubectl.stack} to rewrite it"
        ) from None
    return clients_json, revocations, clients


def _known(clients: dict[str, leanrag_keys.Client], name: str, kubectl: Kubectl) -> leanrag_keys.Client:
    if name not in clients:
        names = ", ".join(sorted(clients)) or "none"
        raise KeysError(
            f"no client {name!r} in namespace {kubectl.namespace!r} (clients: {names}); clients are "
            f"{NAMESPACE}:platform.clients of the stack file, made by `pulumi up`"
        )
    return clients[name]


def table(rows: list[dict[str, Any]]) -> str:
    head = ("NAME", "MODELS", "REVOKED", "FINGERPRINT")
    cells = [
        (
            r["name"],
            ",".join(r["models"]) if r["models"] is not None else "(all)",
            "yes" if r["revoked"] else "no",
            r["fingerprint"],
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *cells])


def cmd_list(args: argparse.Namespace, kubectl: Kubectl) -> int:
    if args.dry_run:
        for name in (CLIENTS_CONFIGMAP, REVOCATIONS_CONFIGMAP):
            print(shlex.join(kubectl.get_command(name)))
        return 0
    _, _, clients = _read(kubectl)
    if args.name is not None:
        clients = {args.name: _known(clients, args.name, kubectl)}
    rows = leanrag_keys.listing(clients)
    if args.json:
        for row in rows:
            print(json.dumps(row))
    elif not rows:
        print(f"no clients in namespace {kubectl.namespace!r}: declare them in {NAMESPACE}:platform.clients")
    else:
        print(table(rows))
    return 0


def cmd_revoke(args: argparse.Namespace, kubectl: Kubectl) -> int:
    clients_json, _, clients = _read(kubectl)
    client = _known(clients, args.name, kubectl)
    fingerprint = client.sha256[:12]
    if client.revoked:
        print(f"client {args.name} (key {fingerprint}) is already revoked: nothing changed")
        return 0
    command = kubectl.patch_command(REVOCATIONS_CONFIGMAP, leanrag_keys.revocation_patch(clients_json, args.name))
    if args.dry_run:
        print(shlex.join(command))
        return 0
    kubectl.run(command)
    print(f"revoked client {args.name} (key {fingerprint}) in namespace {kubectl.namespace!r}: {TAKES_EFFECT}")
    print(f"undo with `leanrag keys restore {args.stack} {args.name}`; a new key: bump its keyVersion, `pulumi up`")
    return 0


def cmd_restore(args: argparse.Namespace, kubectl: Kubectl) -> int:
    _, revocations, clients = _read(kubectl)
    client = _known(clients, args.name, kubectl)
    fingerprint = client.sha256[:12]
    if not client.revoked and args.name not in revocations:
        print(f"client {args.name} (key {fingerprint}) is not revoked: nothing changed")
        return 0
    command = kubectl.patch_command(REVOCATIONS_CONFIGMAP, leanrag_keys.restore_patch(args.name))
    if args.dry_run:
        print(shlex.join(command))
        return 0
    kubectl.run(command)
    if client.revoked:
        print(f"restored client {args.name} (key {fingerprint}) in namespace {kubectl.namespace!r}: {TAKES_EFFECT}")
    else:  # the entry named an earlier key (keyVersion bumped since), which no longer works anyway
        print(f"client {args.name} (key {fingerprint}) was not revoked; removed the revocation of an earlier key")
    return 0


COMMANDS = {"list": cmd_list, "revoke": cmd_revoke, "restore": cmd_restore}


def run(args: argparse.Namespace, root: Path) -> int:
    namespace = args.namespace or namespace_of(args.stack, root)
    kubectl = Kubectl(args.stack, namespace, args.context, args.kubeconfig)
    return COMMANDS[args.action](args, kubectl)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """`leanrag keys ...` on the CLI's subparsers."""
    keys = sub.add_parser(
        "keys",
        help="list, revoke and restore the clients' API keys of a deployed stack (kubectl; no redeploy)",
        description="The clients' keys (leanrag:platform.clients) in the stack's cluster, through kubectl: list "
        "them (never a key: a 12-digit fingerprint of its SHA-256), revoke one or restore it. A change reaches "
        "the gateway and the RAG app in about a minute, without a restart or a redeploy (docs/access.md).",
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    helps = {
        "list": "the clients: name, models, revoked, key fingerprint",
        "revoke": "refuse a client's current key (until restored, or a new key is issued)",
        "restore": "lift a client's revocation",
    }
    for action, help_ in helps.items():
        p = actions.add_parser(action, help=help_, description=help_)
        p.add_argument("stack", help="stack name (Pulumi.<stack>.yaml) or a stack file: gives the namespace")
        if action == "list":
            p.add_argument("name", nargs="?", help="only this client")
            p.add_argument("--json", action="store_true", help="one JSON object a line")
        else:
            p.add_argument("name", help="the client (leanrag:platform.clients[].name)")
        p.add_argument("--namespace", "-n", help="the platform namespace (default: platform.namespace of STACK)")
        p.add_argument("--context", help="kubectl context (default: kubectl's current context)")
        p.add_argument("--kubeconfig", help="kubeconfig file (default: kubectl's)")
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="print the kubectl commands that would change or (list) read the ConfigMaps instead of running "
            "them; revoke and restore still read them, since the patch depends on what is there",
        )
    return keys
