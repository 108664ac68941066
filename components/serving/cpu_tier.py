"""The CPU tier: llama.cpp's llama-server with a small GGUF model on the system pool.

Cheap short requests, the local stack's only model, and the fallback the LiteLLM gateway uses for the models
named in cpuTier.fallbackFor when their GPU servers are unavailable. The GGUF file comes from the model store
(the prefetch Job's copy, or a pvc:// file), never from the hub at start-up: llama-server reads local files only,
so the pod mounts the store's claim read-only or syncs the bucket folder into an emptyDir first. The same
component serves Llama Guard on CPU (serving.cpuSafety) for stacks without a GPU to spare for the safety model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import Placement
from components.serving import lifecycle
from components.serving.clients import Clients
from components.serving.cpu_server import cpu_pod_spec, cpu_server_objects
from components.serving.pod import API_KEY_KEY, TIER, container_security, selector_of
from components.serving.weights import LocalWeights
from stacks.config.serving import LlamaCppConfig
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


def llama_args(cfg: LlamaCppConfig, model_path: str, jinja: bool = False) -> list[str]:
    """llama-server's flags: the local GGUF file (`--model`), never --hf-repo (a download at start-up).
    `jinja`: apply the GGUF's own chat template with the Jinja engine (Llama Guard's template holds its hazard
    taxonomy and the answer format)."""
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
        *(["--jinja"] if jinja else []),
    ]


def api_key_file(api_key_secret: str) -> kube.SecretFile:
    """The serving API key as a file: llama-server reads its keys from the file --api-key-file names (one a line),
    so the key is neither in its environment nor on its command line."""
    return kube.SecretFile("LLAMA_API_KEY_FILE", api_key_secret, API_KEY_KEY)


def pod_labels(cfg: LlamaCppConfig) -> dict[str, str]:
    return kube.labels(cfg.name, kube.MODEL_SERVER, **{TIER: "cpu"})


def pod_template(
    cfg: LlamaCppConfig,
    weights: LocalWeights,
    placement: Placement,
    api_key_secret: str,
    pre_stop_s: int,
    annotations: Mapping[str, str] | None = None,
    jinja: bool = False,
) -> dict[str, Any]:
    key_file = api_key_file(api_key_secret)
    container = {
        "name": "llama-server",
        "image": versions.LLAMA_CPP_SERVER_IMAGE,
        "args": [*llama_args(cfg, weights.path, jinja), "--api-key-file", key_file.path],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": kube.env_vars({"LLAMA_CACHE": CACHE_DIR, "HOME": CACHE_DIR}),
        "volumeMounts": kube.secret_mounts([key_file]),
        "resources": kube.fixed_resources(cfg.cpu, cfg.memory),
        **lifecycle.model_server_probes(STARTUP_BUDGET_S, pre_stop_s),
        "securityContext": container_security(read_only_root=True),
    }
    spec = cpu_pod_spec(
        container,
        {"cache": CACHE_DIR, "tmp": "/tmp"},
        weights,
        placement,
        pre_stop_s,
        [kube.secrets_volume([key_file])],
    )
    # no /metrics: llama-server guards it with the API key, which scrapers do not send
    metadata: dict[str, Any] = {"labels": pod_labels(cfg)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"metadata": metadata, "spec": spec}


@dataclass
class CpuTierArgs:
    config: LlamaCppConfig
    weights: LocalWeights
    """The GGUF file on the pod's disk (components/serving/weights.py)."""
    namespace: str
    placement: Placement
    """The system pool: no GPU request, no GPU toleration."""
    api_key_secret: str
    clients: Clients
    pre_stop_s: int
    depends_on: list[pulumi.Resource]
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """What the prefetch Job copied (a new copy rolls the pods)."""
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
        objects = cpu_server_objects(
            name,
            cfg.name,
            ns,
            meta,
            sel,
            {
                "replicas": cfg.replicas,
                "selector": {"matchLabels": sel},
                "template": pod_template(
                    cfg,
                    args.weights,
                    args.placement,
                    args.api_key_secret,
                    args.pre_stop_s,
                    args.pod_annotations,
                    args.jinja,
                ),
            },
            PORT,
            args.clients.ingress_rule(PORT),
            pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.deployment, self.service = objects.deployment, objects.service
        self.network_policy, self.pdb = objects.network_policy, objects.pdb
        self.service_name = cfg.name
        self.base_url = kube.service_url(cfg.name, ns, PORT, "/v1")
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
