"""The CPU tier: llama.cpp's llama-server with a small GGUF model on the system pool.

Cheap short requests, the local stack's only model, and the fallback the LiteLLM gateway uses for the models
named in cpuTier.fallbackFor when their GPU servers are unavailable. The GGUF file comes from the model store
(the prefetch Job's copy, or a pvc:// file), never from the hub at start-up: llama-server reads local files only,
so the pod mounts the store's claim read-only or syncs the bucket folder into an emptyDir first.
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
from components.serving.pod import API_KEY_KEY, TIER, container_security, pod_security, selector_of
from components.serving.weights import LocalWeights
from stacks.config.serving import CpuTierConfig
from stacks.quantity import cpu_cores

PORT = 8080
"""llama-server's port."""
CACHE_DIR = "/cache"
STARTUP_BUDGET_S = lifecycle.MIN_STARTUP_BUDGET_S
"""A small GGUF (~100 MB-2 GB) maps from local disk in well under the minimum budget."""
GGUF_ASSUMED_GB = 2.0
"""Size of the emptyDir a GGUF is synced into from the bucket: the CPU tier's models are small."""


def cpu_threads(cpu: str) -> int:
    """Generation threads from the CPU request ("2", "1500m")."""
    return max(1, int(cpu_cores(cpu)))


def llama_args(cfg: CpuTierConfig, model_path: str) -> list[str]:
    """llama-server's flags: the local GGUF file (`--model`), never --hf-repo (a download at start-up)."""
    return [
        "--model",
        model_path,
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
    ]


def pod_labels(cfg: CpuTierConfig) -> dict[str, str]:
    return kube.labels(cfg.name, kube.MODEL_SERVER, **{TIER: "cpu"})


def pod_template(
    cfg: CpuTierConfig, weights: LocalWeights, placement: Placement, api_key_secret: str, pre_stop_s: int
) -> dict[str, Any]:
    container = {
        "name": "llama-server",
        "image": versions.LLAMA_CPP_SERVER_IMAGE,
        "args": llama_args(cfg, weights.path),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            *kube.env_vars({"LLAMA_CACHE": CACHE_DIR, "HOME": CACHE_DIR}),
            kube.secret_env("LLAMA_API_KEY", api_key_secret, API_KEY_KEY),
        ],
        "resources": {"requests": {"cpu": cfg.cpu, "memory": cfg.memory}, "limits": {"memory": cfg.memory}},
        **lifecycle.model_server_probes(STARTUP_BUDGET_S, pre_stop_s),
        "volumeMounts": [
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
            *weights.mounts,
        ],
        "securityContext": container_security(read_only_root=True),
    }
    spec: dict[str, Any] = {
        "containers": [container],
        "volumes": [
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            *weights.volumes,
        ],
        "nodeSelector": dict(placement.node_selector),
        "securityContext": pod_security(),
        "terminationGracePeriodSeconds": lifecycle.termination_grace_s(pre_stop_s, 0),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
    }
    if weights.init_containers:
        spec["initContainers"] = list(weights.init_containers)
    if weights.service_account:
        spec["serviceAccountName"] = weights.service_account
    # no /metrics: llama-server guards it with the API key, which scrapers do not send
    return {"metadata": {"labels": pod_labels(cfg)}, "spec": spec}


@dataclass
class CpuTierArgs:
    config: CpuTierConfig
    weights: LocalWeights
    """The GGUF file on the pod's disk (components/serving/weights.py)."""
    namespace: str
    placement: Placement
    """The system pool: no GPU request, no GPU toleration."""
    api_key_secret: str
    clients: Clients
    pre_stop_s: int
    depends_on: list[pulumi.Resource]


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
                "template": pod_template(cfg, args.weights, args.placement, args.api_key_secret, args.pre_stop_s),
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
