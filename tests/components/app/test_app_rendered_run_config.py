"""The run config the program renders into the app's ConfigMap, checked by OGX 1.5.0 itself
(local/ogx_validate.py in the Python 3.12 OGX venv), with the env vars the pod gets from Secrets set."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from local.envs import ensure_venv
from local.ogx_validate import validate_with_ogx
from tests import renderkit as rk
from tests.renderkit import run_stack

pytestmark = [pytest.mark.slow, pytest.mark.servers]


@pytest.fixture(scope="module")
def ogx_python():
    return ensure_venv("ogx")


@pytest.mark.parametrize("stack", rk.STACKS)
def test_rendered_run_config_is_valid_for_ogx(ogx_python, stack):
    run = run_stack(stack)
    text = rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    env = {name: "from-a-secret" for name in re.findall(r"\$\{env\.([A-Z0-9_]+)\}", text)}
    assert {"GATEWAY_API_KEY", "SHIELD_API_KEY"} <= set(env) and "REDIS_PASSWORD" not in env
    assert "moderation_endpoint: http://moderation.rag.svc.cluster.local:8080/v1/moderations" in text
    # the store is created with the stack's served embedding model (ServingOutputs.embedding)
    default = yaml.safe_load(text)["vector_stores"]["default_embedding_model"]
    assert default["model_id"] == run.outputs["embedding"]["model"] == "all-minilm-l6-v2"
    rc, result = validate_with_ogx(text, env, ogx_python)
    assert (rc, result["errors"]) == (0, [])
    assert result["ogx_version"] == "1.5.0"


def test_ogx_refuses_it_when_a_secret_env_var_is_missing(ogx_python):
    text = rk.find(run_stack("dev"), "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    rc, result = validate_with_ogx(text, {"GATEWAY_API_KEY": "k", "SHIELD_API_KEY": "s"}, ogx_python)
    assert rc == 1 and "MILVUS_TOKEN" in json.dumps(result["errors"])
