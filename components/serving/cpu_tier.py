"""The CPU tier: llama.cpp's llama-server with a small GGUF model on the system pool.

Cheap short requests, the local stack's only model, and the fallback the LiteLLM gateway uses for the models
named in cpuTier.fallbackFor when their GPU servers are unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import versions
from components.cluster.base import Placement
from components.serving import probes
from components.serving.engine import MODEL_VOLUME_ROOT, ModelSourceError, parse_pvc_uri
from components.serving.labels import CPU_TIER_PORT, MODEL_SERVER, TIER, labels, selector
from components.serving.network import Clients, ingress_policy_spec
from components.serving.pod import (
    API_KEY_KEY,
    restricted_container_security,
    restricted_pod_security,
    secret_env,
)
from stacks.config.serving import CpuTierConfig

CACHE_DIR = "/cache"
STARTUP_BUDGET_S = probes.MIN_STARTUP_BUDGET_S
"""A small GGUF (~100 MB-2 GB) downloads and maps in well under the minimum budget."""


def gguf_args(uri: str) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(llama-server model flags, volumes, mounts) for hf://<org>/<repo>/<file.gguf> or pvc://<claim>/<path>."""
    if uri.startswith("hf://"):
        parts = uri.removeprefix("hf://").split("/")
        if len(parts) < 3 or not parts[-1].endswith(".gguf"):
            raise ModelSourceError(f"{uri!r} is not hf://<org>/<repo>/<file>.gguf")
        return ["--hf-repo", "/".join(parts[:2]), "--hf-file", "/".join(parts[2:])], [], []
    if uri.startswith("pvc://"):
        claim, path = parse_pvc_uri(uri)
        if not path.endswith(".gguf"):
            raise ModelSourceError(f"{uri!r} does not name a .gguf file inside the claim")
        mount = f"{MODEL_VOLUME_ROOT}/{claim}"
        volume = {"name": "model-volume", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        return (
            ["--model", f"{mount}/{path}"],
            [volume],
            [{"name": "model-volume", "mountPath": mount, "readOnly": True}],
        )
    raise ModelSourceError(f"ggufUri {uri!r} is not hf:// or pvc://")


def cpu_threads(cpu: str) -> int:
    """Generation threads from the CPU request ("2", "1500m")."""
    value = float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return max(1, int(value))


def llama_args(cfg: CpuTierConfig) -> list[str]:
    model_flags, _, _ = gguf_args(cfg.gguf_uri)
    return [
        *model_flags,
        "--alias",
        cfg.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(CPU_TIER_PORT),
        "--ctx-size",
        str(cfg.context),
        "--threads",
        str(cpu_threads(cfg.cpu)),
    ]


def pod_template(cfg: CpuTierConfig, placement: Placement, api_key_secret: str, pre_stop_s: int) -> dict[str, Any]:
    _, volumes, mounts = gguf_args(cfg.gguf_uri)
    container = {
        "name": "llama-server",
        "image": versions.LLAMA_CPP_SERVER_IMAGE,
        "args": llama_args(cfg),
        "ports": [{"name": "http", "containerPort": CPU_TIER_PORT, "protocol": "TCP"}],
        "env": [
            {"name": "LLAMA_CACHE", "value": CACHE_DIR},
            {"name": "HOME", "value": CACHE_DIR},
            secret_env("LLAMA_API_KEY", api_key_secret, API_KEY_KEY),
        ],
        "resources": {"requests": {"cpu": cfg.cpu, "memory": cfg.memory}, "limits": {"memory": cfg.memory}},
        "startupProbe": probes.startup_probe(STARTUP_BUDGET_S),
        "livenessProbe": probes.liveness_probe(),
        "readinessProbe": probes.readiness_probe(),
        "lifecycle": probes.pre_stop(pre_stop_s),
        "volumeMounts": [{"name": "cache", "mountPath": CACHE_DIR}, {"name": "tmp", "mountPath": "/tmp"}, *mounts],
        "securityContext": restricted_container_security(read_only_root=True),
    }
    return {
        # no /metrics: llama-server guards it with the API key, which scrapers do not send
        "metadata": {"labels": labels(cfg.name, MODEL_SERVER, **{TIER: "cpu"})},
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "cache", "emptyDir": {"sizeLimit": "8Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                *volumes,
            ],
            "nodeSelector": dict(placement.node_selector),
            "securityContext": restricted_pod_security(),
            "terminationGracePeriodSeconds": probes.termination_grace_s(pre_stop_s, 0),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
        },
    }


@dataclass
class CpuTierArgs:
    config: CpuTierConfig
    namespace: str
    placement: Placement
    """The system pool: no GPU request, no GPU toleration."""
    api_key_secret: str
    clients: Clients
    pre_stop_s: int
    depends_on: list[pulumi.Resource]


class LlamaCppServer(pulumi.ComponentResource):
    """Outputs: `service_name`, `base_url`."""

    def __init__(self, name: str, args: CpuTierArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:LlamaCppServer", name, None, opts)
        cfg, ns = args.config, args.namespace
        meta = labels(cfg.name, MODEL_SERVER, **{TIER: "cpu"})
        sel = selector(cfg.name, MODEL_SERVER)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={"name": cfg.name, "namespace": ns, "labels": meta},
            spec={
                "replicas": cfg.replicas,
                "selector": {"matchLabels": sel},
                "template": pod_template(cfg, args.placement, args.api_key_secret, args.pre_stop_s),
            },
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": cfg.name, "namespace": ns, "labels": meta},
            spec={
                "type": "ClusterIP",
                "selector": sel,
                "ports": [
                    {
                        "name": "http",
                        "port": CPU_TIER_PORT,
                        "targetPort": "http",
                        "protocol": "TCP",
                        "appProtocol": "http",
                    }
                ],
            },
            opts=child,
        )
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata={"name": cfg.name, "namespace": ns, "labels": meta},
            spec=ingress_policy_spec(sel, args.clients, CPU_TIER_PORT),
            opts=child,
        )
        self.pdb: k8s.policy.v1.PodDisruptionBudget | None = None
        if cfg.replicas > 1:
            self.pdb = k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": cfg.name, "namespace": ns, "labels": meta},
                spec={"maxUnavailable": 1, "selector": {"matchLabels": sel}},
                opts=child,
            )
        self.service_name = cfg.name
        self.base_url = f"http://{cfg.name}.{ns}.svc.cluster.local:{CPU_TIER_PORT}/v1"
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
