"""The vLLM pod template from resolved settings: pure functions, no resources.

Placement comes from ClusterOutputs: the GPU request, the GPU toleration and the pool's node selector are put
on GPU pods only. Every pod runs under Pod Security `restricted` (non-root, no privilege escalation, all
capabilities dropped, RuntimeDefault seccomp) as a high uid, with a read-only root filesystem: every path vLLM
writes (its home, the XDG cache, the Hugging Face, vLLM, Triton, TorchInductor, FlashInfer and Numba caches) is
pointed at the /cache emptyDir, and /tmp is an emptyDir too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import Placement
from components.serving import engine, lifecycle
from stacks.models import ServedModel, SourceKind

GPU_RESOURCE = "nvidia.com/gpu"
RUN_AS = 10001
"""The uid/gid of every serving pod. The images run as root by default; a uid of 10000 or more cannot clash with
a node's own users (checkov CKV_K8S_40). It has no passwd entry, so USER is set for getpass()."""
API_KEY_KEY = "api-key"
"""Key of the serving API key in its Secret."""
TIER = "leanrag.dev/serving-tier"
"""Label of model-server pods: gpu (vLLM) or cpu (llama.cpp)."""


def pod_security() -> dict[str, Any]:
    """The pod securityContext of every serving pod."""
    return kube.restricted_pod_security(RUN_AS, RUN_AS)


def container_security(read_only_root: bool) -> dict[str, Any]:
    """The container securityContext of every serving container (runAsNonRoot repeated on the container)."""
    return kube.restricted_container_security(read_only_root, non_root=True)


def shm_size_gi(tensor_parallel: int) -> int:
    """/dev/shm for NCCL between tensor-parallel ranks (memory-backed: counts toward the pod's memory)."""
    return max(2, tensor_parallel)


def cache_size_gi(weights_gb: float, source: SourceKind) -> int:
    """Hugging Face downloads land in /cache; streamed and mounted weights do not."""
    downloaded = weights_gb if source == "huggingface" else 0.0
    return math.ceil(downloaded * 1.1) + 10


def prometheus_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


@dataclass(frozen=True)
class VllmPodSpec:
    """Everything a vLLM pod needs, resolved by the caller."""

    model: ServedModel
    placement: Placement
    pre_stop_s: int
    api_key_secret: str
    service_account: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    quantized: pulumi.Input[str] | None = None
    """The model-store prefix of the quantize or prefetch Job's copy (known only at deploy time): models with
    quantizeFrom, and prefetched models on a bucket."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """Extra pod annotations, e.g. what the prefetch Job copied (a new copy rolls the pods)."""

    @property
    def load(self) -> engine.VllmLoad:
        return engine.weights_load(self.model.source, self.model.config.tensor_parallel, self.quantized)


def startup_budget(spec: VllmPodSpec) -> int:
    return lifecycle.startup_budget_s(spec.model.weights_gb, engine.LOAD_RATE_GBPS[spec.load.kind])


def vllm_env(spec: VllmPodSpec) -> list[dict[str, Any]]:
    c = engine.CACHE_DIR
    env = kube.env_vars(
        {
            "HOME": f"{c}/home",
            "USER": "vllm",
            "XDG_CACHE_HOME": f"{c}/xdg",
            "HF_HOME": f"{c}/huggingface",
            "VLLM_CACHE_ROOT": f"{c}/vllm",
            "TRITON_CACHE_DIR": f"{c}/triton",
            "TORCHINDUCTOR_CACHE_DIR": f"{c}/inductor",
            "FLASHINFER_WORKSPACE_BASE": f"{c}/flashinfer",
            "NUMBA_CACHE_DIR": f"{c}/numba",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            # the weights come from the model store: any Hugging Face Hub request fails fast instead of downloading
            **({} if engine.from_hub(spec.load) else {"HF_HUB_OFFLINE": "1"}),
            **spec.extra_env,
        }
    )
    env.append(kube.secret_env("VLLM_API_KEY", spec.api_key_secret, API_KEY_KEY))
    return env


def gpu_resources(spec: VllmPodSpec) -> dict[str, Any]:
    cpu, memory = spec.model.requests
    gpus = str(spec.model.config.tensor_parallel)
    return {
        "requests": {"cpu": cpu, "memory": memory, GPU_RESOURCE: gpus},
        "limits": {"cpu": kube.cpu_limit(cpu), "memory": memory, GPU_RESOURCE: gpus},
    }


def vllm_volumes(spec: VllmPodSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    load = spec.load
    tensor_parallel = spec.model.config.tensor_parallel
    volumes: list[dict[str, Any]] = [
        {"name": "cache", "emptyDir": {"sizeLimit": f"{cache_size_gi(spec.model.weights_gb, load.kind)}Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "cache", "mountPath": engine.CACHE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if tensor_parallel > 1:
        size = f"{shm_size_gi(tensor_parallel)}Gi"
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return volumes + load.volumes, mounts + load.mounts


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
    model = spec.model.config
    command, args = engine.vllm_command(model, spec.load)
    volumes, mounts = vllm_volumes(spec)
    container = {
        "name": "vllm",
        "image": versions.VLLM_IMAGE,
        "command": command,
        "args": args,
        "ports": [{"name": "http", "containerPort": engine.HTTP_PORT, "protocol": "TCP"}],
        "env": vllm_env(spec),
        "resources": gpu_resources(spec),
        **lifecycle.model_server_probes(startup_budget(spec), spec.pre_stop_s),
        "volumeMounts": mounts,
        "securityContext": container_security(read_only_root=True),
    }
    pod = kube.restricted_pod_spec(
        [container],
        volumes,
        run_as=(RUN_AS, RUN_AS),
        node_selector=spec.placement.node_selector,
        tolerations=spec.placement.tolerations,
        grace_s=lifecycle.termination_grace_s(spec.pre_stop_s, model.engine.shutdown_timeout_s),
    )
    # enableServiceLinks is off (restricted_pod_spec): a Service named vllm would inject VLLM_PORT=tcp://...,
    # which vLLM rejects
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    if model.max_replicas > 1:
        pod["topologySpreadConstraints"] = topology_spread(selector_of(model.name))
    return {
        "metadata": {
            "labels": kube.labels(model.name, kube.MODEL_SERVER, **{TIER: "gpu"}),
            "annotations": {**prometheus_annotations(engine.HTTP_PORT), **spec.pod_annotations},
        },
        "spec": pod,
    }


def selector_of(model: str) -> dict[str, str]:
    """The selector labels of a served model's pods (vLLM or the CPU tier)."""
    return kube.selector(model, kube.MODEL_SERVER)
