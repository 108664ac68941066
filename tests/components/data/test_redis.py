"""Redis under the SDK's mocks: pinned image, password only through a Secret, AOF on a volume, eviction
policy and memory from config, probes, Pod Security restricted, NetworkPolicy and the secret URL output."""

from __future__ import annotations

import pytest

from components import kube, versions
from components.data import redis
from components.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS
from infra.mocks import REDACTED, mock_secret
from infra.validate import validate
from tests import renderkit as rk
from tests.renderkit import run_stack, run_values, stack_values

REDIS_PODS = ("rag", kube.labels("redis", "cache"))


def conf(run) -> dict[str, str]:
    text = rk.find(run, "ConfigMap", "redis-config", "rag")["data"]["redis.conf"]
    return dict(line.split(" ", 1) for line in text.splitlines())


def pod_spec(run) -> dict:
    return rk.find(run, "StatefulSet", "redis", "rag")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def custom():
    values = stack_values("local")
    values["platform"]["redis"] = {
        "storageGb": 3,
        "maxmemoryPolicy": "allkeys-lru",
        "resources": {"cpu": "100m", "memory": "512Mi", "memoryLimit": "2Gi"},
    }
    return run_values(values, stack="custom")


def test_image_is_pinned():
    image = pod_spec(run_stack("dev"))["containers"][0]["image"]
    assert image == versions.REDIS_IMAGE
    name, tag = image.rsplit(":", 1)
    assert name.endswith("/redis") and tag[0].isdigit() and tag != "latest"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_aof_everysec_on_the_data_volume(stack):
    run = run_stack(stack)
    settings = conf(run)
    assert settings["appendonly"] == "yes"
    assert settings["appendfsync"] == "everysec"
    assert settings["dir"] == "/data"
    sts = rk.find(run, "StatefulSet", "redis", "rag")["spec"]
    mounts = {m["name"]: m["mountPath"] for m in sts["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["data"] == "/data"
    claim = sts["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == ("1Gi" if stack == "local" else "8Gi")


def test_eviction_policy_memory_and_volume_follow_config(custom):
    settings = conf(custom)
    assert settings["maxmemory-policy"] == "allkeys-lru"
    assert int(settings["maxmemory"]) == int(2 * 2**30 * redis.MAXMEMORY_SHARE)  # of the 2Gi limit
    container = pod_spec(custom)["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"cpu": "200m", "memory": "2Gi"},
    }
    claim = rk.find(custom, "StatefulSet", "redis", "rag")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "3Gi"
    assert claim["storageClassName"] == "standard"
    assert conf(run_stack("dev"))["maxmemory-policy"] == "volatile-lru"  # the default


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_password_comes_from_a_secret_never_the_command_line_or_config_map(stack):
    run = run_stack(stack)
    password = mock_secret(f"leanrag-{stack}-redis-password")
    held = rk.secret_data(run, redis.SECRET_NAME, "rag")
    assert held == {"password": password, "auth.conf": f"requirepass {password}\n"}
    settings = conf(run)
    assert "requirepass" not in settings
    assert settings["include"] == "/etc/redis/auth/auth.conf"
    spec = pod_spec(run)
    container = spec["containers"][0]
    assert container["command"] == ["redis-server", "/etc/redis/redis.conf"]
    assert "args" not in container
    auth = next(v for v in spec["volumes"] if v["name"] == "auth")
    assert auth["secret"]["secretName"] == redis.SECRET_NAME
    assert auth["secret"]["items"] == [
        {"key": "auth.conf", "path": "auth.conf"},
        {"key": "password", "path": "password"},  # for the probes' redis-cli: a file, not an env var
    ]
    assert {"name": "auth", "mountPath": "/etc/redis/auth", "readOnly": True} in container["volumeMounts"]
    assert "env" not in container  # no secret as an environment variable


def test_probes_ping_without_a_password_on_the_command_line():
    container = pod_spec(run_stack("dev"))["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = " ".join(container[probe]["exec"]["command"])
        assert "redis-cli" in command and "ping" in command, probe
        # the password reaches redis-cli alone, from the Secret's file: never argv, never the container's env
        assert " -a " not in command and "--pass" not in command, probe
        assert 'REDISCLI_AUTH="$(cat /etc/redis/auth/password)" redis-cli' in command, probe
        assert mock_secret("leanrag-dev-redis-password") not in command, probe
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 300


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_pod_security_restricted_and_read_only_root(stack):
    spec = pod_spec(run_stack(stack))
    assert rk.restricted_violations(spec) == []
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsUser"] == redis.UID >= 10000
    assert spec["automountServiceAccountToken"] is False
    assert spec["nodeSelector"] == {"leanrag.dev/pool": "system"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_policy_admits_the_gateway_only_and_blocks_egress(stack):
    """The app keeps its state in SQLite on its volume (issue #12): only the gateway's caches are in Redis."""
    policies = rk.of_kind(run_stack(stack), "NetworkPolicy")
    assert not rk.admits(policies, ("rag", APP_POD_LABELS), REDIS_PODS, 6379)
    assert rk.admits(policies, ("rag", GATEWAY_POD_LABELS), REDIS_PODS, 6379)
    assert not rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), REDIS_PODS, 6379)
    assert not rk.admits(policies, ("rag", {"app.kubernetes.io/name": "debug"}), REDIS_PODS, 6379)
    assert not rk.admits(policies, ("serving", GATEWAY_POD_LABELS), REDIS_PODS, 6379)
    assert not rk.admits(policies, ("rag", GATEWAY_POD_LABELS), REDIS_PODS, 16379)
    assert not rk.egress_open(policies, REDIS_PODS)


def test_services_select_the_redis_pod():
    run = run_stack("dev")
    selector = rk.find(run, "StatefulSet", "redis", "rag")["spec"]["selector"]["matchLabels"]
    assert rk.find(run, "Service", "redis", "rag")["spec"]["selector"] == selector
    headless = rk.find(run, "Service", "redis-headless", "rag")["spec"]
    assert headless["clusterIP"] == "None" and headless["selector"] == selector
    assert rk.find(run, "StatefulSet", "redis", "rag")["spec"]["serviceName"] == "redis-headless"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_redis_url_output_is_secret(stack):
    run = run_stack(stack)
    assert run.outputs["redisUrl"] == REDACTED and "redisUrl" in run.secret_outputs


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_redis_objects_validate_strictly(stack):
    run = run_stack(stack)
    ours = [m for m in rk.manifests(run) if m["metadata"]["name"].startswith("redis")]
    assert len(ours) == 6  # Secret, ConfigMap, 2 Services, StatefulSet, NetworkPolicy
    assert {f"{m['kind']}/{m['metadata']['name']}": validate(m) for m in ours if validate(m)} == {}
