"""Boot the real OGX 1.5.0 server on 127.0.0.1 with generated configs and use it.

Upstream: local/tiny_openai_server.py (chat, embeddings, moderations); the llama.cpp SmolLM2 server from
local/llm_server.py for one chat test when .venvs/llm-server exists. Every server starts through local/services.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from components.app.common import to_yaml
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import MilvusLite, SearchSettings
from local.envs import has_venv
from local.llm_server import LlmServer
from local.process import free_port, http_json, http_upload
from local.services import start_ogx, start_tiny_upstream
from tests.components.app.app_samples import cluster_settings, local_settings

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def test_local_stack_boots_and_serves_rag(ogx_python: Path, tmp_path: Path) -> None:
    with start_tiny_upstream(tmp_path, ["tiny-chat"], ["tiny-embed"]) as up:
        port = free_port()
        rendered = build_ogx_run_config(local_settings(tmp_path / "data", up.base_url, port))
        with start_ogx(tmp_path / "run", rendered.yaml, {}, port) as ogx:
            base = ogx.url
            status, health, _ = http_json("GET", f"{base}/v1/health")
            assert (status, health) == (200, {"status": "OK"})

            _, models, _ = http_json("GET", f"{base}/v1/models")
            ids = {m["id"]: m["custom_metadata"] for m in models["data"]}
            assert ids["vllm/tiny-chat"]["model_type"] == "llm"
            assert ids["embeddings/tiny-embed"]["embedding_dimension"] == 384

            status, chat, _ = http_json(
                "POST",
                f"{base}/v1/chat/completions",
                {"model": "vllm/tiny-chat", "messages": [{"role": "user", "content": "What is Milvus?"}]},
            )
            assert status == 200, chat
            assert chat["choices"][0]["message"]["content"] == "echo: What is Milvus?"

            # RAG path: vector store in Milvus Lite, file chunked (tiktoken offline), embedded, searched.
            _, store, _ = http_json("POST", f"{base}/v1/vector_stores", {"name": "docs"})
            assert store["metadata"]["embedding_dimension"] == "384"
            doc = tmp_path / "doc.txt"
            doc.write_text("Milvus is a vector database.\n\nRedis is an in-memory key value store for caching.\n")
            status, uploaded, _ = http_upload(f"{base}/v1/files", doc.name, doc.read_bytes(), {"purpose": "assistants"})
            assert status == 200, uploaded
            file_id = uploaded["id"]
            status, attached, _ = http_json(
                "POST", f"{base}/v1/vector_stores/{store['id']}/files", {"file_id": file_id}
            )
            assert (status, attached["status"]) == (200, "completed"), attached
            _, found, _ = http_json(
                "POST",
                f"{base}/v1/vector_stores/{store['id']}/search",
                {"query": "key value caching", "max_num_results": 1},
            )
            assert "Redis is an in-memory key value store" in found["data"][0]["content"][0]["text"]
            assert up.stats()["embeddings"] >= 2  # the chunk and the query
        assert (tmp_path / "data" / "milvus.db").exists()


def test_cluster_style_stack_uses_auth_and_moderation_and_logs_no_secret(ogx_python: Path, tmp_path: Path) -> None:
    """SQLite state on the app's volume, API-key auth and the moderation shield, on 127.0.0.1; Milvus Lite stands
    in for the remote Milvus, which cannot run here. OGX logs its resolved run config at start-up: no secret
    value may be in it (issue #12: the Redis password used to be, inside the kv_redis host)."""
    (tmp_path / "data").mkdir()  # in the pod: the mounted volume (OGX does not create a SQL store's folder)
    with start_tiny_upstream(tmp_path, ["tiny-chat"], ["tiny-embed"], flag_words=("forbidden",)) as up:
        port = free_port()
        settings = cluster_settings(
            sql_dir=str(tmp_path / "data"),
            port=port,
            host="127.0.0.1",
            milvus=MilvusLite(db_path=str(tmp_path / "data" / "milvus.db")),
            gateway=up.base_url,
        )
        settings = settings.model_copy(
            update={
                "shield": settings.shield.model_copy(  # type: ignore[union-attr]
                    update={"moderation_url": up.base_url + "/moderations"}
                )
            }
        )
        rendered = build_ogx_run_config(settings)
        env = {
            "GATEWAY_API_KEY": "sk-upstream-6f1d2c",
            "GUARD_API_KEY": "guard-key-93ab7e",
            "OGX_API_KEY": "ogx-secret-key",
        }
        assert set(env) == set(rendered.secret_env)
        with start_ogx(tmp_path / "run", rendered.yaml, env, port) as ogx:
            base = ogx.url
            status, _, _ = http_json("GET", f"{base}/v1/models")
            assert status == 401
            auth = {"Authorization": "Bearer ogx-secret-key"}
            status, models, _ = http_json("GET", f"{base}/v1/models", headers=auth)
            assert status == 200 and "vllm/tiny-chat" in {m["id"] for m in models["data"]}
            # The registry lives in SQLite on the volume.
            assert (tmp_path / "data" / "kvstore.db").stat().st_size > 0
            log = (tmp_path / "run" / "ogx.log").read_text()
            assert "Stack Configuration" in log  # the resolved config was logged...
            assert [name for name, value in env.items() if value in log] == []  # ...without a secret

            ok = {"model": "vllm/tiny-chat", "input": "hello there", "guardrails": True, "store": False}
            status, resp, _ = http_json("POST", f"{base}/v1/responses", ok, headers=auth)
            assert status == 200, resp
            assert "echo: hello there" in json.dumps(resp)
            bad = {**ok, "input": "this is forbidden content"}
            status, resp, _ = http_json("POST", f"{base}/v1/responses", bad, headers=auth)
            assert status == 200, resp
            content = resp["output"][0]["content"][0]
            assert content == {
                "type": "refusal",
                "refusal": "Content blocked by safety guardrails (flagged for: violence)",
            }
            assert up.stats().get("moderations", 0) >= 2


def test_missing_embedding_dimension_stops_the_server_with_ogx_error(ogx_python: Path, tmp_path: Path) -> None:
    port = free_port()
    data = copy.deepcopy(build_ogx_run_config(local_settings(tmp_path / "data", port=port)).data)
    for model in data["registered_resources"]["models"]:
        model["metadata"].pop("embedding_dimension", None)
    del data["vector_stores"]["default_embedding_model"]["embedding_dimensions"]
    with (
        pytest.raises(RuntimeError, match="Embedding model must have an embedding dimension in its metadata"),
        start_ogx(tmp_path / "run", to_yaml(data), {}, port),
    ):
        pass


def test_chat_through_ogx_with_llama_cpp(ogx_python: Path, tmp_path: Path) -> None:
    if not has_venv("llm-server"):
        pytest.skip("needs .venvs/llm-server: make venv-llm-server")

    with LlmServer(log_path=tmp_path / "llm.log") as llm, start_tiny_upstream(tmp_path, [], ["tiny-embed"]) as up:
        port = free_port()
        settings = local_settings(
            tmp_path / "data", up.base_url, port, chat_model=llm.model, inference_key_env="LLM_API_KEY"
        )
        settings = settings.model_copy(
            update={"inference": settings.inference.model_copy(update={"base_url": f"{llm.base_url}/v1"})}
        )
        rendered = build_ogx_run_config(settings)
        assert llm.api_key not in rendered.yaml
        with start_ogx(tmp_path / "run", rendered.yaml, {"LLM_API_KEY": llm.api_key}, port) as ogx:
            base = ogx.url
            status, chat, _ = http_json(
                "POST",
                f"{base}/v1/chat/completions",
                {
                    "model": f"vllm/{llm.model}",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": "Say hello."}],
                },
                timeout=120,
            )
            assert status == 200, chat
            assert chat["choices"][0]["message"]["content"].strip()
            assert chat["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_the_apps_answers_search_in_the_rendered_mode(ogx_python: Path, tmp_path: Path, mode: str) -> None:
    """The Responses API's file_search (how the app answers) searches as `vector_stores.chunk_retrieval_params`
    says: the scores it returns are those of `/search` in that mode (hybrid: reciprocal rank fusion, k = 60) and
    not those of the other mode. The tiny upstream stands in for the model: it calls the offered tool with the
    user's text, then echoes the tool's result."""
    with start_tiny_upstream(tmp_path, ["tiny-chat"], ["tiny-embed"]) as up:
        port = free_port()
        settings = local_settings(tmp_path / "data", up.base_url, port)
        rendered = build_ogx_run_config(settings.model_copy(update={"search": SearchSettings(mode=mode)}))
        assert rendered.data["vector_stores"]["chunk_retrieval_params"] == {"default_search_mode": mode}
        with start_ogx(tmp_path / "run", rendered.yaml, {}, port) as ogx:
            base = ogx.url
            _, store, _ = http_json("POST", f"{base}/v1/vector_stores", {"name": "docs"})
            doc = tmp_path / "caching.txt"
            doc.write_text("Redis is an in-memory key value store for caching.\n")
            _, uploaded, _ = http_upload(f"{base}/v1/files", doc.name, doc.read_bytes(), {"purpose": "assistants"})
            http_json("POST", f"{base}/v1/vector_stores/{store['id']}/files", {"file_id": uploaded["id"]})
            question = "key value caching"

            def top_score(search_mode: str) -> float:
                body = {"query": question, "search_mode": search_mode}
                _, found, _ = http_json("POST", f"{base}/v1/vector_stores/{store['id']}/search", body)
                return float(found["data"][0]["score"])

            request = {
                "model": "vllm/tiny-chat",
                "input": question,
                "store": False,
                "tools": [{"type": "file_search", "vector_store_ids": [store["id"]]}],
                "include": ["file_search_call.results"],
            }
            status, resp, _ = http_json("POST", f"{base}/v1/responses", request)
            assert status == 200, resp
            call, answer = resp["output"]
            assert (call["type"], call["queries"]) == ("file_search_call", [question])
            [result] = call["results"]
            assert "key value store" in result["text"]
            scores = {m: top_score(m) for m in ("vector", "hybrid")}
            other = {"vector": "hybrid", "hybrid": "vector"}[mode]
            assert result["score"] == pytest.approx(scores[mode])
            assert scores[mode] != pytest.approx(scores[other])
            if mode == "hybrid":
                assert result["score"] == pytest.approx(2 / 61)  # first in both rankings
            assert "key value store" in answer["content"][0]["text"]  # the echoed tool result
            assert answer["content"][0]["annotations"][0]["filename"] == doc.name
