"""Generated run configs checked by OGX 1.5.0's own models (StackConfig + each provider's config class).

Runs local/ogx_validate.py in the Python 3.12 OGX venv (.venvs/ogx, built by the fixture).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.app.common import to_yaml
from components.app.ogx_config import build_ogx_run_config
from local.ogx_validate import validate_with_ogx
from tests.components.app.app_samples import cluster_settings, local_settings

pytestmark = [pytest.mark.slow, pytest.mark.servers]

CLUSTER_ENV = {
    "GATEWAY_API_KEY": "sk-gateway",
    "GUARD_API_KEY": "guard-key",
    "MILVUS_TOKEN": "root:Milvus",
    "OGX_API_KEY": "ogx-key",
    "REDIS_PASSWORD": "redis-pass",
}


def validate(ogx_python: Path, data: dict, env: dict[str, str] | None = None) -> tuple[int, dict]:
    return validate_with_ogx(to_yaml(data), env or {}, ogx_python)


def test_local_config_is_valid_for_ogx(ogx_python: Path, tmp_path: Path) -> None:
    rc, result = validate(ogx_python, build_ogx_run_config(local_settings(tmp_path)).data)
    assert (rc, result["errors"]) == (0, [])
    assert result["ogx_version"] == "1.5.0"


def test_cluster_config_is_valid_for_ogx(ogx_python: Path) -> None:
    rc, result = validate(ogx_python, build_ogx_run_config(cluster_settings()).data, CLUSTER_ENV)
    assert (rc, result["errors"]) == (0, [])


def test_unset_secret_env_var_is_named(ogx_python: Path) -> None:
    env = {k: v for k, v in CLUSTER_ENV.items() if k != "MILVUS_TOKEN"}
    rc, result = validate(ogx_python, build_ogx_run_config(cluster_settings()).data, env)
    assert rc == 1
    msg = result["errors"][0]["msg"]
    assert "MILVUS_TOKEN" in msg and "providers.vector_io[0].config.token" in msg


def test_provider_config_error_comes_from_the_provider_class(ogx_python: Path) -> None:
    data = copy.deepcopy(build_ogx_run_config(cluster_settings()).data)
    del data["providers"]["vector_io"][0]["config"]["uri"]
    rc, result = validate(ogx_python, data, CLUSTER_ENV)
    assert rc == 1
    assert {"loc": "providers.vector_io[0].config.uri", "msg": "Field required"} in result["errors"]


def test_stack_config_errors_surface(ogx_python: Path, tmp_path: Path) -> None:
    data = copy.deepcopy(build_ogx_run_config(local_settings(tmp_path)).data)
    data["storage"]["stores"]["metadata"]["backend"] = "sql_default"  # a kv store on a SQL backend
    rc, result = validate(ogx_python, data)
    assert rc == 1
    assert "storage.stores.metadata references backend 'sql_default'" in result["errors"][0]["msg"]

    data = copy.deepcopy(build_ogx_run_config(local_settings(tmp_path)).data)
    data["server"]["port"] = 80
    rc, result = validate(ogx_python, data)
    assert rc == 1
    assert any(e["loc"] == "config.server.port" and "1024" in e["msg"] for e in result["errors"])


def test_unknown_provider_type_is_rejected(ogx_python: Path, tmp_path: Path) -> None:
    data = copy.deepcopy(build_ogx_run_config(local_settings(tmp_path)).data)
    data["providers"]["vector_io"][0]["provider_type"] = "inline::milvus-typo"
    rc, result = validate(ogx_python, data)
    assert rc == 1
    assert result["errors"][0]["loc"] == "providers.vector_io[0].provider_type"
    assert "inline::milvus" in result["errors"][0]["msg"]
