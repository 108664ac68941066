"""How much GPU memory a model needs under vLLM: weights + KV cache + runtime overhead.

Pure functions; decimal GB (1e9 bytes) like GPU data sheets. Quantized schemes keep the input
embedding in 16-bit, which is why an 8B W4A16 checkpoint is ~4.9 GB rather than 4 GB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stacks.catalog import ModelSpec, bytes_per_param

GB = 1e9
RUNTIME_OVERHEAD_GB = 1.5
"""Per GPU: CUDA context, activations at the default batch budget, CUDA graphs (vLLM's own profiling
reports 1-2 GB for 1-8B models); deliberately a round, conservative figure."""

_KV_BYTES = {"auto": 2.0, "fp8": 1.0}
CPU_FLOAT_BYTES = 4.0
"""text-embeddings-inference runs float32 on CPU (its CPU backends take no float16)."""
CPU_ACTIVATION_FACTOR = 1.5
"""Weights x this: the weights plus a batch's activations at the default 16k batch tokens for BERT-sized
models (hidden 384-1024); round and conservative."""
CPU_RUNTIME_GB = 0.5
"""The server process, tokenizer workers and ONNX Runtime / MKL arenas."""
UNKNOWN_CPU_MODEL_PARAMS_B = 0.6
"""Parameters assumed for a CPU-served model of unknown shape (a large BERT cross-encoder); preflight asks for
the shape."""


def weights_gb(shape: ModelSpec, precision: str) -> float:
    embedding = shape.embedding_params_b if precision != "bf16" else 0.0
    quantized = shape.params_b - embedding
    return (quantized * bytes_per_param(precision) + embedding * bytes_per_param("bf16")) * 1e9 / GB


def kv_cache_gb_per_token(shape: ModelSpec, kv_cache_dtype: str = "auto") -> float:
    """Keys and values for every layer and KV head."""
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * _KV_BYTES[kv_cache_dtype] / GB


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gb: float
    kv_cache_gb: float
    per_gpu_needed_gb: float
    per_gpu_budget_gb: float

    @property
    def fits(self) -> bool:
        return self.per_gpu_needed_gb <= self.per_gpu_budget_gb


def estimate(
    shape: ModelSpec,
    *,
    precision: str,
    max_context: int,
    concurrency: int,
    kv_cache_dtype: str,
    tensor_parallel: int,
    gpu_memory_gb: float,
    gpu_memory_utilization: float,
) -> MemoryEstimate:
    """Memory per GPU for `concurrency` sequences at `max_context` tokens, sharded over `tensor_parallel`."""
    weights = weights_gb(shape, precision)
    kv = kv_cache_gb_per_token(shape, kv_cache_dtype) * max_context * concurrency
    return MemoryEstimate(
        weights_gb=weights,
        kv_cache_gb=kv,
        per_gpu_needed_gb=(weights + kv) / tensor_parallel + RUNTIME_OVERHEAD_GB,
        per_gpu_budget_gb=gpu_memory_gb * gpu_memory_utilization,
    )


def cpu_server_gb(params_b: float | None) -> float:
    """Memory of a text-embeddings-inference replica on CPU: float32 weights x 1.5 + 0.5 GB."""
    params = params_b if params_b is not None else UNKNOWN_CPU_MODEL_PARAMS_B
    return params * CPU_FLOAT_BYTES * CPU_ACTIVATION_FACTOR + CPU_RUNTIME_GB


def gib_request(gb: float) -> str:
    """The smallest whole-GiB Kubernetes quantity holding `gb` decimal GB (at least 1Gi)."""
    return f"{max(1, math.ceil(gb * GB / 2**30))}Gi"
