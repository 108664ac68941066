"""Generate the OGX 1.5.0 (Llama Stack) run configuration of the RAG app from ``RagAppSettings``.

Pure functions, no I/O. The output validates with OGX's own ``StackConfig`` and provider config classes
(``local/ogx_validate.py``, run by tests/components/app in the Python 3.12 venv). Secrets are ``${env.NAME}``
references only; ``RenderedConfig.secret_env`` names the variables the pod must get from Secrets.
"""

from __future__ import annotations

from typing import Any

from components.app.common import RenderedConfig, ogx_env
from components.app.ogx_settings import MilvusLite, MilvusRemote, RagAppSettings

OGX_VERSION = "1.5.0"
RUN_CONFIG_VERSION = 2

INFERENCE_PROVIDER_ID = "vllm"
EMBEDDING_PROVIDER_ID = "embeddings"
VECTOR_PROVIDER_ID = "milvus"
KV_BACKEND = "kv_default"
SQL_BACKEND = "sql_default"

APIS = ["inference", "vector_io", "files", "file_processors", "responses", "tool_runtime"]


def build_ogx_run_config(settings: RagAppSettings) -> RenderedConfig:
    """The OGX run config (``ogx stack run CONFIG``) for these settings."""
    data: dict[str, Any] = {
        "version": RUN_CONFIG_VERSION,
        "distro_name": settings.distro_name,
        "apis": list(APIS),
        "providers": {
            "inference": _inference_providers(settings),
            "vector_io": [_vector_provider(settings)],
            "files": [_files_provider(settings)],
            "file_processors": [{"provider_id": "pypdf", "provider_type": "inline::pypdf", "config": {}}],
            "responses": [_responses_provider(settings)],
            "tool_runtime": [{"provider_id": "file-search", "provider_type": "inline::file-search", "config": {}}],
        },
        "storage": _storage(settings),
        "registered_resources": {"models": _models(settings), "vector_stores": []},
        "vector_stores": {
            "default_provider_id": VECTOR_PROVIDER_ID,
            "default_embedding_model": {
                "provider_id": EMBEDDING_PROVIDER_ID,
                "model_id": settings.embeddings.model_id,
                "embedding_dimensions": settings.embeddings.dimension,
            },
            "file_ingestion_params": {
                "default_chunk_size_tokens": settings.chunk_size_tokens,
                "default_chunk_overlap_tokens": settings.chunk_overlap_tokens,
            },
            # The search mode of file_search, the tool the app answers with (RRF fusion, OGX's default).
            "chunk_retrieval_params": {"default_search_mode": settings.search.mode},
        },
        "server": _server(settings),
    }
    return RenderedConfig(data=data, secret_env=secret_env_names(settings))


def secret_env_names(settings: RagAppSettings) -> tuple[str, ...]:
    """Env vars holding secrets that the run config refers to (each must come from a Kubernetes Secret)."""
    names = [
        settings.inference.api_key_env,
        settings.embeddings.api_key_env,
        settings.vector_store.token_env if isinstance(settings.vector_store, MilvusRemote) else None,
        settings.auth.api_key_env if settings.auth and settings.auth.endpoint is None else None,
        settings.shield.api_key_env if settings.shield else None,
    ]
    return tuple(sorted({n for n in names if n}))


def _openai_endpoint(
    base_url: str, models: list[str], api_key_env: str | None, max_tokens: int | None, verify: bool
) -> dict[str, Any]:
    # allowed_models: only the configured models are listed from the endpoint (a gateway serves many).
    config: dict[str, Any] = {"base_url": base_url, "allowed_models": list(models)}
    if max_tokens is not None:
        config["max_tokens"] = max_tokens
    if api_key_env:
        config["api_token"] = ogx_env(api_key_env)
    config["network"] = {"tls": {"verify": verify}}
    return config


