"""Every image and Helm chart the program deploys, pinned in one place. Bump here, nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.images import DEFAULT_REGISTRY, DEFAULT_TAG, image_ref


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repo: str
    """Helm repository URL, or an OCI registry prefix (oci://...)."""


# --- cluster add-ons -------------------------------------------------------------------------------
# Chart versions are those whose published sources the tests render (../shared/charts, infra/charts.py): a pin
# moves only together with the chart sources there.
NVIDIA_DEVICE_PLUGIN = Chart("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
"""0.17.1 -> 0.20.0: the values the program sets (tolerations, affinity) are unchanged; 0.19 changed the default of
the gds/gdrcopy/mofed flags and enabled GFD's NodeFeature API (GFD stays off here)."""
DCGM_EXPORTER = Chart("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts")
"""4.1.1 -> 4.8.2 (DCGM 4.x exporter); the values the program sets (tolerations, affinity, serviceMonitor) are
unchanged."""
CLUSTER_AUTOSCALER = Chart("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
"""9.46.6 -> 9.59.0. The chart's own image (appVersion 1.35.0) is replaced by the autoscaler release of the
cluster's Kubernetes minor (`CLUSTER_AUTOSCALER_IMAGE_TAGS`): the autoscaler simulates the scheduler of its own
minor and is tested only against it."""
CLUSTER_AUTOSCALER_IMAGE_TAGS = {"1.33": "v1.33.1", "1.34": "v1.34.0", "1.35": "v1.35.0"}
"""Kubernetes minor -> cluster-autoscaler image tag (registry.k8s.io/autoscaling/cluster-autoscaler)."""
EKS_ADDON_POD_IDENTITY = "v1.3.5-eksbuild.2"
EKS_ADDON_EBS_CSI = "v1.48.0-eksbuild.1"

# --- serving ---------------------------------------------------------------------------------------
# Checked against each other's release notes on 2026-12-01 (docs/serving.md, "Pinned versions"): llm-d v0.9 is built
# on llm-d-router v0.10.0, whose InferencePool is the GA inference.networking.k8s.io/v1 of the Gateway API Inference
# Extension v1.5.0, installed with Gateway API v1.5.1 (llm-d's CRD guide pins exactly these two); KServe v0.20.0's
# LLMInferenceService configs run the same router v0.10.0 images, so llm-d and KServe modes schedule alike.
VLLM_IMAGE = "vllm/vllm-openai:v0.21.0"
"""0.18+ has --shutdown-timeout; --task is gone (embedding models use --runner pooling). From 0.20 the image is
built on CUDA 13: GPU nodes need an NVIDIA driver of the R580 branch or newer. 0.21 has what llm-d's router needs
of a model server (Prometheus /metrics, NixlConnector for prefill/decode, --kv-offloading-size/-backend for CPU KV
offload). Newer vLLM releases exist (0.2x); the pin stays until the weights-streaming flags are re-verified."""
TEXT_EMBEDDINGS_CPU_IMAGE = "ghcr.io/huggingface/text-embeddings-inference:cpu-1.9.3"
"""Hugging Face text-embeddings-inference 1.9.3 (March 2026, the latest release tag), x86_64 CPU build (ONNX
Runtime, then Candle with MKL): serves the embedding model (OpenAI-compatible /v1/embeddings) and the reranker
(/rerank) on the system pool. Loads a local folder (--model-id <dir>); API_KEY guards every route but /health
and /metrics."""
LLAMA_CPP_SERVER_IMAGE = "ghcr.io/ggml-org/llama.cpp:server-b8840"
"""CPU build of llama-server (tag b8840 = commit 9e5647a)."""
LLM_D_ROUTER_VERSION = "v0.10.0"
"""llm-d-router (llm-d v0.9): the endpoint picker, the disaggregation sidecar and the two router charts
(llm-d-router-standalone, llm-d-router-gateway) whose objects components/serving/epp.py and router.py render."""
LLM_D_EPP_IMAGE = f"ghcr.io/llm-d/llm-d-router-endpoint-picker:{LLM_D_ROUTER_VERSION}"
"""llm-d's endpoint picker (EPP); its pod spec and plugin config follow the llm-d-router charts v0.10.0."""
LLM_D_DISAGG_SIDECAR_IMAGE = f"ghcr.io/llm-d/llm-d-router-disagg-sidecar:{LLM_D_ROUTER_VERSION}"
"""The decode pods' sidecar of prefill/decode disaggregation (sends the prefill to the pod the EPP picked)."""
ENVOY_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.33.2"
"""The standalone router's proxy: the Envoy the llm-d-router-standalone chart v0.10.0 runs beside the EPP."""
BBR_IMAGE = "registry.k8s.io/gateway-api-inference-extension/bbr:v1.5.0"
"""Body-based router: copies the request's `model` field into the X-Gateway-Model-Name header."""
GATEWAY_API_VERSION = "v1.5.1"
GATEWAY_API_CRDS = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)
"""Gateway API standard channel: the version llm-d's CRD guide and the router v0.10 test against."""
INFERENCE_EXTENSION_VERSION = "v1.5.0"
INFERENCE_POOL_CRDS = (
    "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/"
    f"{INFERENCE_EXTENSION_VERSION}/v1-manifests.yaml"
)
"""The GA InferencePool CRD (inference.networking.k8s.io/v1) that llm-d-router v0.10 is built against."""
AGENTGATEWAY_CRDS = Chart("agentgateway-crds", "v1.1.0", "oci://cr.agentgateway.dev/charts")
AGENTGATEWAY = Chart("agentgateway", "v1.1.0", "oci://cr.agentgateway.dev/charts")
"""The Gateway implementation llm-d mode installs outside GKE (router: gateway): the version llm-d's agentgateway
guide installs, with its inference extension (InferencePool backends, the EPP as ext-proc) enabled. Chosen over
Istio: two Helm charts (CRDs, control plane) and one value instead of a service mesh control plane, and no extra
Istio DestinationRule per endpoint picker."""
KEDA = Chart("keda", "2.20.2", "https://kedacore.github.io/charts")
"""The version of the chart in shared/charts (ScaledObject schema generated from its CRD). 2.18-2.20 keep the
ScaledObject v1alpha1 API and the Prometheus scaler this stack uses; 2.20 supports Kubernetes 1.32-1.34."""
KSERVE_VERSION = "v0.20.0"
KSERVE_LLMISVC_CRD = Chart("kserve-llmisvc-crd", KSERVE_VERSION, "oci://ghcr.io/kserve/charts")
KSERVE_LLMISVC = Chart("kserve-llmisvc-resources", KSERVE_VERSION, "oci://ghcr.io/kserve/charts")
KSERVE_RUNTIME_CONFIGS = Chart("kserve-runtime-configs", KSERVE_VERSION, "oci://ghcr.io/kserve/charts")
"""KServe v0.20.0 (the charts in shared/charts): the LLMInferenceService CRD (serving.kserve.io/v1alpha2), its
controller and webhooks, and the well-known LLMInferenceServiceConfigs (scheduler, router, P/D templates) that run
llm-d-router v0.10.0's endpoint picker. Needs Kubernetes 1.32+ and cert-manager 1.18+."""
CERT_MANAGER = Chart("cert-manager", "v1.21.1", "https://charts.jetstack.io")
"""cert-manager v1.21.1 (shared/charts), above KServe's 1.18 minimum: issues the KServe webhooks' certificates."""

# --- data and app ----------------------------------------------------------------------------------
MILVUS = Chart("milvus", "5.0.19", "https://zilliztech.github.io/milvus-helm")
"""Milvus 2.6.15 (the chart pins the image); standalone or distributed, Woodpecker WAL on MinIO."""
REDIS_IMAGE = "docker.io/library/redis:7.4.6-alpine"
OGX_IMAGE = "docker.io/ogxai/distribution-starter:1.5.0"
"""OGX 1.5.0, the version components/app/ogx_config.py generates run configs for."""
LITELLM_IMAGE = "ghcr.io/berriai/litellm-non_root:main-v1.103.7"
"""LiteLLM 1.103.7 (components/app/gateway_config.py), the image that runs as a non-root user."""

# --- images built from this repository (workloads/*/Dockerfile, .github/workflows/images.yml) ----------
# Registry and tag are the stack's `workloadImages` key (stacks/config/images.py; defaults in stacks/images.py).
AWS_CLI_IMAGE = "docker.io/amazon/aws-cli:2.27.50"
"""Copies an ingest corpus from S3 in an init container (Pod Identity credentials)."""
GCLOUD_IMAGE = "docker.io/google/cloud-sdk:530.0.0-slim"
"""Copies an ingest corpus from GCS in an init container (Workload Identity credentials)."""


def workload_image(name: str, registry: str = DEFAULT_REGISTRY, tag: str = DEFAULT_TAG) -> str:
    """`<registry>/<name>:<tag>` of an image built here. The program passes the stack's `workloadImages`
    (`WorkloadImages.image`); the defaults name the release, for the image workflow."""
    return image_ref(registry, name, tag)
