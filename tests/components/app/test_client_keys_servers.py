"""Per-client keys against the real LiteLLM gateway and the real OGX app on 127.0.0.1.

The clients come from config (`platform.clients`), their digests are written with the same function `pulumi up`
uses (`client_keys.clients_json`) into folders laid out as the kubelet mounts ConfigMaps (`..data` links), and a
revocation is the `client-key-revocations` patch `leanrag keys revoke` applies. The random keys stand in for
Pulumi's RandomPassword.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.app import client_keys, leanrag_keys
from components.app.gateway_config import build_gateway_config
from components.app.gateway_settings import CacheSettings, GatewaySettings, RedisSettings, Upstream
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import AuthSettings, MilvusLite
from local.envs import venv_bin
from local.process import free_port, http_json
from local.services import Gateway, Redis, TinyUpstream, start_gateway, start_key_check, start_ogx, start_tiny_upstream
from stacks.config.platform import PlatformConfig
from tests.components.app.app_samples import cluster_settings

pytestmark = [pytest.mark.slow, pytest.mark.servers]

MASTER = "sk-operator-master-key"
CONFIG = {
    "clients": [
        {"name": "portal", "models": ["chat"]},
        {"name": "analytics"},
    ]
}
WAIT_S = leanrag_keys.RELOAD_S + 1.5


def configmap_dir(path: Path, data: dict[str, str | None]) -> None:
    """Write `data` the way the kubelet updates a mounted ConfigMap: a new timestamped folder, `..data` swapped to
    it atomically, one link per key (a None value removes the key, as a merge patch does)."""
    path.mkdir(parents=True, exist_ok=True)
    current = {p.name: p.read_text() for p in path.iterdir() if not p.name.startswith(".") and p.is_file()}
    current.update({k: v for k, v in data.items() if v is not None})
    for k, v in data.items():
        if v is None:
            current.pop(k, None)
    stamp = path / f"..{time.monotonic_ns()}"
    stamp.mkdir()
    for k, v in current.items():
        (stamp / k).write_text(v)
    tmp = path / "..data_tmp"
    tmp.symlink_to(stamp.name)
    os.replace(tmp, path / "..data")
    for p in list(path.iterdir()):
        if not p.name.startswith(".") and p.name not in current:
            p.unlink()
    for k in current:
        link = path / k
        if not link.is_symlink():
            link.symlink_to(f"..data/{k}")


@pytest.fixture
def keyring(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """clients.json from config in a `client-keys` folder, an empty `client-key-revocations` folder, the keys."""
    clients = PlatformConfig.model_validate(CONFIG).clients
    keys = {c.name: "sk-" + secrets.token_hex(20) for c in clients}
    clients_dir, revoked_dir = tmp_path / "clients", tmp_path / "revoked"
    text = client_keys.clients_json(clients, [keys[c.name] for c in clients])
    configmap_dir(clients_dir, {leanrag_keys.CLIENTS_FILE: text})
    configmap_dir(revoked_dir, {})
    return clients_dir, revoked_dir, keys


def revoke(revoked_dir: Path, clients_dir: Path, name: str) -> None:
    patch = leanrag_keys.revocation_patch((clients_dir / leanrag_keys.CLIENTS_FILE).read_text(), name)
    configmap_dir(revoked_dir, patch["data"])


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[TinyUpstream]:
    with start_tiny_upstream(tmp_path / "upstream", ["tiny-chat"], ["tiny-embed"]) as up:
        yield up


def call(url: str, key: str, model: str = "chat") -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    if model == "embed":
        return http_json("POST", f"{url}/v1/embeddings", {"model": model, "input": ["hi"]}, headers=_auth(key))[0]
    return http_json("POST", f"{url}/v1/chat/completions", body, headers=_auth(key))[0]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def start_key_checking_gateway(
    workdir: Path, redis: Redis, upstream: TinyUpstream, clients_dir: Path, revoked_dir: Path
) -> tuple[Gateway, dict[str, str]]:
    """The real LiteLLM gateway with models `chat` and `embed` (the tiny upstream), the master key MASTER, and
    `leanrag_keys.litellm_auth` reading the clients and revocations from these folders; and its environment."""
    settings = GatewaySettings(
        upstreams=[
            Upstream(name="chat", base_url=upstream.base_url, served_model="tiny-chat"),
            Upstream(name="embed", base_url=upstream.base_url, served_model="tiny-embed", kind="embedding"),
        ],
        redis=RedisSettings(host="127.0.0.1", port=redis.port, password_env="REDIS_PASSWORD"),
        cache=CacheSettings(corpus_version="keys", enabled=False),
        master_key_env="GATEWAY_MASTER_KEY",
        client_keys=True,
    )
    rendered = build_gateway_config(settings)
    workdir.mkdir(parents=True)
    (workdir / client_keys.CODE_FILE).write_text(client_keys.CODE)  # beside config.yaml, as in the ConfigMap
    env = {
        "REDIS_PASSWORD": redis.password,
        "GATEWAY_MASTER_KEY": MASTER,
        **client_keys.check_env("GATEWAY_MASTER_KEY"),
        "LEANRAG_CLIENTS_DIR": str(clients_dir),
        "LEANRAG_REVOKED_DIR": str(revoked_dir),
    }
    return start_gateway(workdir, rendered.yaml, env), env


def test_gateway_client_keys_work_within_their_models_and_a_revoked_one_is_refused(
    gateway_venv: Path, tmp_path: Path, redis: Redis, upstream: TinyUpstream, keyring
) -> None:
    clients_dir, revoked_dir, keys = keyring
    workdir = tmp_path / "gateway"
    gateway, env = start_key_checking_gateway(workdir, redis, upstream, clients_dir, revoked_dir)
    with gateway as gw:
        assert call(gw.url, keys["portal"]) == 200
        assert call(gw.url, keys["portal"], "embed") == 403  # not among its models
        assert call(gw.url, keys["analytics"], "embed") == 200  # no list: every model
        assert call(gw.url, MASTER, "embed") == 200  # the operator
        assert call(gw.url, "sk-" + secrets.token_hex(20)) == 401
        # A client key is no admin: LiteLLM's management routes refuse it (the master key may use them).
        for method, route in (("GET", "/key/list"), ("GET", "/config/yaml"), ("GET", "/model/info")):
            assert http_json(method, f"{gw.url}{route}", headers=_auth(keys["analytics"]))[0] == 403, route
        assert http_json("GET", f"{gw.url}/model/info", headers=_auth(MASTER))[0] == 200
        assert http_json("GET", f"{gw.url}/v1/models", headers=_auth(keys["portal"]))[0] == 200
        assert call(gw.url, keys["portal"][:-1]) == 401

        revoke(revoked_dir, clients_dir, "portal")
        time.sleep(WAIT_S)
        assert call(gw.url, keys["portal"]) == 401
        assert call(gw.url, keys["analytics"]) == 200  # the others keep working

        listed = subprocess.run(
            [str(venv_bin("gateway")), str(workdir / client_keys.CODE_FILE), "list"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        rows = {r["name"]: r for r in map(json.loads, listed.splitlines())}
        assert rows["portal"]["revoked"] is True and rows["analytics"]["revoked"] is False
        assert rows["portal"]["fingerprint"] == leanrag_keys.digest(keys["portal"])[:12]
        assert not [k for k in keys.values() if k in listed]  # the listing never shows a key

        configmap_dir(revoked_dir, leanrag_keys.restore_patch("portal")["data"])
        time.sleep(WAIT_S)
        assert call(gw.url, keys["portal"]) == 200
        log = (workdir / "gateway.log").read_text()
        assert not [k for k in [*keys.values(), MASTER] if k in log]


def test_app_client_keys_read_the_operators_store_and_a_revoked_one_is_refused(
    ogx_python: Path, tmp_path: Path, upstream: TinyUpstream, keyring
) -> None:
    clients_dir, revoked_dir, keys = keyring
    operator = "ogx-operator-key-" + secrets.token_hex(8)
    (tmp_path / "data").mkdir()
    with start_key_check(tmp_path / "key-check.log", clients_dir, revoked_dir, operator) as check:
        port = free_port()
        settings = cluster_settings(
            sql_dir=str(tmp_path / "data"),
            port=port,
            host="127.0.0.1",
            milvus=MilvusLite(db_path=str(tmp_path / "data" / "milvus.db")),
            gateway=upstream.base_url,
        ).model_copy(update={"shield": None, "auth": AuthSettings(api_key_env="OGX_API_KEY", endpoint=check.endpoint)})
        rendered = build_ogx_run_config(settings)
        assert yaml.safe_load(rendered.yaml)["server"]["auth"]["provider_config"]["type"] == "custom"
        assert "OGX_API_KEY" not in rendered.secret_env  # the sidecar holds it, not OGX
        with start_ogx(tmp_path / "run", rendered.yaml, {"GATEWAY_API_KEY": "sk-upstream"}, port) as ogx:
            base = f"{ogx.url}/v1"
            assert http_json("GET", f"{base}/models")[0] == 401
            assert http_json("GET", f"{base}/models", headers=_auth("sk-unknown"))[0] == 401
            # The operator (the ingest Job) creates the store; a client finds it by name.
            status, store, _ = http_json("POST", f"{base}/vector_stores", {"name": "docs"}, headers=_auth(operator))
            assert status == 200, store
            status, listed, _ = http_json("GET", f"{base}/vector_stores", headers=_auth(keys["portal"]))
            assert status == 200 and [s["name"] for s in listed["data"]] == ["docs"]

            revoke(revoked_dir, clients_dir, "portal")
            time.sleep(WAIT_S)
            assert http_json("GET", f"{base}/vector_stores", headers=_auth(keys["portal"]))[0] == 401
            assert http_json("GET", f"{base}/vector_stores", headers=_auth(keys["analytics"]))[0] == 200
            assert http_json("GET", f"{base}/vector_stores", headers=_auth(operator))[0] == 200
    log = (tmp_path / "key-check.log").read_text()
    assert not [k for k in [*keys.values(), operator] if k in log]