def _inference_providers(s: RagAppSettings) -> list[dict[str, Any]]:
    # remote::vllm speaks plain OpenAI (chat, completions, embeddings), so it also fits the LiteLLM gateway
    # and any other OpenAI-compatible embeddings endpoint.
    return [
        {
            "provider_id": INFERENCE_PROVIDER_ID,
            "provider_type": "remote::vllm",
            "config": _openai_endpoint(
                str(s.inference.base_url),
                s.inference.model_ids,
                s.inference.api_key_env,
                s.inference.max_tokens,
                s.inference.tls_verify,
            ),
        },
        {
            "provider_id": EMBEDDING_PROVIDER_ID,
            "provider_type": "remote::vllm",
            "config": _openai_endpoint(
                str(s.embeddings.base_url), [s.embeddings.model_id], s.embeddings.api_key_env, None, True
            ),
        },
    ]


def _vector_provider(s: RagAppSettings) -> dict[str, Any]:
    persistence = {"namespace": "vector_io::milvus", "backend": KV_BACKEND}
    store = s.vector_store
    if isinstance(store, MilvusLite):
        return {
            "provider_id": VECTOR_PROVIDER_ID,
            "provider_type": "inline::milvus",
            "config": {"db_path": store.db_path, "persistence": persistence},
        }
    return {
        "provider_id": VECTOR_PROVIDER_ID,
        "provider_type": "remote::milvus",
        "config": {"uri": store.uri, "token": ogx_env(store.token_env), "persistence": persistence},
    }


def _files_provider(s: RagAppSettings) -> dict[str, Any]:
    return {
        "provider_id": "localfs",
        "provider_type": "inline::localfs",
        "config": {
            "storage_dir": s.files_dir,
            "metadata_store": {"table_name": "files_metadata", "backend": SQL_BACKEND},
        },
    }


def _responses_provider(s: RagAppSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "persistence": {"responses": {"table_name": "responses", "backend": SQL_BACKEND}},
    }
    if s.shield:
        config["moderation_endpoint"] = str(s.shield.moderation_url)
        if s.shield.api_key_env:
            config["moderation_headers"] = {"Authorization": f"Bearer {ogx_env(s.shield.api_key_env)}"}
    return {"provider_id": "builtin", "provider_type": "inline::builtin", "config": config}


def _storage(s: RagAppSettings) -> dict[str, Any]:
    # SQLite only: see SqliteStorage for why the app keeps no state in Redis.
    state_dir = s.storage.dir
    return {
        "backends": {
            KV_BACKEND: {"type": "kv_sqlite", "db_path": f"{state_dir}/kvstore.db"},
            SQL_BACKEND: {"type": "sql_sqlite", "db_path": f"{state_dir}/sql_store.db"},
        },
        "stores": {
            "metadata": {"namespace": "registry", "backend": KV_BACKEND},
            "inference": {"table_name": "inference_store", "backend": SQL_BACKEND},
            "conversations": {"table_name": "openai_conversations", "backend": SQL_BACKEND},
            "prompts": {"table_name": "prompts", "backend": SQL_BACKEND},
            "connectors": {"table_name": "connectors", "backend": SQL_BACKEND},
        },
    }


def _models(s: RagAppSettings) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = [
        {
            "model_id": model_id,
            "provider_id": INFERENCE_PROVIDER_ID,
            "provider_model_id": model_id,
            "model_type": "llm",
            "metadata": {},
        }
        for model_id in s.inference.model_ids
    ]
    models.append(
        {
            "model_id": s.embeddings.model_id,
            "provider_id": EMBEDDING_PROVIDER_ID,
            "provider_model_id": s.embeddings.model_id,
            "model_type": "embedding",
            "metadata": {"embedding_dimension": s.embeddings.dimension},
        }
    )
    return models


def _server(s: RagAppSettings) -> dict[str, Any]:
    # OGX listens on all interfaces when host is unset, so always set it.
    server: dict[str, Any] = {"host": s.server.host, "port": s.server.port, "workers": s.server.workers}
    if s.server.tls:
        server["tls_certfile"] = s.server.tls.cert_file
        server["tls_keyfile"] = s.server.tls.key_file
    else:
        # OGX 1.5.0 refuses to serve plain HTTP unless told; TLS ends in front of the pod.
        server["insecure"] = True
    if s.auth and s.auth.endpoint is not None:
        server["auth"] = {"provider_config": {"type": "custom", "endpoint": str(s.auth.endpoint)}}
    elif s.auth:
        server["auth"] = {"provider_config": {"type": "local_api_key", "api_keys": [ogx_env(s.auth.api_key_env)]}}
    return server
