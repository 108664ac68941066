"""Sample RAG app settings shared by the tests: a local and an in-cluster configuration."""

from __future__ import annotations

from pathlib import Path

from components.app.ogx_settings import (
    AuthSettings,
    EmbeddingSettings,
    InferenceSettings,
    MilvusLite,
    MilvusRemote,
    RagAppSettings,
    ServerSettings,
    ShieldSettings,
    SqliteStorage,
)


def local_settings(
    base: Path,
    upstream_url: str = "http://127.0.0.1:9000/v1",
    port: int = 8321,
    chat_model: str = "tiny-chat",
    inference_key_env: str | None = None,
) -> RagAppSettings:
    """Local development: Milvus Lite and SQLite under `base`, no auth, 127.0.0.1."""
    return RagAppSettings(
        inference=InferenceSettings(base_url=upstream_url, model_ids=[chat_model], api_key_env=inference_key_env),
        embeddings=EmbeddingSettings(base_url=upstream_url, model_id="tiny-embed", dimension=384),
        vector_store=MilvusLite(db_path=str(base / "milvus.db")),
        storage=SqliteStorage(dir=str(base)),
        files_dir=str(base / "files"),
        server=ServerSettings(port=port),
    )


def cluster_settings(
    sql_dir: str = "/data/ogx",
    port: int = 8321,
    host: str = "0.0.0.0",
    milvus: MilvusLite | MilvusRemote | None = None,
    gateway: str = "http://gateway.rag.svc.cluster.local:4000/v1",
) -> RagAppSettings:
    """In-cluster: remote Milvus, SQLite state under `sql_dir`, API-key auth, moderation shield."""
    return RagAppSettings(
        inference=InferenceSettings(base_url=gateway, model_ids=["tiny-chat"], api_key_env="GATEWAY_API_KEY"),
        embeddings=EmbeddingSettings(
            base_url=gateway, model_id="tiny-embed", dimension=384, api_key_env="GATEWAY_API_KEY"
        ),
        vector_store=milvus or MilvusRemote(uri="http://milvus.rag.svc.cluster.local:19530", token_env="MILVUS_TOKEN"),
        storage=SqliteStorage(dir=sql_dir),
        auth=AuthSettings(api_key_env="OGX_API_KEY"),
        shield=ShieldSettings(
            moderation_url="http://llama-guard.rag.svc.cluster.local:8000/v1/moderations",
            api_key_env="GUARD_API_KEY",
        ),
        files_dir=f"{sql_dir}/files",
        server=ServerSettings(host=host, port=port),
    )
