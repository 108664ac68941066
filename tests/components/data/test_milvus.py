"""Milvus under the SDK's mocks: the pinned chart, standalone/distributed, auth, MinIO credentials, sizes,
its namespace, its NetworkPolicies and its outputs."""

from __future__ import annotations

import pytest
import yaml

from components import versions
from components.data import milvus
from components.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS
from infra.mocks import REDACTED, mock_secret
from infra.validate import validate
from tests import renderkit as rk
from tests.renderkit import run_stack, run_values, stack_values

MILVUS_PODS = {"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": "milvus"}
ROOT_PASSWORD = "leanrag-dev-milvus-root-password"


def components_of(values: dict) -> list[str]:
    if values["cluster"]["enabled"]:
        return ["proxy", "mixCoordinator", "queryNode", "dataNode", "streamingNode"]
    return ["standalone"]


@pytest.fixture(scope="module")
def custom():
    """dev with other sizes, resources, an explicit namespace, and the ingest job off."""
    values = stack_values("dev")
    values["platform"]["milvus"] = {
        "mode": "standalone",
        "namespace": "vectors",
        "storageGb": 77,
        "localDiskGb": 13,
        "resources": {"cpu": "3", "memory": "6Gi", "memoryLimit": "8Gi"},
        "minioResources": {"cpu": "100m", "memory": "512Mi"},
    }
    values["jobs"] = {"ingest": {"enabled": False}}
    return run_values(values, stack="custom")


def test_the_chart_is_the_pinned_official_one():
    assert versions.MILVUS.repo == "https://zilliztech.github.io/milvus-helm"
    for stack in ("dev", "prod", "local"):
        release = rk.release(run_stack(stack), "milvus")
        assert release.inputs["chart"] == "milvus"
        assert release.inputs["version"] == versions.MILVUS.version == "5.0.19"
        assert release.inputs["repositoryOpts"]["repo"] == versions.MILVUS.repo
        assert release.inputs["namespace"] == "milvus"


def test_dev_is_standalone_with_single_etcd_and_standalone_minio():
    values = rk.helm_values(run_stack("dev"), "milvus")
    assert values["cluster"]["enabled"] is False
    assert values["etcd"]["replicaCount"] == 1
    assert values["minio"]["mode"] == "standalone"
    assert values["standalone"]["messageQueue"] == "woodpecker"
    assert values["standalone"]["persistence"]["enabled"] is True


