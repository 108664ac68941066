"""The app layer's pods under the scanner's rules: LiteLLM with a read-only root filesystem (its runtime UI copy
on an emptyDir) and OGX as a high uid."""

from __future__ import annotations

import pytest

from tests import renderkit as rk


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_the_gateway_runs_with_a_read_only_root_and_writes_only_to_its_empty_dirs(stack: str):
    d = rk.find(rk.run_stack(stack), "Deployment", "gateway", "rag")
    spec, c = d["spec"]["template"]["spec"], rk.container(d)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    writable = {m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty_dirs}
    env = rk.env_of(c)
    # where LiteLLM writes: HOME, and its runtime copy of the admin UI and logo
    for var in ("HOME", "LITELLM_UI_PATH", "LITELLM_ASSETS_PATH"):
        assert any(env[var] == path or env[var].startswith(path + "/") for path in writable), (var, writable)


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_the_rag_app_runs_as_a_high_uid_with_a_read_only_root(stack: str):
    d = rk.find(rk.run_stack(stack), "Deployment", "rag-app", "rag")
    spec, c = d["spec"]["template"]["spec"], rk.container(d)
    assert spec["securityContext"]["runAsUser"] >= 10000 and spec["securityContext"]["runAsGroup"] >= 10000
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert rk.restricted_violations(spec) == []
