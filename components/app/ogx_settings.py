"""Typed settings of the RAG app (OGX, formerly Llama Stack, 1.5.0): the input of ``build_ogx_run_config``.

Every secret is an env-var name, never a value. Defaults are the local development setup.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from components.app.common import EnvVarName


def _ends_in_v1(url: HttpUrl) -> HttpUrl:
    if not str(url).rstrip("/").endswith("/v1"):
        raise ValueError(f"must be the OpenAI-compatible base URL ending in /v1 (got {url}); append /v1")
    return url


OpenAIBaseUrl = Annotated[HttpUrl, AfterValidator(_ends_in_v1)]
"""An OpenAI-compatible base URL, e.g. http://vllm.serving.svc:8000/v1."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InferenceSettings(_Strict):
    """The serving layer's OpenAI-compatible endpoint (vLLM, or the LiteLLM gateway in front of it)."""

    base_url: OpenAIBaseUrl = Field(description="OpenAI-compatible base URL, e.g. http://vllm:8000/v1")
    model_ids: list[str] = Field(min_length=1, description="Served model ids the app registers, e.g. the LLM")
    api_key_env: EnvVarName | None = Field(
        default=None, description="Env var holding the endpoint's API key; None for an endpoint without auth"
    )
    max_tokens: int = Field(default=4096, gt=0, description="Default max tokens to generate")
    tls_verify: bool = True

    @field_validator("model_ids")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v) or not all(m.strip() for m in v):
            raise ValueError(f"model ids must be non-empty and unique (got {v})")
        return v


class EmbeddingSettings(_Strict):
    """An OpenAI-compatible embeddings endpoint and model (e.g. MiniLM behind the gateway)."""

    base_url: OpenAIBaseUrl = Field(description="OpenAI-compatible base URL ending in /v1")
    model_id: str = Field(min_length=1, description="Embedding model id as the endpoint serves it")
    dimension: int = Field(gt=0, le=65536, description="Embedding dimension, e.g. 384 for all-MiniLM-L6-v2")
    api_key_env: EnvVarName | None = None


class MilvusLite(_Strict):
    """Milvus Lite: a local file, one process (development and tests)."""

    kind: Literal["lite"] = "lite"
    db_path: str = Field(min_length=1, description="Path of the Milvus Lite database file")


class MilvusRemote(_Strict):
    """A Milvus server in the cluster, with authentication."""

    kind: Literal["remote"] = "remote"
    uri: str = Field(description="Milvus URI, e.g. http://milvus.rag.svc:19530")
    token_env: EnvVarName = Field(description="Env var holding the Milvus token ('user:password')")

    @field_validator("uri")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("http://", "https://", "tcp://")):
            raise ValueError(f"must start with http://, https:// or tcp:// (got {v!r}), e.g. http://milvus:19530")
        return v


VectorStoreSettings = Annotated[MilvusLite | MilvusRemote, Field(discriminator="kind")]


class SqliteStorage(_Strict):
    """OGX's key-value store (registry, vector-store metadata) and SQL stores (responses, conversations, files
    metadata) in SQLite files under one directory: a local folder, or the app's volume in the cluster.

    The only storage the generator offers that needs no credential. OGX 1.5's `kv_redis` backend has host and
    port but no password field: it connects to ``redis://{host}:{port}``, so an authenticated Redis needs the
    password inside the host string, and OGX prints that host, resolved, in the run config it logs at start-up
    (it masks keys named like password or token, not hosts). Its Postgres backends take a `password` field
    (masked), but the stack runs no Postgres. So the app keeps its state on its own volume and holds no Redis
    credential at all; Redis serves only the gateway's caches.
    """

    kind: Literal["sqlite"] = "sqlite"
    dir: str = Field(min_length=1, description="Directory for kvstore.db and sql_store.db")


StorageSettings = SqliteStorage


class AuthSettings(_Strict):
    """Bearer API key authentication on every route (prod): OGX's `local_api_key` provider with one key, or, with
    `endpoint`, its `custom` provider asking that endpoint (leanrag_keys serve: the app's own key and every
    per-client key not revoked)."""

    api_key_env: EnvVarName = Field(description="Env var holding the API key clients send as Bearer token")
    endpoint: HttpUrl | None = Field(
        default=None,
        description="OGX's custom auth endpoint (POST {api_key, request}); the key in api_key_env is then checked "
        "there, not by OGX",
    )


class ShieldSettings(_Strict):
    """Input/output moderation for the Responses API.

    OGX 1.5.0 has no Safety API or shields any more; guardrails call an OpenAI-compatible
    ``/v1/moderations`` endpoint (fail closed). Point it at the service that runs Llama Guard.
    """

    moderation_url: HttpUrl = Field(description="Full URL of the /v1/moderations endpoint")
    api_key_env: EnvVarName | None = None

    @field_validator("moderation_url")
    @classmethod
    def _moderations(cls, v: HttpUrl) -> HttpUrl:
        if not str(v).rstrip("/").endswith("/moderations"):
            raise ValueError(f"must be the full /v1/moderations URL (got {v})")
        return v


class SearchSettings(_Strict):
    """How the app searches a vector store when it answers: OGX's `file_search` tool in the Responses API takes
    its search mode from the run config (`vector_stores.chunk_retrieval_params.default_search_mode`); the
    `/v1/vector_stores/{id}/search` route takes it from each request instead."""

    mode: Literal["vector", "hybrid"] = Field(
        default="vector",
        description="vector: dense only. hybrid: dense fused with Milvus's BM25 over the stored chunk text "
        "(reciprocal rank fusion inside OGX)",
    )


class TlsFiles(_Strict):
    cert_file: str
    key_file: str


class ServerSettings(_Strict):
    host: str = Field(default="127.0.0.1", description="Listen address; 0.0.0.0 in a pod")
    port: int = Field(default=8321, ge=1024, le=65535, description="OGX refuses ports below 1024")
    tls: TlsFiles | None = Field(
        default=None,
        description="Serve HTTPS with these files; None serves plain HTTP (OGX then needs insecure: true, "
        "which the generator sets: inside the cluster TLS ends at the gateway or mesh)",
    )
    workers: int = Field(default=1, ge=1)


class RagAppSettings(_Strict):
    """Everything the RAG app's run config depends on."""

    distro_name: str = Field(default="leanrag", pattern=r"^[a-z0-9][a-z0-9-]*$")
    inference: InferenceSettings
    embeddings: EmbeddingSettings
    vector_store: VectorStoreSettings
    storage: StorageSettings
    auth: AuthSettings | None = None
    shield: ShieldSettings | None = None
    server: ServerSettings = ServerSettings()
    search: SearchSettings = SearchSettings()
    files_dir: str = Field(min_length=1, description="Where uploaded files are stored (a volume in the cluster)")
    chunk_size_tokens: int = Field(default=512, gt=0)
    chunk_overlap_tokens: int = Field(default=128, ge=0)

    @model_validator(mode="after")
    def _checks(self) -> RagAppSettings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be smaller than chunk_size_tokens "
                f"({self.chunk_size_tokens})"
            )
        if self.embeddings.model_id in self.inference.model_ids:
            raise ValueError(
                f"embeddings.model_id {self.embeddings.model_id!r} is also in inference.model_ids; "
                "list only generation models there"
            )
        return self
