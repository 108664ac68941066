"""Every image and Helm chart the program deploys, pinned in one place. Bump here, nowhere else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repo: str
    """Helm repository URL, or an OCI registry prefix (oci://...)."""


# --- cluster add-ons -------------------------------------------------------------------------------
NVIDIA_DEVICE_PLUGIN = Chart("nvidia-device-plugin", "0.17.1", "https://nvidia.github.io/k8s-device-plugin")
DCGM_EXPORTER = Chart("dcgm-exporter", "4.1.1", "https://nvidia.github.io/dcgm-exporter/helm-charts")
CLUSTER_AUTOSCALER = Chart("cluster-autoscaler", "9.46.6", "https://kubernetes.github.io/autoscaler")
EKS_ADDON_POD_IDENTITY = "v1.3.5-eksbuild.2"

# --- serving ---------------------------------------------------------------------------------------
VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"
LLAMA_CPP_SERVER_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b6700"

# --- data and app ----------------------------------------------------------------------------------
MILVUS = Chart("milvus", "5.0.2", "https://zilliztech.github.io/milvus-helm")
REDIS_IMAGE = "redis:7.4.6-alpine"
OGX_IMAGE = "docker.io/llamastack/distribution-starter:0.3.0"
LITELLM_IMAGE = "ghcr.io/berriai/litellm:v1.77.5-stable"

# --- workload jobs (built from workloads/*/Dockerfile by .github/workflows/images.yml) ---------------
WORKLOAD_REGISTRY = "ghcr.io/leanrag"
WORKLOAD_TAG = "0.1.0"


def workload_image(job: str) -> str:
    return f"{WORKLOAD_REGISTRY}/{job}:{WORKLOAD_TAG}"
