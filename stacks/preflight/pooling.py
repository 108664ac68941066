"""Preflight of the embedding and reranker models: the app queries with the model the stack serves, and a
model served on CPU (text-embeddings-inference on the system pool) fits that pool's node."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.config.serving import POOLING_ROLES
from stacks.memory import gib_request
from stacks.models import model_entries, served_model
from stacks.preflight.problem import Problem
from stacks.quantity import cpu_cores, memory_bytes
from stacks.uris import UriError

NODE_SHARE = 0.8
"""Of a system node's memory and CPUs, what one pod may request (the kubelet, system daemons and the other
platform pods need the rest)."""


def check_app_embedding(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """The app embeds queries with the model the ingest Job embeds documents with: the served one."""
    app, served = cfg.platform.app, cfg.serving.embedding
    if served.enabled:
        if app.embedding_model != served.id:
            yield Problem(
                "platform.app.embeddingModel",
                f"the app embeds with {app.embedding_model}, but serving.embedding serves {served.id}: queries and "
                "documents would be embedded by different models",
                f"set platform.app.embeddingModel and serving.embedding.id to the same model (e.g. {served.id})",
            )
        elif app.embedding_dimension != served.dimension:
            yield Problem(
                "platform.app.embeddingDimension",
                f"the app expects {app.embedding_dimension}-dimensional vectors, but serving.embedding "
                f"({served.id}) returns {served.dimension}",
                "set platform.app.embeddingDimension and serving.embedding.dimension to the model's vector size",
            )
        return
    others = [m for m in cfg.serving.models if m.role == "embedding" and m.id == app.embedding_model]
    if not others:
        yield Problem(
            "serving.embedding.enabled",
            f"no served model embeds with {app.embedding_model} (platform.app.embeddingModel): the app could not "
            "embed a query",
            "set serving.embedding.enabled: true, or add a serving.models[] entry with role: embedding and "
            f"id: {app.embedding_model}",
        )


def check_cpu_pooling_models(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """Embedding and reranker models on the system pool: sized from their shape like any model."""
    for key, config in model_entries(cfg):
        if config.pool != cfg.cluster.system_pool.name or config.role not in POOLING_ROLES:
            continue
        try:
            model = served_model(cfg, config, key)
        except UriError:
            continue
        if config.tensor_parallel > 1:
            yield Problem(
                f"{key}.tensorParallel",
                "text-embeddings-inference on CPU (the system pool) has no tensor parallelism",
                "remove tensorParallel, or put the model on a GPU pool",
            )
        if model.shape is None:
            yield Problem(
                f"{key}.shape",
                f"{config.id} is not in the catalog, so its memory cannot be sized",
                "add shape: {paramsB, layers, kvHeads, headDim} from its config.json, or add it to stacks/catalog.yaml",
            )
        cpu, mem = model.requests
        try:
            mem_bytes, cores = memory_bytes(mem), cpu_cores(cpu)
        except ValueError:
            continue  # check_engine_settings names the bad quantity
        needed = model.cpu_memory_gb
        if model.shape is not None and mem_bytes < needed * 1e9:
            yield Problem(
                f"{key}.memory",
                f"{config.id} on CPU needs {needed:.1f} GB (float32 weights x 1.5 + 0.5 GB), but memory is {mem}",
                f"set memory to {gib_request(needed)} or more, or leave it unset",
            )
        node = model.system_node
        if node is None:
            continue  # an existing cluster: the node's size is not known
        if mem_bytes > node.memory_gb * 1e9 * NODE_SHARE or cores > node.vcpus * NODE_SHARE:
            yield Problem(
                f"{key}.memory" if mem_bytes > node.memory_gb * 1e9 * NODE_SHARE else f"{key}.cpu",
                f"{config.name} requests {cpu} CPU and {mem}, more than {NODE_SHARE:.0%} of a system node "
                f"({node.name}: {node.vcpus} vCPU, {node.memory_gb:g} GB)",
                "lower cpu/memory, use a larger cluster.systemPool.instanceType, or set pool to a GPU pool",
            )


ANSWER_ROOM = 512
"""Tokens of a chat model's window that the retrieved context must leave for the system prompt, the question and
the answer."""


def reranker_names(cfg: StackConfig) -> list[str]:
    """Served names of the stack's reranker models: serving.reranker when enabled, then serving.models[] entries
    with role reranker."""
    return [config.name for _, config in model_entries(cfg) if config.role == "reranker"]


def check_retrieval(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """platform.app.retrieval: rerank needs a served reranker; the context budget fits the chat models' windows."""
    retrieval, key = cfg.platform.app.retrieval, "platform.app.retrieval"
    names = reranker_names(cfg)
    if retrieval.reranker_model is not None and retrieval.reranker_model not in names:
        served = ", ".join(names) if names else "none"
        yield Problem(
            f"{key}.rerankerModel",
            f"{retrieval.reranker_model!r} is not a served reranker model (served rerankers: {served})",
            "name the served name of serving.reranker or of a serving.models[] entry with role: reranker",
        )
    elif retrieval.rerank and not names:
        yield Problem(
            f"{key}.rerank",
            "rerank is on but the stack serves no reranker model",
            "set serving.reranker.enabled: true (or add a serving.models[] entry with role: reranker), or set "
            f"{key}.rerank: false",
        )
    if retrieval.rerank_top_n > retrieval.candidates:
        yield Problem(
            f"{key}.rerankTopN",
            f"the reranker would score {retrieval.rerank_top_n} passages but the first stage keeps only "
            f"{retrieval.candidates} (candidates)",
            f"set rerankTopN to at most {retrieval.candidates}, or raise candidates",
        )
    windows = {f"serving.models[{i}]": m.max_context for i, m in enumerate(cfg.serving.models) if m.role == "chat"}
    if cfg.serving.cpu_tier.enabled:
        windows["serving.cpuTier"] = cfg.serving.cpu_tier.context
    for where, window in windows.items():
        if retrieval.context_tokens + ANSWER_ROOM > window:
            yield Problem(
                f"{key}.contextTokens",
                f"a context of {retrieval.context_tokens} tokens leaves less than {ANSWER_ROOM} tokens of the "
                f"{window}-token window of {where} for the question and the answer",
                f"set contextTokens to at most {window - ANSWER_ROOM}, or give {where} a longer context",
            )
