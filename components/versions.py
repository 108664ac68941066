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
EKS_ADDON_EBS_CSI = "v1.48.0-eksbuild.1"

# --- serving ---------------------------------------------------------------------------------------
VLLM_IMAGE = "vllm/vllm-openai:v0.21.0"
"""0.18+ has --shutdown-timeout; --task is gone (embedding models use --runner pooling). From 0.20 the image is
built on CUDA 13: GPU nodes need an NVIDIA driver of the R580 branch or newer."""
LLAMA_CPP_SERVER_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b8840"
"""CPU build of llama-server (tag b8840 = commit 9e5647a)."""
LLM_D_EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
"""llm-d's endpoint picker (EPP); its pod spec and plugin config follow the llm-d-router-gateway chart v0.10.0."""
BBR_IMAGE = "registry.k8s.io/gateway-api-inference-extension/bbr:v1.5.0"
"""Body-based router: copies the request's `model` field into the X-Gateway-Model-Name header."""
GATEWAY_API_CRDS = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml"
INFERENCE_POOL_CRDS = (
    "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.5.0/v1-manifests.yaml"
)
"""The GA InferencePool CRD (inference.networking.k8s.io/v1) that llm-d-router v0.10 is built against."""
KEDA = Chart("keda", "2.17.2", "https://kedacore.github.io/charts")

# --- monitoring ------------------------------------------------------------------------------------
PROMETHEUS = Chart("prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts")
"""Prometheus v3.14.0 and kube-state-metrics (subchart 8.4.x); the same chart is rendered offline by the tests
(components/monitoring/prometheus.py writes its values)."""

# --- data and app ----------------------------------------------------------------------------------
MILVUS = Chart("milvus", "5.0.19", "https://zilliztech.github.io/milvus-helm")
"""Milvus 2.6.15 (the chart pins the image); standalone or distributed, Woodpecker WAL on MinIO."""
REDIS_IMAGE = "docker.io/library/redis:7.4.6-alpine"
OGX_IMAGE = "docker.io/ogxai/distribution-starter:1.5.0"
"""OGX 1.5.0, the version components/app/ogx_config.py generates run configs for."""
LITELLM_IMAGE = "ghcr.io/berriai/litellm-non_root:main-v1.103.7"
"""LiteLLM 1.103.7 (components/app/gateway_config.py), the image that runs as a non-root user."""

# --- workload jobs (built from workloads/*/Dockerfile by .github/workflows/images.yml) ---------------
WORKLOAD_REGISTRY = "ghcr.io/leanrag"
AWS_CLI_IMAGE = "docker.io/amazon/aws-cli:2.27.50"
"""Copies an ingest corpus from S3 in an init container (Pod Identity credentials)."""
GCLOUD_IMAGE = "docker.io/google/cloud-sdk:530.0.0-slim"
"""Copies an ingest corpus from GCS in an init container (Workload Identity credentials)."""
WORKLOAD_TAG = "0.1.0"


def workload_image(job: str) -> str:
    return f"{WORKLOAD_REGISTRY}/{job}:{WORKLOAD_TAG}"
