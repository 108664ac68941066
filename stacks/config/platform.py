"""The data and app layer: Milvus, Redis, the RAG app (OGX) and the caching/guardrail gateway."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from stacks.config.base import ConfigModel, DnsLabel

CORPUS_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a corpus version may be (it is part of every cache key): 1-64 letters, digits, '.', '_' or '-'."""


class Resources(ConfigModel):
    cpu: str = "500m"
    memory: str = "1Gi"
    cpu_limit: str | None = None
    """Defaults to twice the request (bursts allowed; a busy pod cannot starve its node)."""
    memory_limit: str | None = None
    """Defaults to the request (Guaranteed memory)."""


class MilvusConfig(ConfigModel):
    mode: Literal["standalone", "distributed"] = "standalone"
    """standalone for dev; distributed (proxy, coordinator, query/data/streaming nodes) for prod."""
    namespace: DnsLabel = "milvus"
    """Milvus runs in a namespace of its own, enforcing Pod Security `baseline`: the Milvus chart's MinIO
    sub-chart cannot set what `restricted` requires (Milvus and etcd themselves run as `restricted` allows)."""
    storage_gb: int = Field(default=50, ge=1)
    """Object storage (MinIO) volume size: the one volume in standalone, each of 4 drives in distributed."""
    local_disk_gb: int = Field(default=10, ge=1)
    """standalone only: the Milvus pod's own volume (local cache of segments and indexes)."""
    resources: Resources = Resources(cpu="1", memory="4Gi")
    """The standalone pod, or each query, data and streaming node."""
    coordinator_resources: Resources = Resources(cpu="250m", memory="512Mi")
    """distributed only: the proxy and the mix coordinator."""
    minio_resources: Resources = Resources(cpu="250m", memory="1Gi")
    """Each MinIO pod (object storage of segments, indexes and the write-ahead log)."""
    query_node_replicas: int = Field(default=2, ge=1)
    """distributed only."""


class RedisConfig(ConfigModel):
    storage_gb: int = Field(default=8, ge=1)
    resources: Resources = Resources(cpu="250m", memory="1Gi")
    maxmemory_policy: Literal["allkeys-lru", "volatile-lru", "noeviction"] = "volatile-lru"
    """Cache keys carry TTLs; app state does not, so volatile-lru evicts only cache entries."""


class AppConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    auth: bool = False
    """Require bearer tokens on the app's API (on in prod)."""
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Hugging Face id of the embedding model: the app embeds queries with the served model of this id, and the
    ingest Job embeds chunks with it (they must match, or search finds nothing)."""
    embedding_dimension: int = Field(default=384, ge=8)
    """Dimension of that model's vectors (384 for all-MiniLM-L6-v2)."""
    vector_store: DnsLabel = "docs"
    """Name of the app's vector store: the ingest Job creates (or finds) it by this name through the app's API,
    and clients find it by name (stack output vectorStoreName)."""
    resources: Resources = Resources(cpu="500m", memory="1Gi")


class CacheConfig(ConfigModel):
    enabled: bool = True
    response_ttl_s: int = Field(default=3600, ge=1)
    """Exact-match response cache lifetime."""
    embedding_ttl_s: int = Field(default=86400, ge=1)
    corpus_version: str = "1"
    """Part of every cache key; bump it (or let ingest bump it) to invalidate answers after re-ingestion."""


class GuardrailsConfig(ConfigModel):
    pii: Literal["off", "mask", "block"] = "mask"
    """Input PII: redact it before the model sees it, or reject the request."""
    prompt_injection: bool = True
    """Reject requests that look like prompt injection with a clear error."""


class ModerationConfig(ConfigModel):
    """Llama Guard on the request path: an OpenAI /v1/moderations service (workloads/moderation) in front of
    the stack's `role: safety` model, called by the RAG app (OGX's moderation_endpoint, fail closed) and by the
    gateway (a pre-call guardrail on every request)."""

    enabled: bool | None = None
    """Unset: on whenever the stack serves a safety model (serving.models[] with role: safety, or
    serving.cpuSafety). true without a safety model is refused by preflight."""
    replicas: int = Field(default=1, ge=1)
    resources: Resources = Resources(cpu="100m", memory="256Mi")
    timeout_s: float = Field(default=20, gt=0, le=600)
    """Seconds per safety-model call (SAFETY_TIMEOUT_S); OGX gives the whole moderation call 30 s."""


class GatewayConfig(ConfigModel):
    """LiteLLM proxy in front of the model endpoints: API keys, caching, guardrails, CPU fallback."""

    replicas: int = Field(default=1, ge=1)
    cache: CacheConfig = CacheConfig()
    guardrails: GuardrailsConfig = GuardrailsConfig()
    resources: Resources = Resources(cpu="500m", memory="1Gi")


class PlatformConfig(ConfigModel):
    namespace: DnsLabel = "rag"
    milvus: MilvusConfig = MilvusConfig()
    redis: RedisConfig = RedisConfig()
    app: AppConfig = AppConfig()
    gateway: GatewayConfig = GatewayConfig()
    moderation: ModerationConfig = ModerationConfig()
