"""The RAG app (OGX) under the SDK's mocks: run config from the generator in a ConfigMap, secrets through
env vars from Secrets, the gateway for inference, Milvus for vectors and SQLite on the volume for state, the
moderation endpoint, auth per stack, probes, Service, PDB, data volume, NetworkPolicy and outputs."""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml

from components import versions
from components.app import deployment as rag
from components.app.common import RenderedConfig
from components.app.deployment import METRICS_ENV
from components.cluster.base import cpu_placement
from components.data import MilvusOutputs
from components.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS, SecretRef
from components.kube import BENCHMARK_JOB_POD_LABELS as BENCHMARK_JOB_LABELS
from infra.mocks import REDACTED, mock_secret
from infra.validate import validate
from stacks.config.platform import AppConfig
from tests import renderkit as rk
from tests.renderkit import run_stack, run_values, stack_values

APP = ("rag", {**APP_POD_LABELS, "app.kubernetes.io/part-of": "leanrag"})


def run_config(run) -> dict:
    return yaml.safe_load(rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"])


def pod(run) -> dict:
    return rk.find(run, "Deployment", "rag-app", "rag")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def scaled():
    """dev with auth on, two replicas and its own resources."""
    values = stack_values("dev")
    values["platform"]["app"] = {
        "auth": True,
        "replicas": 2,
        "resources": {"cpu": "1", "memory": "2Gi", "memoryLimit": "3Gi"},
    }
    return run_values(values, stack="scaled")


def test_image_and_command_run_the_mounted_config():
    container = pod(run_stack("dev"))["containers"][0]
    assert container["image"] == versions.OGX_IMAGE and container["image"].endswith(":1.5.0")
    assert container["command"] == ["ogx", "run", "/etc/ogx/run.yaml"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert mount == {"name": "config", "mountPath": "/etc/ogx/run.yaml", "subPath": "run.yaml", "readOnly": True}


def test_inference_and_embeddings_go_through_the_gateway_to_the_served_models():
    cfg = run_config(run_stack("dev"))
    providers = {p["provider_id"]: p for p in cfg["providers"]["inference"]}
    for provider in providers.values():
        assert provider["config"]["base_url"] == "http://gateway.rag.svc.cluster.local:4000/v1"
        assert provider["config"]["api_token"] == "${env.GATEWAY_API_KEY}"
    models = {m["model_id"]: m["model_type"] for m in cfg["registered_resources"]["models"]}
    assert models == {
        "llama-3-1-8b": "llm",
        "smollm2-cpu": "llm",
        "all-minilm-l6-v2": "embedding",  # the served embedding model (serving.embedding)
    }


def test_vectors_in_milvus_and_state_in_sqlite_on_the_data_volume():
    cfg = run_config(run_stack("dev"))
    milvus = cfg["providers"]["vector_io"][0]
    assert milvus["provider_type"] == "remote::milvus"
    assert milvus["config"]["uri"] == "http://milvus.milvus.svc.cluster.local:19530"
    assert milvus["config"]["token"] == "${env.MILVUS_TOKEN}"
    # no Redis (OGX's kv_redis would need the password in its host string, which OGX logs): issue #12
    assert cfg["storage"]["backends"] == {
        "kv_default": {"type": "kv_sqlite", "db_path": "/data/sql/kvstore.db"},
        "sql_default": {"type": "sql_sqlite", "db_path": "/data/sql/sql_store.db"},
    }
    assert cfg["storage"]["stores"]["metadata"]["backend"] == "kv_default"
    assert cfg["server"]["host"] == "0.0.0.0" and cfg["server"]["port"] == 8321
    mounts = {m["name"]: m["mountPath"] for m in pod(run_stack("dev"))["containers"][0]["volumeMounts"]}
    assert mounts["data"] == "/data"


@pytest.mark.parametrize(
    ("hybrid", "mode"), [(None, "vector"), ("off", "vector"), ("bm25", "vector"), ("ogx", "hybrid")]
)
def test_the_app_answers_with_the_search_platform_app_retrieval_names(hybrid, mode):
    """`hybrid: ogx` is OGX's own hybrid search, which the app's file_search then uses; `bm25` (the default) runs in
    the ingest image's query path only, so the app answers with dense search (components/app/deployment.py,
    `answer_search_mode`)."""
    values = stack_values("dev")
    if hybrid is not None:
        values.setdefault("platform", {}).setdefault("app", {})["retrieval"] = {"hybrid": hybrid}
    params = run_config(run_values(values, stack="search"))["vector_stores"]["chunk_retrieval_params"]
    assert params == {"default_search_mode": mode}


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_every_env_reference_is_filled_from_a_secret(stack):
    run = run_stack(stack)
    text = rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    named = set(re.findall(r"\$\{env\.([A-Z0-9_]+)\}", text))
    env = rk.env_of(pod(run)["containers"][0])
    assert named == {"GATEWAY_API_KEY", "MILVUS_TOKEN", "SHIELD_API_KEY"}
    assert env["GATEWAY_API_KEY"]["secretKeyRef"] == {"name": "gateway-master-key", "key": "master-key"}
    assert env["MILVUS_TOKEN"]["secretKeyRef"] == {"name": "milvus-credentials", "key": "token"}
    assert env["SHIELD_API_KEY"]["secretKeyRef"] == {"name": "moderation-api-key", "key": "api-key"}
    assert set(env) - {"HOME", *METRICS_ENV} == named
    assert {k: env[k] for k in METRICS_ENV} == METRICS_ENV  # plain settings of OGX's metrics port, no secret


def test_auth_off_in_dev_on_in_prod_like_config_with_a_generated_key(scaled):
    assert "auth" not in run_config(run_stack("dev"))["server"]
    assert run_stack("dev").outputs["ragAppApiKey"] is None
    cfg = run_config(scaled)
    assert cfg["server"]["auth"]["provider_config"] == {"type": "local_api_key", "api_keys": ["${env.OGX_API_KEY}"]}
    env = rk.env_of(pod(scaled)["containers"][0])
    assert env["OGX_API_KEY"]["secretKeyRef"] == {"name": "rag-app-api-key", "key": "api-key"}
    held = rk.secret_data(scaled, "rag-app-api-key", "rag")
    assert held == {"api-key": mock_secret("leanrag-scaled-rag-app-api-key")}
    assert scaled.outputs["ragAppApiKey"] == REDACTED and "ragAppApiKey" in scaled.secret_outputs


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_guardrails_call_the_moderation_service_with_its_key(stack):
    responses = run_config(run_stack(stack))["providers"]["responses"][0]["config"]
    assert responses["moderation_endpoint"] == "http://moderation.rag.svc.cluster.local:8080/v1/moderations"
    assert responses["moderation_headers"] == {"Authorization": "Bearer ${env.SHIELD_API_KEY}"}


def test_no_moderation_endpoint_when_moderation_is_off():
    values = stack_values("dev")
    values["platform"]["moderation"] = {"enabled": False}
    run = run_values(values, stack="unguarded")
    assert "moderation_endpoint" not in run_config(run)["providers"]["responses"][0]["config"]
    assert "SHIELD_API_KEY" not in rk.env_of(pod(run)["containers"][0])
    assert not [m for m in rk.manifests(run) if m["metadata"]["name"] == "moderation"]


def test_one_replica_keeps_its_data_on_a_volume_and_is_replaced_not_rolled():
    run = run_stack("local")
    spec = pod(run)
    data = next(v for v in spec["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "rag-app-data"}}
    claim = rk.find(run, "PersistentVolumeClaim", "rag-app-data", "rag")["spec"]
    assert claim["storageClassName"] == "standard"
    assert rk.find(run, "Deployment", "rag-app", "rag")["spec"]["strategy"] == {"type": "Recreate"}
    assert not rk.of_kind(run, "PodDisruptionBudget", "rag")


def test_several_replicas_get_a_pdb_a_rolling_update_and_their_resources(scaled):
    deploy = rk.find(scaled, "Deployment", "rag-app", "rag")["spec"]
    assert deploy["replicas"] == 2 and deploy["strategy"]["type"] == "RollingUpdate"
    pdb = rk.find(scaled, "PodDisruptionBudget", "rag-app", "rag")["spec"]
    assert pdb == {"minAvailable": 1, "selector": {"matchLabels": APP_POD_LABELS}}
    data = next(v for v in deploy["template"]["spec"]["volumes"] if v["name"] == "data")
    assert "emptyDir" in data  # a ReadWriteOnce volume cannot follow several replicas (see data_volume)
    claims = rk.of_kind(scaled, "PersistentVolumeClaim", "rag")
    assert not [c for c in claims if c["metadata"]["name"] == "rag-app-data"]
    assert deploy["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2000m", "memory": "3Gi"},
    }


def test_probes_use_the_public_health_route_and_pods_are_restricted():
    spec = pod(run_stack("dev"))
    container = spec["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/v1/health", "port": "http", "scheme": "HTTP"}, probe
    assert rk.restricted_violations(spec) == []
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["nodeSelector"] == {"leanrag.dev/pool": "system"}


def test_config_changes_roll_the_pods():
    deploy = rk.find(run_stack("dev"), "Deployment", "rag-app", "rag")
    text = rk.find(run_stack("dev"), "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"]
    assert (
        deploy["spec"]["template"]["metadata"]["annotations"]["leanrag.dev/config-sha256"]
        == hashlib.sha256(text.encode()).hexdigest()
    )


def test_service_and_output_url():
    run = run_stack("dev")
    service = rk.find(run, "Service", "rag-app", "rag")["spec"]
    assert service["type"] == "ClusterIP" and service["selector"] == APP_POD_LABELS
    assert service["ports"] == [{"name": "http", "port": 8321, "targetPort": "http", "protocol": "TCP"}]
    assert run.outputs["ragAppUrl"] == "http://rag-app.rag.svc.cluster.local:8321/v1"
    assert "ragAppUrl" not in run.secret_outputs


def test_network_policy_admits_the_benchmark_and_ingest_jobs_only():
    policies = rk.of_kind(run_stack("dev"), "NetworkPolicy")
    assert rk.admits(policies, ("jobs", BENCHMARK_JOB_LABELS), APP, 8321)
    assert rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), APP, 8321)  # it writes through the app's API
    assert not rk.admits(policies, ("jobs", {"app.kubernetes.io/name": "quantize"}), APP, 8321)
    assert not rk.admits(policies, ("rag", GATEWAY_POD_LABELS), APP, 8321)
    assert not rk.admits(policies, ("serving", {}), APP, 8321)


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_app_objects_validate_strictly(stack):
    run = run_stack(stack)
    ours = [m for m in rk.manifests(run) if m["metadata"]["name"].startswith("rag-app")]
    assert {m["kind"] for m in ours} >= {"Deployment", "ConfigMap", "Service", "NetworkPolicy"}
    assert {f"{m['kind']}/{m['metadata']['name']}": validate(m) for m in ours if validate(m)} == {}


def test_a_config_secret_without_a_source_is_refused():
    args = rag.RagAppArgs(
        config=AppConfig(),
        namespace="rag",
        placement=cpu_placement("system"),
        gateway_url="http://gateway.rag.svc.cluster.local:4000/v1",
        gateway_key=SecretRef("g", "k"),
        chat_models=["chat"],
        embedding_model="minilm",
        milvus=MilvusOutputs(uri="http://milvus:19530", token="t", token_ref=SecretRef("m", "t"), namespace="milvus"),
    )
    rendered = RenderedConfig(data={}, secret_env=("GATEWAY_API_KEY", "SOMETHING_ELSE"))
    with pytest.raises(ValueError, match=r"needs env vars \['SOMETHING_ELSE'\]"):
        rag.pod_spec(args, rendered)


def test_prod_requires_auth_registers_only_generation_models_and_survives_disruptions():
    run = run_stack("prod")
    cfg = run_config(run)
    # prod declares platform.clients: OGX asks the auth sidecar (docs/access.md); without clients, one key.
    assert cfg["server"]["auth"]["provider_config"] == {"type": "custom", "endpoint": "http://127.0.0.1:8322/auth"}
    without_clients = stack_values("prod")
    del without_clients["platform"]["clients"]
    single = run_config(run_values(without_clients, stack="prod"))
    assert single["server"]["auth"]["provider_config"]["api_keys"] == ["${env.OGX_API_KEY}"]
    llms = [m["model_id"] for m in cfg["registered_resources"]["models"] if m["model_type"] == "llm"]
    assert llms == ["llama-3-1-8b"]  # the safety model is not a generation model
    assert rk.find(run, "PodDisruptionBudget", "rag-app", "rag")["spec"]["minAvailable"] == 1
    assert rk.find(run, "Deployment", "rag-app", "rag")["spec"]["replicas"] == 2
    assert run.outputs["ragAppApiKey"] == REDACTED and "ragAppApiKey" in run.secret_outputs
    assert rk.restricted_violations(pod(run)) == []
