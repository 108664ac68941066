"""The serving modes worked out once from the config: which router llm-d and KServe use, what each role of a
disaggregated model is, and how much host memory a replica with CPU KV offload needs.

Pure functions over the config and the catalog; preflight checks what these return and the serving layer wires
it, so both read the same defaults.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from stacks.config import StackConfig
from stacks.config.cluster import CloudName
from stacks.config.serving import ModelConfig, ServingConfig
from stacks.config.serving_modes import GatewayImplementation, RouterKind
from stacks.models import ServedModel
from stacks.pools import pool_instance
from stacks.quantity import is_memory_quantity, memory_bytes

GATEWAY_CLASSES: dict[GatewayImplementation, str | None] = {
    "gke": "gke-l7-rilb",
    "agentgateway": "agentgateway",
    "external": None,
}
"""The GatewayClass each implementation registers (external: the one inferenceGateway.className names)."""

Role = Literal["prefill", "decode"]
ROLES: tuple[Role, Role] = ("prefill", "decode")

VLLM_HOST_BASE_GIB = 8
"""Host memory vLLM needs beside any offload buffer: the API server and engine processes, tokenizer, CUDA
context and pinned staging buffers, the Run:ai streamer's read buffer (a round figure from vLLM pods of 1-8B
models, which settle at 4-7 GiB resident)."""


@dataclass(frozen=True)
class RouterChoice:
    """The router of llm-d and KServe modes, defaults resolved."""

    kind: RouterKind
    implementation: GatewayImplementation | None
    """None for the standalone router."""
    class_name: str | None
    """The Gateway's GatewayClass; None for standalone, or for an external implementation without className
    (a preflight error)."""

    @property
    def installs_implementation(self) -> bool:
        return self.implementation == "agentgateway"


def router_choice(serving: ServingConfig, cloud: CloudName) -> RouterChoice:
    """KServe always routes through a Gateway; llm-d defaults to GKE's gateway on gcp and to the standalone
    router elsewhere (no Gateway implementation to install or run)."""
    configured = serving.router
    kind: RouterKind = configured.kind or ("gateway" if cloud == "gcp" or serving.mode == "kserve" else "standalone")
    if kind == "standalone":
        return RouterChoice(kind="standalone", implementation=None, class_name=None)
    implementation: GatewayImplementation = configured.implementation or ("gke" if cloud == "gcp" else "agentgateway")
    class_name = serving.inference_gateway.class_name or GATEWAY_CLASSES[implementation]
    return RouterChoice(kind="gateway", implementation=implementation, class_name=class_name)


def role_config(model: ModelConfig, role: Role) -> ModelConfig:
    """The model config one role of a disaggregated model runs with: the role's pool, tensor parallelism and a
    fixed replica count."""
    r = getattr(model.disaggregation, role)
    return model.model_copy(
        update={
            "pool": r.pool or model.pool,
            "tensor_parallel": r.tensor_parallel or model.tensor_parallel,
            "min_replicas": r.replicas,
            "max_replicas": r.replicas,
        }
    )


def role_models(cfg: StackConfig, model: ServedModel) -> dict[Role, ServedModel]:
    """The prefill and decode servers of a disaggregated model (empty when it is not disaggregated)."""
    if not model.config.disaggregation.enabled:
        return {}
    out: dict[Role, ServedModel] = {}
    for role in ROLES:
        config = role_config(model.config, role)
        pool = cfg.pool(config.pool)
        instance = pool_instance(cfg, pool) if pool is not None else None
        out[role] = dataclasses.replace(model, config=config, instance=instance)
    return out


def host_memory_needed_gib(model: ModelConfig) -> int:
    """Host memory one replica needs: vLLM's own, the CPU KV offload buffer and /dev/shm for tensor parallel
    (memory-backed, counted in the pod's memory)."""
    shm = max(2, model.tensor_parallel) if model.tensor_parallel > 1 else 0
    return VLLM_HOST_BASE_GIB + model.kv_offload.cpu_gib + shm


def replica_memory_gib(model: ServedModel) -> float | None:
    """The memory request of one replica, in GiB (configured, or its share of the node); None when the
    configured value is no memory quantity (reported by the engine-settings check)."""
    memory = model.requests[1]
    return memory_bytes(memory) / 2**30 if is_memory_quantity(memory) else None


def node_memory_gib(model: ServedModel) -> float | None:
    """The node's memory in GiB (catalog GB), None on an existing cluster."""
    return None if model.instance is None else model.instance.memory_gb * 1e9 / 2**30


def host_memory_fits(model: ServedModel) -> bool:
    """Whether the replica's memory request holds vLLM, the offload buffer and /dev/shm (True when unknown)."""
    memory = replica_memory_gib(model)
    return memory is None or host_memory_needed_gib(model.config) <= math.floor(memory)
