"""The serving modes' own settings: llm-d's router, KServe, prefill/decode disaggregation and KV-cache offload.

Kept apart from `serving.py` (the model list and the vLLM engine) because each maps to one optional serving
feature; `ServingConfig` and `ModelConfig` hold one instance of each.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stacks.config.base import ConfigModel, DnsLabel

RouterKind = Literal["standalone", "gateway"]
GatewayImplementation = Literal["gke", "agentgateway", "external"]
KvTransport = Literal["tcp", "rdma", "efa"]


class RouterConfig(ConfigModel):
    """How requests reach the model servers in llm-d mode (and KServe mode's gateway)."""

    kind: RouterKind | None = None
    """standalone: llm-d's router per model, the endpoint picker with an Envoy sidecar behind a ClusterIP
    Service (no Gateway API implementation needed). gateway: one Gateway (Gateway API) routes by model name to
    each model's InferencePool. Unset: gateway on gcp (GKE's managed gateway), standalone elsewhere."""
    implementation: GatewayImplementation | None = None
    """The Gateway implementation of kind gateway. gke: GKE's managed gateway (gcp only; GKE installs the CRDs).
    agentgateway: installed by the stack from its pinned Helm charts (components/versions.py), with its
    inference extension on. external: one the cluster already runs (set inferenceGateway.className). Unset: gke
    on gcp, agentgateway elsewhere."""
    install: bool = True
    """Install the implementation (agentgateway: its CRDs and control plane) from its pinned Helm charts; false
    when the cluster already runs it. The Gateway API and InferencePool CRDs follow inferenceGateway.installCrds."""


class KServeConfig(ConfigModel):
    """KServe mode: models served as LLMInferenceServices (serving.kserve.io/v1alpha2), vLLM scheduled by llm-d's
    endpoint picker, behind the Gateway of serving.router."""

    install: bool = True
    """Install KServe's LLMInferenceService CRDs, controller and well-known configs from the pinned release
    (components/versions.py); false when the cluster already runs KServe of that version."""
    install_cert_manager: bool = True
    """Install cert-manager (KServe's webhooks need certificates); false when the cluster already runs it."""
    namespace: DnsLabel = "kserve"
    """Namespace of the KServe controller and its LLMInferenceServiceConfigs."""


class RoleConfig(ConfigModel):
    """One side of a disaggregated model: its own replicas, pool and tensor parallelism."""

    replicas: int = Field(default=1, ge=1)
    pool: DnsLabel | None = None
    """GPU pool of this role; unset: the model's pool."""
    tensor_parallel: int | None = Field(default=None, ge=1)
    """GPUs per replica of this role; unset: the model's tensorParallel."""


class DisaggregationConfig(ConfigModel):
    """Prefill/decode disaggregation (llm-d mode): prefill pods compute the prompt's KV cache, decode pods
    generate; the KV cache moves between them over NIXL (vLLM's NixlConnector). The endpoint picker picks a
    decode pod and, for prompts worth it, a prefill pod; the decode pod's sidecar runs the remote prefill."""

    enabled: bool = False
    prefill: RoleConfig = RoleConfig()
    decode: RoleConfig = RoleConfig()
    transport: KvTransport = "tcp"
    """How NIXL moves KV blocks: tcp (any network), efa (AWS Elastic Fabric Adapter: EFA-capable instance types
    and the EFA device plugin), rdma (InfiniBand/RoCE on an existing cluster: set rdmaResource)."""
    rdma_resource: str | None = None
    """transport rdma: the extended resource the cluster's RDMA device plugin offers, e.g. rdma/ib."""
    prefill_threshold_tokens: int = Field(default=16, ge=0)
    """Prompts with at most this many tokens not found in the decode pod's prefix cache are prefilled on the
    decode pod itself (the endpoint picker's prefix-based decider)."""


class KvOffloadConfig(ConfigModel):
    """KV-cache offloading to CPU memory with vLLM's native offloading connector (--kv-offloading-size,
    --kv-offloading-backend native): evicted prefix blocks stay in host memory and are copied back instead of
    recomputed. LMCache (the other backend) is not in the pinned vLLM image."""

    cpu_gib: int = Field(default=0, ge=0)
    """GiB of host memory per replica for offloaded KV blocks (summed over its tensor-parallel ranks); 0 turns
    offloading off. Counts toward the replica's memory: preflight checks it fits next to vLLM's own."""
