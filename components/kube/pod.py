"""Pieces of pod specs: Pod Security `restricted` contexts, container resources, environment variables (plain
and from Secrets) and probes. Pure functions returning Kubernetes-shaped dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from stacks.config.platform import Resources
from stacks.quantity import cpu_cores

IMAGE_PULL_POLICY = "Always"
"""Every container re-resolves its pinned tag at start (a layer already on the node is not pulled again): a tag
re-pushed with a fix is picked up, and a pod never runs an image its node cached for another pod's credentials.
The cost is a registry round trip per start."""
CPU_LIMIT_FACTOR = 2
"""Without a configured CPU limit, a container may burst to this many times its CPU request: a busy pod cannot
starve its node, and short peaks (start-up, a tokenizer) are not throttled at the request."""
SECRETS_DIR = "/var/run/secrets/leanrag"
"""Where Secret keys are mounted as files (secrets as files, never environment variables)."""


def restricted_pod_security(uid: int, gid: int) -> dict[str, Any]:
    """Pod-level securityContext that satisfies Pod Security `restricted`."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_pod_spec(
    containers: Sequence[Mapping[str, Any]],
    volumes: Sequence[Mapping[str, Any]],
    *,
    run_as: tuple[int, int],
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, str]] = (),
    grace_s: int = 30,
) -> dict[str, Any]:
    """The pod spec of a long-running service: Pod Security `restricted` as uid/gid `run_as`, no ServiceAccount
    token and no Service environment variables (it needs neither), on the given nodes."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "nodeSelector": dict(node_selector),
        "tolerations": [dict(t) for t in tolerations],
        "securityContext": restricted_pod_security(*run_as),
        "terminationGracePeriodSeconds": grace_s,
        "containers": [pulled_always(c) for c in containers],
        "volumes": [dict(v) for v in volumes],
    }


def pulled_always(container: Mapping[str, Any]) -> dict[str, Any]:
    """The container with `imagePullPolicy` set (IMAGE_PULL_POLICY) unless it sets its own."""
    return {**container, "imagePullPolicy": container.get("imagePullPolicy", IMAGE_PULL_POLICY)}


def restricted_container_security(read_only_root: bool = True, *, non_root: bool = False) -> dict[str, Any]:
    """Container-level securityContext that satisfies Pod Security `restricted` (with the pod-level one).
    `non_root` repeats runAsNonRoot on the container, as the serving layer's containers have it."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }
    if non_root:
        context["runAsNonRoot"] = True
    return context


def cpu_limit(request: str, factor: int = CPU_LIMIT_FACTOR) -> str:
    """`factor` times a CPU request, in millicores (e.g. 500m -> 1000m)."""
    return f"{round(cpu_cores(request) * 1000 * factor)}m"


def resources(r: Resources) -> dict[str, Any]:
    """Container resources of a long-running service: requests as configured; the memory limit defaults to the
    request (no overcommit of memory), the CPU limit to CPU_LIMIT_FACTOR times the request."""
    return fixed_resources(r.cpu, r.memory, r.memory_limit, r.cpu_limit)


def fixed_resources(
    cpu: str, memory: str, memory_limit: str | None = None, cpu_limit_: str | None = None
) -> dict[str, Any]:
    """Container resources from literal requests (a sidecar, a routing component): the memory limit defaults to
    the request, the CPU limit to CPU_LIMIT_FACTOR times the request."""
    limits = {"cpu": cpu_limit_ or cpu_limit(cpu), "memory": memory_limit or memory}
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def secret_volume(volume: str, secret: pulumi.Input[str], keys: Mapping[str, str]) -> dict[str, Any]:
    """A volume with Secret keys as files (key -> file name), readable by the pod's group only."""
    return {
        "name": volume,
        "secret": {
            "secretName": secret,
            "defaultMode": 0o440,
            "items": [{"key": k, "path": path} for k, path in keys.items()],
        },
    }


SECRETS_VOLUME = "secrets"
"""The projected volume of a pod's Secret files; each container mounts only its own under SECRETS_DIR."""


@dataclass(frozen=True)
class SecretFile:
    """A key of a Kubernetes Secret mounted as a file (never an environment variable); the variable `var` holds the
    file's path, e.g. MILVUS_TOKEN_FILE, or HF_TOKEN_PATH (read by huggingface_hub itself). With `var` None the
    program may take the path from a flag instead (llama-server's --api-key-file)."""

    var: str
    secret: pulumi.Input[str]
    key: str

    @property
    def file(self) -> str:
        return self.var.lower().replace("_", "-")

    @property
    def path(self) -> str:
        return f"{SECRETS_DIR}/{self.file}"

    def env(self) -> dict[str, Any]:
        return {"name": self.var, "value": self.path}


def secret_mounts(files: Sequence[SecretFile]) -> list[dict[str, Any]]:
    """The mounts of `files` (each alone: a container sees only the Secret files it reads)."""
    return [{"name": SECRETS_VOLUME, "mountPath": f.path, "subPath": f.file, "readOnly": True} for f in files]


def secrets_volume(files: Sequence[SecretFile]) -> dict[str, Any]:
    """One projected volume with every Secret file of the pod, readable by the pod's group only."""
    return {
        "name": SECRETS_VOLUME,
        "projected": {
            "defaultMode": 0o440,
            "sources": [{"secret": {"name": f.secret, "items": [{"key": f.key, "path": f.file}]}} for f in files],
        },
    }


def env_vars(values: Mapping[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    """Plain environment variables, in the mapping's order (never secrets: see `secret_env`)."""
    return [{"name": k, "value": v} for k, v in values.items()]


def secret_env(name: str, secret: pulumi.Input[str], key: str) -> dict[str, Any]:
    """An environment variable filled from a Secret key (never a literal value)."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the namespace of the pod that reads it."""

    name: str
    key: str

    def env(self, var: str) -> dict[str, Any]:
        return secret_env(var, self.name, self.key)


def http_probe(path: str, port: str, period_s: int, failures: int, timeout_s: int = 3) -> dict[str, Any]:
    """An HTTP GET probe on a named container port."""
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period_s,
        "timeoutSeconds": timeout_s,
        "failureThreshold": failures,
    }


def grpc_probe(port: int, period_s: int, service: str | None = None) -> dict[str, Any]:
    """A gRPC health-check probe (grpc.health.v1), optionally for one service name."""
    check: dict[str, Any] = {"port": port}
    if service is not None:
        check["service"] = service
    return {"grpc": check, "periodSeconds": period_s}


def pre_stop_sleep(seconds: int) -> dict[str, Any]:
    """A container lifecycle whose preStop is the kubelet's built-in sleep: no shell needed in the image (on by
    default since Kubernetes 1.30)."""
    return {"preStop": {"sleep": {"seconds": seconds}}}
