"""The run config the program renders into the app's ConfigMap, checked by OGX 1.5.0 itself
(app_env/ogx_validate.py in the Python 3.12 OGX venv), with the env vars the pod gets from Secrets set."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from app_env.local_services import ROOT, ensure_ogx_venv
from tests.data import renderkit as rk
from tests.stackrun import run_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ogx_python():
    return ensure_ogx_venv()


def ogx_check(python, text: str, env: dict[str, str]) -> tuple[int, dict]:
    base = {k: v for k, v in os.environ.items() if not re.fullmatch(r"[A-Z_]+_(KEY|TOKEN|PASSWORD)", k)}
    proc = subprocess.run(
        [str(python), str(ROOT / "app_env" / "ogx_validate.py")],
        input=text,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=180,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_rendered_run_config_is_valid_for_ogx(ogx_python, stack):
    run = run_stack(stack)
    text = rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    env = {name: "from-a-secret" for name in re.findall(r"\$\{env\.([A-Z0-9_]+)\}", text)}
    rc, result = ogx_check(ogx_python, text, env)
    assert (rc, result["errors"]) == (0, [])
    assert result["ogx_version"] == "1.5.0"


def test_ogx_refuses_it_when_a_secret_env_var_is_missing(ogx_python):
    text = rk.find(run_stack("dev"), "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    rc, result = ogx_check(ogx_python, text, {"GATEWAY_API_KEY": "k", "REDIS_PASSWORD": "p"})
    assert rc == 1 and "MILVUS_TOKEN" in json.dumps(result["errors"])
