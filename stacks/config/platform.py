"""The data and app layer: Milvus, Redis, the RAG app (OGX) and the caching/guardrail gateway."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from stacks.config.base import ConfigModel, DnsLabel

CORPUS_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a corpus version may be (it is part of every cache key): 1-64 letters, digits, '.', '_' or '-'."""


HOSTNAME = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
Hostname = Annotated[str, StringConstraints(pattern=HOSTNAME, max_length=253)]
ACM_CERTIFICATE_ARN = r"^arn:aws[-a-z]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$"

"""A fully qualified DNS name in lower case, e.g. api.example.com."""


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as e:
        raise ValueError(f"{value!r} is not a CIDR block ({e}); write it like 203.0.113.0/24") from e


Cidr = Annotated[str, AfterValidator(_cidr)]
"""An IPv4 or IPv6 network, e.g. 203.0.113.0/24 (host bits zero)."""

Exposure = Literal["cluster", "internal", "public"]


class TlsConfig(ConfigModel):
    """The certificate of an exposed endpoint's hostname (per cloud; docs/access.md)."""

    certificate_arn: str | None = Field(default=None, pattern=ACM_CERTIFICATE_ARN)
    """aws: an ACM certificate for the hostname; the Network Load Balancer ends TLS with it on 443. Required for
    `public` on aws; optional for `internal` (without it the internal load balancer speaks plain HTTP)."""
    secret_name: DnsLabel | None = None
    """existing: a `kubernetes.io/tls` Secret for the hostname in the platform namespace (e.g. issued by
    cert-manager), served by the Ingress. Required for `public` on an existing cluster. gcp needs nothing here:
    the stack creates a Google-managed certificate for the hostname."""


class ExposureConfig(ConfigModel):
    """How clients outside the cluster reach an endpoint (the gateway or the RAG app)."""

    mode: Exposure = "cluster"
    """cluster: a ClusterIP Service only (in-cluster clients, `kubectl port-forward`). internal: a load balancer
    reachable only from the VPC (aws: an internal NLB; gcp: an internal passthrough load balancer; existing: a
    Service of type LoadBalancer, for MetalLB or cloud-provider-kind). public: HTTPS on `hostname` from the
    internet (aws: an internet-facing NLB ending TLS with `tls.certificateArn`; gcp: a GKE Gateway
    (gke-l7-global-external-managed) with a Google-managed certificate; existing: an Ingress of
    `ingressClassName` with `tls.secretName`). Public needs authentication: the RAG app's `auth: true`; the
    gateway always checks keys."""
    hostname: Hostname | None = None
    """The DNS name clients use (required for public; optional for internal, where the load balancer's own
    address is used otherwise). Point it at the address in the stack output `dnsRecords`."""
    allowed_cidrs: list[Cidr] = []
    """Client networks allowed to connect (the Service's loadBalancerSourceRanges and the pods' NetworkPolicy);
    empty: any address that can reach the load balancer (the VPC for internal, the internet for public). Not
    supported on gcp public (a Cloud Armor policy would be needed): preflight refuses it there."""
    tls: TlsConfig = TlsConfig()
    ingress_class_name: DnsLabel | None = None
    """existing, public: the IngressClass of the cluster's ingress controller (e.g. nginx)."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """existing, public: the namespace of the ingress controller's pods (the NetworkPolicy admits them)."""


class ClientConfig(ConfigModel):
    """A client of the stack with its own API key for the gateway and the RAG app (docs/access.md)."""

    name: DnsLabel
    """The client's name: the key's principal in logs, the key of stack output `clientKeys`, and what
    `revoke` takes."""
    models: list[str] | None = None
    """Gateway models this key may call (served names, e.g. llama-3-1-8b); unset: every model."""
    key_version: int = Field(default=1, ge=1)
    """Bump to issue a new key on the next `pulumi up` (the old one stops working then)."""


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


class RetrievalConfig(ConfigModel):
    """How the RAG app retrieves context for an answer (workloads/ingest/retrieval.py; measured in
    docs/retrieval.md): a first stage (dense, or hybrid: dense fused with BM25 by reciprocal rank), an optional
    cross-encoder rerank of the top candidates, then a context filled up to a token budget with citations."""

    hybrid: Literal["off", "bm25", "ogx"] = "bm25"
    """off: dense search only. bm25: dense fused with BM25 over each chunk's title, heading path and text
    (reciprocal rank fusion). ogx: OGX's own search_mode hybrid (Milvus BM25 over the stored text only). The
    app's own answers (the Responses API's file_search) search hybrid with ogx and dense otherwise: bm25 runs in
    the ingest image's query path (context, evaluate)."""
    rerank: bool = False
    """Rerank the first stage's top candidates with the stack's reranker model (role reranker). Off by default:
    no reranker's quality has been measured on this project's corpora yet (docs/retrieval.md)."""
    reranker_model: str | None = None
    """Served name of the reranker model; unset: serving.reranker when enabled, else the first serving.models[]
    entry with role reranker."""
    candidates: int = Field(default=50, ge=1, le=50)
    """First-stage passages fused and reranked (OGX returns at most 50 per search)."""
    rerank_top_n: int = Field(default=20, ge=1, le=50)
    """How many of the candidates the reranker scores (each is one (question, passage) pair)."""
    context_tokens: int = Field(default=2048, ge=64)
    """Token budget of the retrieved context in the prompt, counted with the chat model's tokenizer; must leave
    room in the chat model's context window for the question and the answer."""


class AppConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1)
    auth: bool = False
    """Require bearer tokens on the app's API (on in prod)."""
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Hugging Face id of the embedding model: the app embeds queries with the served model of this id, and the
    ingest Job embeds chunks with it (they must match, or search finds nothing)."""
    embedding_dimension: int = Field(default=384, ge=8)
    """Dimension of that model's vectors (384 for all-MiniLM-L6-v2)."""
    exposure: ExposureConfig = ExposureConfig()
    """How clients outside the cluster reach the app (docs/access.md)."""
    vector_store: DnsLabel = "docs"
    """Name of the app's vector store: the ingest Job creates (or finds) it by this name through the app's API,
    and clients find it by name (stack output vectorStoreName)."""
    retrieval: RetrievalConfig = RetrievalConfig()
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
    exposure: ExposureConfig = ExposureConfig()
    """How clients outside the cluster reach the gateway (docs/access.md)."""


class PlatformConfig(ConfigModel):
    namespace: DnsLabel = "rag"
    milvus: MilvusConfig = MilvusConfig()
    redis: RedisConfig = RedisConfig()
    app: AppConfig = AppConfig()
    gateway: GatewayConfig = GatewayConfig()
    moderation: ModerationConfig = ModerationConfig()
    clients: list[ClientConfig] = []
    """Clients with their own API key for the gateway and the RAG app (the master key stays with the operator):
    keys in the secret stack output `clientKeys` and the Secret `client-keys`; list and revoke them without a
    redeploy (docs/access.md)."""
