"""The vLLM pod template from resolved settings: pure functions, no resources.

Placement comes from ClusterOutputs: the GPU request, the GPU toleration and the pool's node selector are put
on GPU pods only. Every pod runs under Pod Security `restricted` (non-root, no privilege escalation, all
capabilities dropped, RuntimeDefault seccomp). vLLM's root filesystem stays writable: PyTorch, Triton and
FlashInfer write JIT caches under several paths; the known ones are pointed at the /cache emptyDir.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import versions
from components.cluster.base import Placement
from components.serving import engine, probes
from components.serving.labels import HTTP_PORT, MODEL_SERVER, TIER, labels, selector
from stacks.config.serving import ModelConfig

GPU_RESOURCE = "nvidia.com/gpu"
RUN_AS = 2000
"""The images run as root by default; this uid/gid has no passwd entry, so USER is set for getpass()."""
API_KEY_KEY = "api-key"
HF_TOKEN_KEY = "token"
DEFAULT_CPU, DEFAULT_MEMORY = "4", "16Gi"
"""Requests when the node's size is unknown (cloud: existing)."""


def restricted_pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security(read_only_root: bool) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
    }


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def default_requests(vcpus: int, memory_gb: float, gpus_per_node: int, tensor_parallel: int) -> tuple[str, str]:
    """CPU and memory for a replica using `tensor_parallel` of the node's GPUs: its share of the node, less
    one vCPU and 20% of memory (+2 GB) for the kubelet, system daemons and the GPU add-ons."""
    share = tensor_parallel / max(gpus_per_node, 1)
    cpu = max(1, math.floor((vcpus - 1) * share))
    memory_gi = max(4, math.floor((memory_gb * 0.8 - 2) * share))
    return str(cpu), f"{memory_gi}Gi"


def shm_size_gi(tensor_parallel: int) -> int:
    """/dev/shm for NCCL between tensor-parallel ranks (memory-backed: counts toward the pod's memory)."""
    return max(2, tensor_parallel)


def cache_size_gi(weights_gb: float, source: engine.SourceKind) -> int:
    """Hugging Face downloads land in /cache; streamed and mounted weights do not."""
    downloaded = weights_gb if source == "huggingface" else 0.0
    return math.ceil(downloaded * 1.1) + 10


def prometheus_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


@dataclass(frozen=True)
class VllmPodSpec:
    """Everything a vLLM pod needs, resolved by the caller."""

    model: ModelConfig
    placement: Placement
    cpu: str
    memory: str
    weights_gb: float
    pre_stop_s: int
    api_key_secret: str
    hf_token_secret: str | None = None
    service_account: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    quantized: pulumi.Input[str] | None = None
    """The quantize job's artifact prefix when the model has quantizeFrom (known only at deploy time)."""


def startup_budget(spec: VllmPodSpec) -> int:
    source = engine.model_source(spec.model, spec.quantized)
    return probes.startup_budget_s(spec.weights_gb, engine.LOAD_RATE_GBPS[source.kind])


def vllm_env(spec: VllmPodSpec) -> list[dict[str, Any]]:
    c = engine.CACHE_DIR
    plain = {
        "HOME": f"{c}/home",
        "USER": "vllm",
        "XDG_CACHE_HOME": f"{c}/xdg",
        "HF_HOME": f"{c}/huggingface",
        "VLLM_CACHE_ROOT": f"{c}/vllm",
        "TRITON_CACHE_DIR": f"{c}/triton",
        "TORCHINDUCTOR_CACHE_DIR": f"{c}/inductor",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        **spec.extra_env,
    }
    env = [{"name": k, "value": v} for k, v in plain.items()]
    env.append(secret_env("VLLM_API_KEY", spec.api_key_secret, API_KEY_KEY))
    if spec.hf_token_secret:
        env.append(secret_env("HF_TOKEN", spec.hf_token_secret, HF_TOKEN_KEY))
    return env


def gpu_resources(spec: VllmPodSpec) -> dict[str, Any]:
    gpus = str(spec.model.tensor_parallel)
    return {
        "requests": {"cpu": spec.cpu, "memory": spec.memory, GPU_RESOURCE: gpus},
        "limits": {"memory": spec.memory, GPU_RESOURCE: gpus},
    }


def vllm_volumes(spec: VllmPodSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    source = engine.model_source(spec.model, spec.quantized)
    volumes: list[dict[str, Any]] = [
        {"name": "cache", "emptyDir": {"sizeLimit": f"{cache_size_gi(spec.weights_gb, source.kind)}Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "cache", "mountPath": engine.CACHE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if spec.model.tensor_parallel > 1:
        size = f"{shm_size_gi(spec.model.tensor_parallel)}Gi"
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return volumes + source.volumes, mounts + source.mounts


def topology_spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    """Spread replicas over zones and nodes when possible, without blocking scheduling when not."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def vllm_pod_template(spec: VllmPodSpec) -> dict[str, Any]:
    model = spec.model
    command, args = engine.vllm_command(model, spec.quantized)
    volumes, mounts = vllm_volumes(spec)
    container = {
        "name": "vllm",
        "image": versions.VLLM_IMAGE,
        "command": command,
        "args": args,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": vllm_env(spec),
        "resources": gpu_resources(spec),
        "startupProbe": probes.startup_probe(startup_budget(spec)),
        "livenessProbe": probes.liveness_probe(),
        "readinessProbe": probes.readiness_probe(),
        "lifecycle": probes.pre_stop(spec.pre_stop_s),
        "volumeMounts": mounts,
        "securityContext": restricted_container_security(read_only_root=False),
    }
    pod: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes,
        "nodeSelector": dict(spec.placement.node_selector),
        "tolerations": [dict(t) for t in spec.placement.tolerations],
        "securityContext": restricted_pod_security(),
        "terminationGracePeriodSeconds": probes.termination_grace_s(spec.pre_stop_s, model.engine.shutdown_timeout_s),
        "automountServiceAccountToken": False,
        # a Service named vllm would inject VLLM_PORT=tcp://..., which vLLM rejects
        "enableServiceLinks": False,
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    if model.max_replicas > 1:
        pod["topologySpreadConstraints"] = topology_spread(labels_of(model))
    return {
        "metadata": {
            "labels": labels(model.name, MODEL_SERVER, **{TIER: "gpu"}),
            "annotations": prometheus_annotations(HTTP_PORT),
        },
        "spec": pod,
    }


def labels_of(model: ModelConfig) -> dict[str, str]:
    """The selector labels of a model's pods."""
    return selector(model.name, MODEL_SERVER)
