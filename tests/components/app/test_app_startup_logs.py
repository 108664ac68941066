"""No secret in what the app's servers print: the real OGX and LiteLLM, started as the cluster runs them (configs
from the program's generators in their in-cluster shape: API keys, guardrails, the gateway's Redis with a password;
only the addresses are local), with a known secret in every environment variable their config refers to. Each must come
up, answer one authenticated request, and leave none of the secrets in its output (both print their resolved
config at start-up)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from components.app.gateway_config import build_gateway_config
from components.app.gateway_settings import CacheSettings, GatewaySettings, RedisSettings, Upstream
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import MilvusLite
from local.process import free_port, http_json
from local.services import Redis, start_gateway, start_ogx, start_tiny_upstream
from tests.components.app.app_samples import cluster_settings

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def known_secrets(names: tuple[str, ...], redis: Redis | None = None) -> dict[str, str]:
    """A recognisable secret per variable; Redis' is the running server's own password."""
    values = {name: f"leakcheck{name.lower().replace('_', '')}{secrets.token_hex(8)}" for name in names}
    if "REDIS_PASSWORD" in values and redis is not None:
        values["REDIS_PASSWORD"] = redis.password
    return values


def leaks(log: Path, env: dict[str, str]) -> list[str]:
    text = log.read_text(errors="replace")
    return sorted(name for name, value in env.items() if value in text)


def test_ogx_prints_no_secret_at_start_up(ogx_python: Path, tmp_path: Path) -> None:
    # (Before the app's state moved to SQLite, the generated config put the Redis password into the kv store's
    # host string, and OGX printed it here: this test failed on that.)
    (tmp_path / "data").mkdir()
    with start_tiny_upstream(tmp_path, ["tiny-chat"], ["tiny-embed"]) as up:
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
        env = known_secrets(rendered.secret_env)
        assert set(env) >= {"OGX_API_KEY", "GATEWAY_API_KEY", "GUARD_API_KEY"}
        assert not [name for name, value in env.items() if value in rendered.yaml]
        log = tmp_path / "ogx.log"
        with start_ogx(tmp_path / "run", rendered.yaml, env, port, log=log) as ogx:
            status, models, _ = http_json(
                "GET", f"{ogx.url}/v1/models", headers={"Authorization": f"Bearer {env['OGX_API_KEY']}"}
            )
            assert status == 200 and models["data"]
    assert up.base_url in log.read_text()  # the resolved config was printed: the check below has something to read
    assert leaks(log, env) == []


def test_litellm_prints_no_secret_at_start_up(gateway_venv: Path, tmp_path: Path, redis: Redis) -> None:
    with start_tiny_upstream(tmp_path, ["tiny-chat"], ["tiny-embed"]) as up:
        settings = GatewaySettings(
            upstreams=[
                Upstream(
                    name="chat",
                    base_url=up.base_url,
                    served_model="tiny-chat",
                    api_key_env="UPSTREAM_KEY",
                    fallback="chat-cpu",
                ),
                Upstream(name="chat-cpu", base_url=up.base_url, served_model="tiny-chat", api_key_env="UPSTREAM_KEY"),
                Upstream(name="embed", base_url=up.base_url, served_model="tiny-embed", kind="embedding"),
            ],
            redis=RedisSettings(host="127.0.0.1", port=redis.port, password_env="REDIS_PASSWORD"),
            cache=CacheSettings(corpus_version="v1", chat_ttl_s=60, embedding_ttl_s=60),
            master_key_env="GATEWAY_MASTER_KEY",
        )
        rendered = build_gateway_config(settings)
        env = known_secrets(rendered.secret_env, redis)
        assert set(env) == {"REDIS_PASSWORD", "GATEWAY_MASTER_KEY", "UPSTREAM_KEY"}
        assert not [name for name, value in env.items() if value in rendered.yaml]
        log = tmp_path / "gateway.log"
        with start_gateway(tmp_path / "gw", rendered.yaml, env, log=log) as gw:
            status, body, _ = http_json(
                "POST",
                f"{gw.url}/v1/chat/completions",
                {"model": "chat", "messages": [{"role": "user", "content": "hello"}]},
                headers={"Authorization": f"Bearer {env['GATEWAY_MASTER_KEY']}"},
            )
            assert status == 200, body
    assert log.read_text().strip()  # it printed its start-up
    assert leaks(log, env) == []
