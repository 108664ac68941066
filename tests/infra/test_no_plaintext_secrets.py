"""No generated secret (the mock value of every RandomPassword) appears in plain text anywhere: not in a
Kubernetes object outside a Secret's (secret-marked) data, not in Helm values, not in stack outputs; and once
every env reference is resolved as the pods resolve it, none sits inside a URL, a host string or a command
line of any config the program renders."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests import renderkit as rk
from tests.renderkit import STACKS, run_stack


@pytest.mark.parametrize("stack", STACKS)
def test_generated_secrets_never_appear_in_plain_text(stack):
    run = run_stack(stack)
    assert len(rk.generated_secrets(run)) >= 4  # Milvus root + MinIO keys + Redis (+ app, gateway)
    assert rk.plaintext_leaks(run) == []


def test_the_scan_finds_a_leak_when_there_is_one():
    run = run_stack("dev")
    name, value = next(iter(rk.generated_secrets(run).items()))
    config_map = next(r for r in run.resources if r.type == "kubernetes:core/v1:ConfigMap")
    leaky = type(run)(resources=[*run.resources], outputs={**run.outputs, "oops": f"x{value}x"})
    assert rk.plaintext_leaks(leaky) == [f"stack outputs hold {name}"]
    original = config_map.inputs
    try:
        config_map.inputs = {**original, "data": {"k": value}}
        assert rk.plaintext_leaks(run) == [f"{config_map.type} {config_map.name} holds {name}"]
    finally:
        config_map.inputs = original


# --- no secret inside a URL, a host string or a command line, once references are resolved (issue #12) ------


@pytest.mark.parametrize("stack", STACKS)
def test_no_generated_secret_in_a_url_host_or_command_line_of_any_rendered_config(stack):
    run = run_stack(stack)
    configs = rk.rendered_config_files(run)
    # what is scanned: every config the program renders (OGX, LiteLLM, Redis), resolved with the pod's env
    assert {"rag/rag-app-config/run.yaml", "rag/gateway-config/config.yaml", "rag/redis-config/redis.conf"} <= set(
        configs
    )
    assert rk.locator_leaks(run) == []


def _swap_inputs(resource, change):
    original = resource.inputs
    resource.inputs = change(copy.deepcopy(original))
    return original


def test_the_scan_finds_the_redis_password_in_ogx_kv_host_as_the_app_rendered_it_before():
    """The shape of the bug in issue #12: kv_redis host ':${env.REDIS_PASSWORD}@redis...' with REDIS_PASSWORD
    from the redis-auth Secret. Every reference is a variable name in the ConfigMap, so only resolving it as the
    pod does finds it."""
    run = run_stack("dev")
    config_map = run.one("kubernetes:core/v1:ConfigMap", "leanrag-dev-rag-app-config")
    app = run.one("kubernetes:apps/v1:Deployment", "leanrag-dev-rag-app")

    def old_config(inputs):
        cfg = yaml.safe_load(inputs["data"]["run.yaml"])
        cfg["storage"]["backends"]["kv_default"] = {
            "type": "kv_redis",
            "host": ":${env.REDIS_PASSWORD}@redis.rag.svc.cluster.local",
            "port": 6379,
        }
        inputs["data"]["run.yaml"] = yaml.safe_dump(cfg)
        return inputs

    def old_env(inputs):
        env = inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        env.append({"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}}})
        return inputs

    saved = _swap_inputs(config_map, old_config), _swap_inputs(app, old_env)
    try:
        assert rk.plaintext_leaks(run) == []  # the plain scan cannot see it: only a variable name is rendered
        assert rk.locator_leaks(run) == [
            "Deployment rag/rag-app container ogx: rag-app-config/run.yaml "
            "storage.backends.kv_default.host holds leanrag-dev-redis-password"
        ]
    finally:
        config_map.inputs, app.inputs = saved


def test_the_scan_finds_a_secret_expanded_onto_a_command_line_or_into_a_url_env_var():
    run = run_stack("dev")
    job = run.one("kubernetes:batch/v1:Job", "leanrag-dev-benchmark-llama-3-1-8b")

    def leaky(inputs):
        container = inputs["spec"]["template"]["spec"]["containers"][0]
        # the job takes its key as a file (--api-key-file); a leaky variant also has it as an env var
        container["env"].append(
            {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "job-credentials", "key": "api-key"}}}
        )
        container["args"] = [*container["args"], "--api-key", "$(OPENAI_API_KEY)"]
        container["env"].append({"name": "TARGET_URL", "value": "http://u:$(OPENAI_API_KEY)@chat:8000/v1"})
        return inputs

    saved = _swap_inputs(job, leaky)
    try:
        leaks = rk.locator_leaks(run)
    finally:
        job.inputs = saved
    where = "Job jobs/leanrag-dev-benchmark-llama-3-1-8b container benchmark"
    assert leaks == [
        f"{where}: command line holds leanrag-dev-api-key",
        f"{where}: env TARGET_URL (a URL/host) holds leanrag-dev-api-key",
    ]