def test_prod_is_distributed_with_query_node_replicas_and_no_pulsar():
    values = rk.helm_values(run_stack("prod"), "milvus")
    assert values["cluster"]["enabled"] is True
    assert values["queryNode"]["replicas"] == 2
    assert values["etcd"]["replicaCount"] == 3
    assert values["minio"]["mode"] == "distributed"
    assert values["minio"]["persistence"]["size"] == "200Gi"  # storageGb: 200 in Pulumi.prod.yaml
    assert values["indexNode"]["enabled"] is False
    for mq in ("pulsarv3", "pulsar", "kafka", "woodpecker"):
        assert values[mq]["enabled"] is False, mq
    user = yaml.safe_load(values["extraConfigFiles"]["user.yaml"])
    assert user["mq"]["type"] == "woodpecker"
    assert values["streaming"]["woodpecker"]["embedded"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_authentication_is_on_with_the_generated_root_password_from_a_secret(stack):
    run = run_stack(stack)
    values = rk.helm_values(run, "milvus")
    user = yaml.safe_load(values["extraConfigFiles"]["user.yaml"])
    assert user["common"]["security"]["authorizationEnabled"] is True
    for component in components_of(values):
        env = {e["name"]: e for e in values[component]["extraEnv"]}
        ref = env["COMMON_SECURITY_DEFAULT_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": milvus.ROOT_SECRET, "key": milvus.ROOT_PASSWORD_KEY}, component
        assert "value" not in env["COMMON_SECURITY_DEFAULT_ROOT_PASSWORD"]
    held = rk.secret_data(run, milvus.ROOT_SECRET, "milvus")
    assert held == {"password": mock_secret(f"leanrag-{stack}-milvus-root-password")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_minio_uses_generated_keys_from_an_existing_secret_never_the_defaults(stack):
    run = run_stack(stack)
    values = rk.helm_values(run, "milvus")
    minio = values["minio"]
    assert minio["existingSecret"] == milvus.MINIO_SECRET
    assert minio["accessKey"] == minio["secretKey"] == ""  # the chart would put these in its ConfigMap
    held = rk.secret_data(run, milvus.MINIO_SECRET, "milvus")
    assert held == {
        "accesskey": mock_secret(f"leanrag-{stack}-milvus-minio-access-key"),
        "secretkey": mock_secret(f"leanrag-{stack}-milvus-minio-secret-key"),
    }
    assert "minioadmin" not in held.values()
    for component in components_of(values):
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in values[component]["extraEnv"]}
        assert env["MINIO_ACCESS_KEY_ID"] == {"name": milvus.MINIO_SECRET, "key": "accesskey"}
        assert env["MINIO_SECRET_ACCESS_KEY"] == {"name": milvus.MINIO_SECRET, "key": "secretkey"}


def test_sizes_resources_and_namespace_come_from_config(custom):
    values = rk.helm_values(custom, "milvus")
    assert rk.release(custom, "milvus").inputs["namespace"] == "vectors"
    assert values["standalone"]["resources"] == {
        "requests": {"cpu": "3", "memory": "6Gi"},
        "limits": {"cpu": "6000m", "memory": "8Gi"},  # the CPU limit: twice the request, by default
    }
    assert values["standalone"]["persistence"]["persistentVolumeClaim"]["size"] == "13Gi"
    assert values["minio"]["persistence"]["size"] == "77Gi"
    assert values["minio"]["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert rk.find(custom, "Namespace", "vectors")


def test_prod_distributed_components_get_their_resources():
    values = rk.helm_values(run_stack("prod"), "milvus")
    for component in ("queryNode", "dataNode", "streamingNode"):
        assert values[component]["resources"]["requests"] == {"cpu": "1", "memory": "4Gi"}, component
    for component in ("proxy", "mixCoordinator"):
        assert values[component]["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}, component


def test_an_existing_cluster_gets_its_storage_class_on_every_volume():
    values = rk.helm_values(run_stack("local"), "milvus")
    assert values["standalone"]["persistence"]["persistentVolumeClaim"]["storageClass"] == "standard"
    assert values["minio"]["persistence"]["storageClass"] == "standard"
    assert values["etcd"]["persistence"]["storageClass"] == "standard"
    dev = rk.helm_values(run_stack("dev"), "milvus")
    assert "storageClass" not in dev["minio"]["persistence"]  # clouds use their default class


def test_pods_go_to_the_system_pool():
    values = rk.helm_values(run_stack("dev"), "milvus")
    for where in (values, values["minio"], values["etcd"]):
        assert where["nodeSelector"] == {"leanrag.dev/pool": "system"}


def test_milvus_namespace_enforces_baseline_and_warns_on_restricted():
    # baseline only because of the chart's MinIO sub-chart (no container securityContext): Milvus and etcd are set
    # as restricted requires (their rendered pods are checked in tests/infra/test_helm_releases.py)
    ns = rk.find(run_stack("dev"), "Namespace", "milvus")
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    values = rk.helm_values(run_stack("dev"), "milvus")
    for container in (values["containerSecurityContext"], values["etcd"]["containerSecurityContext"]):
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
        assert container["runAsNonRoot"] is True
    for pod in (values["securityContext"], values["etcd"]["podSecurityContext"]):
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"} and pod["runAsNonRoot"] is True
    assert values["minio"]["securityContext"]["runAsUser"] >= 10000


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_policies_admit_only_the_app(stack):
    """The ingest Job writes through the app's API (issue #11): it no longer reaches Milvus."""
    run = run_stack(stack)
    policies = rk.of_kind(run, "NetworkPolicy")
    component = "proxy" if stack == "prod" else "standalone"
    server = ("milvus", {**MILVUS_PODS, "component": component})
    app, ingest = ("rag", APP_POD_LABELS), ("jobs", INGEST_JOB_POD_LABELS)
    assert rk.admits(policies, app, server, 19530)
    assert not rk.admits(policies, ingest, server, 19530)
    assert not rk.admits(policies, app, server, 9091)  # metrics port
    assert not rk.admits(policies, ("rag", GATEWAY_POD_LABELS), server, 19530)
    assert not rk.admits(policies, ("rag", {"app": "other"}), server, 19530)
    assert not rk.admits(policies, ("serving", APP_POD_LABELS), server, 19530)  # the labels, elsewhere
    assert not rk.admits(policies, ("jobs", {"app.kubernetes.io/name": "benchmark"}), server, 19530)
    etcd = ("milvus", {"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": "milvus"})
    minio = ("milvus", {"app": "minio", "release": "milvus"})
    for backend, port in ((etcd, 2379), (minio, 9000)):
        assert not rk.admits(policies, app, backend, port)
        assert not rk.admits(policies, ingest, backend, port)
        assert rk.admits(policies, server, backend, port)  # Milvus reaches its own etcd and MinIO
    assert rk.admits(policies, minio, minio, 9000)  # distributed MinIO peers


def test_only_the_app_is_admitted_and_holds_credentials(custom):
    policies = rk.of_kind(custom, "NetworkPolicy")
    server = ("vectors", {**MILVUS_PODS, "component": "standalone"})
    assert rk.admits(policies, ("rag", APP_POD_LABELS), server, 19530)
    assert not rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), server, 19530)
    holders = {
        s["metadata"]["namespace"]
        for s in rk.of_kind(custom, "Secret")
        if s["metadata"]["name"] == milvus.CLIENT_SECRET
    }
    assert holders == {"rag"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_clients_get_uri_and_token_in_their_namespace(stack):
    run = run_stack(stack)
    password = mock_secret(f"leanrag-{stack}-milvus-root-password")
    holders = {
        s["metadata"]["namespace"] for s in rk.of_kind(run, "Secret") if s["metadata"]["name"] == milvus.CLIENT_SECRET
    }
    assert holders == {"rag"}  # not the jobs namespace: the ingest Job goes through the app
    for ns in ("rag",):
        held = rk.secret_data(run, milvus.CLIENT_SECRET, ns)
        assert held == {
            "uri": "http://milvus.milvus.svc.cluster.local:19530",
            "token": f"root:{password}",
            "username": "root",
            "password": password,
        }


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_outputs_uri_in_clear_and_token_as_secret(stack):
    run = run_stack(stack)
    assert run.outputs["milvusUri"] == "http://milvus.milvus.svc.cluster.local:19530"
    assert "milvusUri" not in run.secret_outputs
    assert run.outputs["milvusToken"] == REDACTED and "milvusToken" in run.secret_outputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_milvus_objects_validate_strictly(stack):
    run = run_stack(stack)
    ours = [
        m
        for m in rk.manifests(run)
        if m["metadata"].get("namespace") == "milvus" or m["metadata"]["name"] in ("milvus", milvus.CLIENT_SECRET)
    ]
    assert {m["kind"] for m in ours} >= {"Namespace", "Secret", "NetworkPolicy"}
    assert {f"{m['kind']}/{m['metadata']['name']}": validate(m) for m in ours if validate(m)} == {}


def test_helm_values_hold_secret_names_only():
    for stack in ("dev", "prod"):
        run = run_stack(stack)
        text = yaml.safe_dump(rk.helm_values(run, "milvus"))
        for value in rk.generated_secrets(run).values():
            assert value not in text
        assert "minioadmin" not in text
