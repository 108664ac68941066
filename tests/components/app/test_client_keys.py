"""Per-client keys under the SDK's mocks (prod declares docs-portal and analytics): generated keys in a Secret and
a secret output, only their digests in the pods' ConfigMap, the revocations ConfigMap that deploys never rewrite,
LiteLLM's custom_auth and the app's auth sidecar wired to them."""

from __future__ import annotations

import json

import yaml

from components.app import client_keys, leanrag_keys
from components.app.deployment import METRICS_PORT
from components.app.gateway_config import CLIENT_KEYS_AUTH
from components.kube import APP_POD_LABELS
from infra.mocks import REDACTED, mock_secret
from infra.validate import validate
from tests import renderkit as rk
from tests.renderkit import prod, run_stack

KEYS = {name: "sk-" + mock_secret(f"leanrag-prod-client-key-{name}") for name in ("docs-portal", "analytics")}


def test_each_client_gets_its_own_generated_key_as_a_secret_and_a_secret_output():
    run = prod()
    assert rk.secret_data(run, "client-keys", "rag") == KEYS
    assert run.outputs["clientKeys"] == REDACTED and "clientKeys" in run.secret_outputs
    password = rk.resource_named(run, "leanrag-prod-client-key-docs-portal", "RandomPassword")
    assert password.inputs["keepers"] == {"keyVersion": "1"}  # a new keyVersion is a new key
    assert password.inputs["length"] == 40 and password.inputs["special"] is False


def test_pods_get_digests_and_models_never_the_keys():
    run = prod()
    data = rk.find(run, "ConfigMap", "client-keys", "rag")["data"]
    clients = json.loads(data["clients.json"])
    assert clients == {
        "analytics": {"sha256": leanrag_keys.digest(KEYS["analytics"]), "models": None},
        "docs-portal": {"sha256": leanrag_keys.digest(KEYS["docs-portal"]), "models": ["llama-3-1-8b"]},
    }
    texts = [json.dumps(m) for m in rk.manifests(run) if m["kind"] in ("ConfigMap", "Deployment")]
    assert not [k for k in KEYS.values() for t in texts if k in t]


def test_revocations_are_created_empty_and_left_to_kubectl():
    run = prod()
    revocations = rk.find(run, "ConfigMap", "client-key-revocations", "rag")
    assert revocations.get("data") in (None, {})
    registered = rk.resource_named(run, "leanrag-prod-client-key-revocations", "ConfigMap")
    assert registered.ignore_changes == ["data"]


def test_the_gateway_checks_client_keys_with_leanrag_keys():
    run = prod()
    files = rk.find(run, "ConfigMap", "gateway-config", "rag")["data"]
    config = yaml.safe_load(files["config.yaml"])
    assert config["general_settings"]["custom_auth"] == CLIENT_KEYS_AUTH == "leanrag_keys.litellm_auth"
    assert config["general_settings"]["custom_auth_run_common_checks"] is True
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert files["leanrag_keys.py"] == client_keys.CODE  # beside config.yaml, where LiteLLM loads it from
    pod = rk.pod_spec(rk.find(run, "Deployment", "gateway", "rag"))
    env = rk.env_of(pod["containers"][0])
    assert env["LEANRAG_OPERATOR_KEY_ENV"] == "LITELLM_MASTER_KEY"
    assert env["LEANRAG_CLIENTS_DIR"] == "/etc/leanrag/clients" and env["LEANRAG_REVOKED_DIR"] == "/etc/leanrag/revoked"
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert "subPath" not in mounts["/etc/leanrag/revoked"]  # a directory mount follows ConfigMap changes
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["client-key-revocations"]["configMap"] == {"name": "client-key-revocations", "optional": True}


def test_the_app_asks_its_auth_sidecar_which_accepts_its_own_key_and_the_clients():
    run = prod()
    run_yaml = yaml.safe_load(rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"])
    assert run_yaml["server"]["auth"]["provider_config"] == {"type": "custom", "endpoint": "http://127.0.0.1:8322/auth"}
    deployment = rk.find(run, "Deployment", "rag-app", "rag")
    pod = rk.pod_spec(deployment)
    sidecar = next(c for c in pod["containers"] if c["name"] == "key-check")
    assert sidecar["command"][:2] == ["python", "/opt/leanrag/leanrag_keys.py"]
    assert sidecar["command"][2:] == ["serve", "--host", "127.0.0.1", "--port", "8322"]
    env = {e["name"]: e for e in sidecar["env"]}
    # the app's key as a file of its Secret (mode 440), never an environment variable
    assert env["LEANRAG_OPERATOR_KEY_FILE"]["value"] == "/var/run/secrets/leanrag/app-api-key"
    assert not [e for e in sidecar["env"] if "valueFrom" in e]
    mount = next(m for m in sidecar["volumeMounts"] if m["mountPath"] == "/var/run/secrets/leanrag")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"] == {
        "secretName": "rag-app-api-key",
        "defaultMode": 0o440,
        "items": [{"key": "api-key", "path": "app-api-key"}],
    }
    assert "ports" not in sidecar  # loopback only: nothing outside the pod reaches it
    assert rk.restricted_violations(pod) == []
    code = rk.find(run, "ConfigMap", "leanrag-keys", "rag")["data"]["leanrag_keys.py"]
    assert code == client_keys.CODE
    assert validate(deployment) == []
    policy = rk.find(run, "NetworkPolicy", "rag-app", "rag")
    # the API port, and Prometheus on the metrics port; never the sidecar's 8322
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} == {8321, METRICS_PORT}
    assert deployment["spec"]["selector"]["matchLabels"] == APP_POD_LABELS


def test_without_clients_nothing_changes():
    run = run_stack("dev")
    # secret even when empty ({}): `pulumi stack output --json` shows "[secret]" whether or not clients exist
    assert run.outputs["clientKeys"] == REDACTED and "clientKeys" in run.secret_outputs
    config = yaml.safe_load(rk.find(run, "ConfigMap", "gateway-config", "rag")["data"]["config.yaml"])
    assert "custom_auth" not in config["general_settings"]
    assert not [m for m in rk.manifests(run) if m["metadata"]["name"].startswith(("client-key", "leanrag-keys"))]
    pod = rk.pod_spec(rk.find(run, "Deployment", "rag-app", "rag"))
    assert [c["name"] for c in pod["containers"]] == ["ogx"]
