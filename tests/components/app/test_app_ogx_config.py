"""The OGX run config generator, without OGX: structure, secrets as env refs, and settings errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import (
    EmbeddingSettings,
    InferenceSettings,
    MilvusLite,
    RagAppSettings,
    SqliteStorage,
)
from tests.components.app.app_samples import cluster_settings, local_settings


def _providers(data: dict, api: str) -> dict[str, dict]:
    return {p["provider_id"]: p for p in data["providers"][api]}


def test_local_config_uses_milvus_lite_sqlite_and_loopback(tmp_path: Path) -> None:
    rendered = build_ogx_run_config(local_settings(tmp_path, upstream_url="http://127.0.0.1:9000/v1"))
    data = rendered.data
    assert yaml.safe_load(rendered.yaml) == data
    milvus = _providers(data, "vector_io")["milvus"]
    assert milvus["provider_type"] == "inline::milvus"
    assert milvus["config"]["db_path"] == str(tmp_path / "milvus.db")
    assert data["storage"]["backends"]["kv_default"] == {
        "type": "kv_sqlite",
        "db_path": f"{tmp_path}/kvstore.db",
    }
    assert data["storage"]["backends"]["sql_default"]["type"] == "sql_sqlite"
    assert data["server"]["host"] == "127.0.0.1"
    assert data["server"]["insecure"] is True
    assert "auth" not in data["server"]
    vllm = _providers(data, "inference")["vllm"]
    assert vllm["provider_type"] == "remote::vllm"
    assert vllm["config"]["base_url"] == "http://127.0.0.1:9000/v1"
    assert vllm["config"]["allowed_models"] == ["tiny-chat"]
    assert "api_token" not in vllm["config"]
    assert rendered.secret_env == ()


def test_embedding_model_is_registered_with_its_dimension(tmp_path: Path) -> None:
    data = build_ogx_run_config(local_settings(tmp_path)).data
    embed = [m for m in data["registered_resources"]["models"] if m["model_type"] == "embedding"]
    assert embed == [
        {
            "model_id": "tiny-embed",
            "provider_id": "embeddings",
            "provider_model_id": "tiny-embed",
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 384},
        }
    ]
    default = data["vector_stores"]["default_embedding_model"]
    assert default == {"provider_id": "embeddings", "model_id": "tiny-embed", "embedding_dimensions": 384}
    assert data["vector_stores"]["default_provider_id"] == "milvus"


def test_cluster_config_refers_to_every_secret_by_env_var() -> None:
    rendered = build_ogx_run_config(cluster_settings())
    data = rendered.data
    milvus = _providers(data, "vector_io")["milvus"]
    assert milvus["provider_type"] == "remote::milvus"
    assert milvus["config"]["token"] == "${env.MILVUS_TOKEN}"
    # OGX's state is in SQLite on the app's volume: no Redis, so no password in a host string (issue #12)
    assert data["storage"]["backends"] == {
        "kv_default": {"type": "kv_sqlite", "db_path": "/data/ogx/kvstore.db"},
        "sql_default": {"type": "sql_sqlite", "db_path": "/data/ogx/sql_store.db"},
    }
    assert data["server"]["auth"] == {"provider_config": {"type": "local_api_key", "api_keys": ["${env.OGX_API_KEY}"]}}
    assert data["server"]["host"] == "0.0.0.0"
    responses = _providers(data, "responses")["builtin"]["config"]
    assert responses["moderation_endpoint"] == "http://llama-guard.rag.svc.cluster.local:8000/v1/moderations"
    assert responses["moderation_headers"] == {"Authorization": "Bearer ${env.GUARD_API_KEY}"}
    assert _providers(data, "inference")["vllm"]["config"]["api_token"] == "${env.GATEWAY_API_KEY}"
    assert rendered.secret_env == (
        "GATEWAY_API_KEY",
        "GUARD_API_KEY",
        "MILVUS_TOKEN",
        "OGX_API_KEY",
    )
    for name in rendered.secret_env:  # every secret appears only as a reference
        assert rendered.yaml.count(name) == rendered.yaml.count("${env." + name + "}")


def test_storage_is_sqlite_only_because_ogx_redis_takes_no_password() -> None:
    """OGX 1.5's kv_redis has host and port only; a password would have to go into the host string, which
    OGX logs at start-up. The settings offer no Redis storage at all."""
    with pytest.raises(ValidationError):
        RagAppSettings.model_validate(_base(storage={"kind": "redis", "host": "redis", "sql_dir": "/d"}))


def _base(**overrides: object) -> dict:
    values: dict = {
        "inference": {"base_url": "http://vllm:8000/v1", "model_ids": ["m"]},
        "embeddings": {"base_url": "http://emb:8000/v1", "model_id": "e", "dimension": 384},
        "vector_store": {"kind": "lite", "db_path": "/tmp/m.db"},
        "storage": {"kind": "sqlite", "dir": "/tmp"},
        "files_dir": "/tmp/files",
    }
    values.update(overrides)
    return values


def _error_locs(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}


def test_missing_embedding_dimension_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        RagAppSettings.model_validate(_base(embeddings={"base_url": "http://emb:8000/v1", "model_id": "e"}))
    assert "embeddings.dimension" in _error_locs(info.value)


@pytest.mark.parametrize(
    ("overrides", "loc", "hint"),
    [
        (
            {"inference": {"base_url": "http://vllm:8000", "model_ids": ["m"]}},
            "inference.base_url",
            "append /v1",
        ),
        (
            {"inference": {"base_url": "http://vllm:8000/v1", "model_ids": []}},
            "inference.model_ids",
            "at least 1",
        ),
        (
            {"vector_store": {"kind": "remote", "uri": "milvus:19530", "token_env": "T"}},
            "vector_store.remote.uri",
            "http://",
        ),
        ({"storage": {"kind": "sqlite", "dir": ""}}, "storage.dir", "at least 1"),
        ({"auth": {"api_key_env": "lower-case"}}, "auth.api_key_env", "pattern"),
        ({"chunk_overlap_tokens": 600}, "", "smaller than chunk_size_tokens"),
    ],
)
def test_invalid_settings_name_the_field_and_the_fix(overrides: dict, loc: str, hint: str) -> None:
    with pytest.raises(ValidationError) as info:
        RagAppSettings.model_validate(_base(**overrides))
    locs = _error_locs(info.value)
    assert loc in locs, locs
    assert hint in locs[loc]


def test_embedding_model_must_not_be_listed_as_llm() -> None:
    with pytest.raises(ValidationError, match=r"also in inference\.model_ids"):
        RagAppSettings(
            inference=InferenceSettings(base_url="http://x:1/v1", model_ids=["e"]),
            embeddings=EmbeddingSettings(base_url="http://x:1/v1", model_id="e", dimension=8),
            vector_store=MilvusLite(db_path="/tmp/m.db"),
            storage=SqliteStorage(dir="/tmp"),
            files_dir="/tmp/f",
        )
