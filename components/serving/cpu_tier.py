"""The CPU tier: llama.cpp's llama-server with a small GGUF model on the system pool.

Cheap short requests, the local stack's only model, and the fallback the LiteLLM gateway uses for the models
named in cpuTier.fallbackFor when their GPU servers are unavailable. The same component serves Llama Guard on
CPU (serving.cpuSafety) for stacks without a GPU to spare for the safety model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster.base import Placement
from components.serving import lifecycle
from components.serving.clients import Clients
from components.serving.engine import volume_mount
from components.serving.pod import API_KEY_KEY, TIER, container_security, pod_security, selector_of
from stacks.config.serving import LlamaCppConfig
from stacks.quantity import cpu_cores
from stacks.uris import HubFile, parse_gguf_uri

PORT = 8080
"""llama-server's port."""
CACHE_DIR = "/cache"
STARTUP_BUDGET_S = lifecycle.MIN_STARTUP_BUDGET_S
"""A small GGUF (~100 MB-2 GB) downloads and maps in well under the minimum budget."""


def gguf_args(uri: str) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(llama-server model flags, volumes, mounts) for hf://<org>/<repo>/<file.gguf> or pvc://<claim>/<path>."""
    weights = parse_gguf_uri(uri)
    if isinstance(weights, HubFile):
        return ["--hf-repo", weights.repo, "--hf-file", weights.file], [], []
    mount, volume, volume_mount_ = volume_mount(weights)
    return ["--model", f"{mount}/{weights.path}"], [volume], [volume_mount_]


def cpu_threads(cpu: str) -> int:
    """Generation threads from the CPU request ("2", "1500m")."""
    return max(1, int(cpu_cores(cpu)))


def llama_args(cfg: LlamaCppConfig, jinja: bool = False) -> list[str]:
    """`jinja`: apply the GGUF's own chat template with the Jinja engine (Llama Guard's template holds its
    hazard taxonomy and the answer format)."""
    model_flags, _, _ = gguf_args(cfg.gguf_uri)
    return [
        *model_flags,
        "--alias",
        cfg.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--ctx-size",
        str(cfg.context),
        "--threads",
        str(cpu_threads(cfg.cpu)),
        *(["--jinja"] if jinja else []),
    ]


def pod_labels(cfg: LlamaCppConfig) -> dict[str, str]:
    return kube.labels(cfg.name, kube.MODEL_SERVER, **{TIER: "cpu"})


def pod_template(
    cfg: LlamaCppConfig, placement: Placement, api_key_secret: str, pre_stop_s: int, jinja: bool = False
) -> dict[str, Any]:
    _, volumes, mounts = gguf_args(cfg.gguf_uri)
    container = {
        "name": "llama-server",
        "image": versions.LLAMA_CPP_SERVER_IMAGE,
        "args": llama_args(cfg, jinja),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            *kube.env_vars({"LLAMA_CACHE": CACHE_DIR, "HOME": CACHE_DIR}),
            kube.secret_env("LLAMA_API_KEY", api_key_secret, API_KEY_KEY),
        ],
        "resources": {"requests": {"cpu": cfg.cpu, "memory": cfg.memory}, "limits": {"memory": cfg.memory}},
        **lifecycle.model_server_probes(STARTUP_BUDGET_S, pre_stop_s),
        "volumeMounts": [{"name": "cache", "mountPath": CACHE_DIR}, {"name": "tmp", "mountPath": "/tmp"}, *mounts],
        "securityContext": container_security(read_only_root=True),
    }
    return {
        # no /metrics: llama-server guards it with the API key, which scrapers do not send
        "metadata": {"labels": pod_labels(cfg)},
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "cache", "emptyDir": {"sizeLimit": "8Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                *volumes,
            ],
            "nodeSelector": dict(placement.node_selector),
            "securityContext": pod_security(),
            "terminationGracePeriodSeconds": lifecycle.termination_grace_s(pre_stop_s, 0),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
        },
    }


@dataclass
class CpuTierArgs:
    config: LlamaCppConfig
    namespace: str
    placement: Placement
    """The system pool: no GPU request, no GPU toleration."""
    api_key_secret: str
    clients: Clients
    pre_stop_s: int
    depends_on: list[pulumi.Resource]
    jinja: bool = False
    """Apply the GGUF's chat template with Jinja (the safety model)."""


class LlamaCppServer(pulumi.ComponentResource):
    """Deployment, ClusterIP Service, NetworkPolicy and (replicas > 1) a PodDisruptionBudget.

    Outputs: `service_name`, `base_url`."""

    service_name: str
    base_url: str
    """In-cluster OpenAI-compatible URL."""

    def __init__(self, name: str, args: CpuTierArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:LlamaCppServer", name, None, opts)
        cfg, ns = args.config, args.namespace
        meta = pod_labels(cfg)
        sel = selector_of(cfg.name)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={"name": cfg.name, "namespace": ns, "labels": meta},
            spec={
                "replicas": cfg.replicas,
                "selector": {"matchLabels": sel},
                "template": pod_template(cfg, args.placement, args.api_key_secret, args.pre_stop_s, args.jinja),
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
                    {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}
                ],
            },
            opts=child,
        )
        self.network_policy = kube.network_policy(
            f"{name}-ingress", ns, sel, [args.clients.ingress_rule(PORT)], child, name=cfg.name, labels=meta
        )
        self.pdb: k8s.policy.v1.PodDisruptionBudget | None = None
        if cfg.replicas > 1:
            self.pdb = kube.pod_disruption_budget(
                f"{name}-pdb", cfg.name, ns, sel, child, labels=meta, max_unavailable=1
            )
        self.service_name = cfg.name
        self.base_url = kube.service_url(cfg.name, ns, PORT, "/v1")
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
