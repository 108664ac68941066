"""Step 1: the demo's services on 127.0.0.1 with generated credentials, their configs from the program's own
generators (components/app: the LiteLLM gateway config and the OGX run config)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from components.app.gateway_config import build_gateway_config
from components.app.gateway_settings import CacheSettings, GatewaySettings, GuardrailSettings, RedisSettings, Upstream
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import (
    EmbeddingSettings,
    InferenceSettings,
    MilvusLite,
    RagAppSettings,
    ServerSettings,
    SqliteStorage,
)
from local import services
from local.demo.context import Demo, say
from local.envs import CORPUS, has_venv
from local.llm_server import LlmServer
from local.process import free_port


def corpus_version(corpus: Path) -> str:
    """A hash of the corpus files (names and contents): the gateway's cache namespace changes with the corpus."""
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        digest.update(path.relative_to(corpus).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def gateway_settings(llm_url: str, llm_model: str, redis_port: int, corpus: str) -> GatewaySettings:
    """The gateway in front of the model server: the Redis cache on, guardrails off (retrieved documentation can
    trip the prompt-injection rules); secrets as env var names (LLM_API_KEY, REDIS_PASSWORD, GATEWAY_MASTER_KEY)."""
    return GatewaySettings(
        upstreams=[
            Upstream(name="chat", base_url=llm_url, served_model=llm_model, api_key_env="LLM_API_KEY", timeout_s=120)
        ],
        redis=RedisSettings(host="127.0.0.1", port=redis_port, password_env="REDIS_PASSWORD"),
        cache=CacheSettings(corpus_version=corpus, chat_ttl_s=3600),
        guardrails=GuardrailSettings(enabled=False),
        master_key_env="GATEWAY_MASTER_KEY",
        prometheus=False,
        num_retries=0,
    )


def ogx_settings(chat_url: str, chat_model: str, embed_url: str, workdir: Path, port: int) -> RagAppSettings:
    """The RAG app: chat through the gateway (or the model server), embeddings from MiniLM, vector store in its
    own Milvus Lite file; secrets as env var names (CHAT_API_KEY, EMBED_API_KEY)."""
    return RagAppSettings(
        inference=InferenceSettings(
            base_url=chat_url, model_ids=[chat_model], api_key_env="CHAT_API_KEY", max_tokens=512
        ),
        embeddings=EmbeddingSettings(
            base_url=embed_url, model_id="all-MiniLM-L6-v2", dimension=384, api_key_env="EMBED_API_KEY"
        ),
        vector_store=MilvusLite(db_path=str(workdir / "milvus.db")),
        storage=SqliteStorage(dir=str(workdir)),
        files_dir=str(workdir / "files"),
        server=ServerSettings(host="127.0.0.1", port=port),
    )


def start_redis(demo: Demo) -> None:
    redis = services.start_redis(demo.data / "secrets", log=demo.logs / "redis.log")  # redis.conf holds the password
    demo.started(redis.service)
    demo.secret("redis-password", redis.password)
    demo.endpoints.redis_port, demo.endpoints.redis_password = redis.port, redis.password
    say(
        f"    redis-server on 127.0.0.1:{redis.port} (pid {redis.service.pid}, password in {demo.data}/secrets/"
        f"redis-password, log {redis.service.log})"
    )


def start_llm(demo: Demo) -> None:
    server = LlmServer(log_path=demo.logs / "llm-server.log", startup_timeout_s=demo.args.startup_timeout)
    demo.secret("llm-api-key", server.api_key)
    server.start()  # LlmServerError when .venvs/llm-server or the GGUF is missing, or it does not start
    assert server.service is not None
    demo.started(server.service)
    ep = demo.endpoints
    ep.llm = server
    ep.chat_url, ep.chat_key, ep.chat_model, ep.via = server.base_url, server.api_key, server.model, "model server"
    say(
        f"    llama.cpp {server.model} at {server.base_url} (pid {server.service.pid}, API key in "
        f"{demo.data}/secrets/llm-api-key, log {server.service.log})"
    )


def start_gateway(demo: Demo) -> None:
    ep = demo.endpoints
    assert ep.llm is not None
    if not has_venv("gateway", "litellm"):
        say(
            "    SKIPPED gateway: .venvs/gateway/bin/litellm missing (run `make venv-gateway`); "
            "questions go straight to the model server"
        )
        return
    corpus = corpus_version(CORPUS)
    rendered = build_gateway_config(gateway_settings(f"{ep.llm.base_url}/v1", ep.llm.model, ep.redis_port, corpus))
    master = "sk-" + secrets.token_urlsafe(24)
    demo.secret("gateway-master-key", master)
    env = {"GATEWAY_MASTER_KEY": master, "REDIS_PASSWORD": ep.redis_password, "LLM_API_KEY": ep.llm.api_key}
    gateway = services.start_gateway(  # config.yaml holds secrets only as os.environ/ references
        demo.data / "gateway", rendered.yaml, env, log=demo.logs / "gateway.log", timeout_s=demo.args.startup_timeout
    )
    demo.started(gateway.service)
    ep.chat_url, ep.chat_key, ep.chat_model, ep.via = gateway.url, master, "chat", "gateway"
    say(
        f"    LiteLLM gateway at {gateway.url} with the Redis cache (namespace corpus {corpus}; "
        f"pid {gateway.service.pid}, master key in {demo.data}/secrets/gateway-master-key, log {gateway.service.log})"
    )


def start_embeddings(demo: Demo) -> None:
    """MiniLM (the ingest job's model) behind an OpenAI-compatible /v1/embeddings, for the OGX app."""
    key = "sk-" + secrets.token_urlsafe(24)
    demo.secret("embeddings-api-key", key)
    embeddings = services.start_embeddings(demo.logs / "embeddings.log", key, timeout_s=demo.args.startup_timeout)
    demo.started(embeddings.service)
    demo.endpoints.embed_url, demo.endpoints.embed_key = embeddings.base_url, key
    say(
        f"    MiniLM embeddings at {embeddings.base_url} (pid {embeddings.service.pid}, API key in {demo.data}/"
        f"secrets/embeddings-api-key, log {embeddings.service.log})"
    )


def start_ogx(demo: Demo) -> None:
    """The RAG app (OGX 1.5.0), config from components/app/ogx_config.py (secrets as ${env.NAME} references)."""
    ep = demo.endpoints
    workdir = demo.data / "ogx"
    port = free_port()
    rendered = build_ogx_run_config(ogx_settings(f"{ep.chat_url}/v1", ep.chat_model, ep.embed_url, workdir, port))
    (workdir / "files").mkdir(parents=True, exist_ok=True)
    model = f"vllm/{ep.chat_model}"
    ogx = services.start_ogx(
        workdir,
        rendered.yaml,
        {"CHAT_API_KEY": ep.chat_key, "EMBED_API_KEY": ep.embed_key},
        port,
        log=demo.logs / "ogx.log",
        timeout_s=demo.args.startup_timeout,
        model=model,
    )
    demo.started(ogx.service)
    ep.ogx_url, ep.ogx_model = ogx.url, model
    say(
        f"    OGX app at {ogx.url} (pid {ogx.service.pid}; chat {model} via {ep.via}, embeddings "
        f"MiniLM, vector store {workdir / 'milvus.db'}; config {workdir / 'run.yaml'}, log {ogx.service.log})"
    )


def start_all(demo: Demo) -> None:
    start_redis(demo)
    start_llm(demo)
    if demo.args.no_gateway:
        say("    SKIPPED gateway (--no-gateway): questions go straight to the model server")
    else:
        start_gateway(demo)
    if demo.app:
        start_embeddings(demo)
        start_ogx(demo)
    else:
        say("    OGX app: not started (--app direct): questions go retrieve -> " + demo.endpoints.via)
