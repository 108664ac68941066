"""The moderation service under the SDK's mocks: the request path's Llama Guard in every stack of the repo. Its
Deployment and Secret, the safety model it calls, and who may talk to whom under the NetworkPolicies (as data,
like the serving tests)."""

from __future__ import annotations

import pytest

from components.app import moderation
from components.kube import (
    APP_POD_LABELS,
    BENCHMARK_JOB_POD_LABELS,
    GATEWAY_POD_LABELS,
    INGEST_JOB_POD_LABELS,
    MODERATION_POD_LABELS,
    labels,
)
from infra.mocks import mock_secret
from infra.validate import validate
from tests import renderkit as rk
from tests.renderkit import run_stack

MODERATION = ("rag", labels("moderation", "moderation"))
SAFETY = {"dev": "llama-guard-3-1b-cpu", "prod": "llama-guard-3-1b", "local": "llama-guard-3-1b-cpu"}
"""The stack's role: safety model: Llama Guard 3 1B, on CPU (llama.cpp) in dev and local, on vLLM in prod."""


def deployment(run) -> dict:
    return rk.find(run, "Deployment", "moderation", "rag")


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_stack_runs_the_moderation_service_in_front_of_its_safety_model(stack):
    run = run_stack(stack)
    container = rk.container(deployment(run))
    assert container["image"] == "ghcr.io/leanrag/moderation:0.1.0"  # workloadImages defaults
    env = rk.env_of(container)
    assert env["SAFETY_MODEL"] == SAFETY[stack]
    assert env["SAFETY_BASE_URL"] == run.outputs["openaiBaseUrls"][SAFETY[stack]].rstrip("/")
    assert env["SAFETY_BASE_URL"].endswith("/v1") and "@" not in env["SAFETY_BASE_URL"]
    # the keys are files of the key Secret the service reads, never environment variables
    assert not any("valueFrom" in e for e in container["env"])
    spec = deployment(run)["spec"]["template"]["spec"]
    for var, key in (("MODERATION_API_KEY_FILE", "api-key"), ("SAFETY_API_KEY_FILE", "safety-api-key")):
        [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == env[var]]
        [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        items = [(s["secret"]["name"], i) for s in volume["projected"]["sources"] for i in s["secret"]["items"]]
        assert ("moderation-api-key", {"key": key, "path": mount["subPath"]}) in items, var
    assert (env["MODERATION_HOST"], env["MODERATION_PORT"]) == ("0.0.0.0", "8080")
    held = rk.secret_data(run, "moderation-api-key", "rag")
    assert held["api-key"] == mock_secret(f"leanrag-{stack}-moderation-api-key")
    assert held["safety-api-key"] == rk.secret_data(run, "serving-api-key", "serving")["api-key"]
    assert run.outputs["moderationUrl"] == "http://moderation.rag.svc.cluster.local:8080/v1"


GUARD_GGUF = {
    # dev: an init container syncs the prefetched copy from the bucket; local: the model store's claim
    "dev": "/weights/Llama-Guard-3-1B-Q8_0.gguf",
    "local": "/models/model-store/models/llama-guard-3-1b-cpu/gguf/Llama-Guard-3-1B-Q8_0.gguf",
}


def test_dev_and_local_serve_llama_guard_on_cpu_with_its_own_chat_template():
    for stack in ("dev", "local"):
        run = run_stack(stack)
        server = rk.find(run, "Deployment", "llama-guard-3-1b-cpu", "serving")
        pod = rk.pod_spec(server)
        args = rk.container(server)["args"]
        # the GGUF comes from the model store after its prefetch Job, never from the hub at start-up
        assert "--hf-repo" not in args and "--hf-file" not in args
        assert args[args.index("--model") + 1] == GUARD_GGUF[stack]
        job = rk.find(run, "Job", "prefetch-llama-guard-3-1b-cpu", "serving")
        job_args = rk.container(job)["args"]
        assert job_args[job_args.index("--model") + 1] == "bartowski/Llama-Guard-3-1B-GGUF"
        assert job_args[job_args.index("--include") + 1] == "Llama-Guard-3-1B-Q8_0.gguf"
        assert job_args[job_args.index("--output") + 1].endswith("models/llama-guard-3-1b-cpu/gguf")
        # (tests/components/serving/test_serving_weights.py: the server waits for its Job, in every stack)
        assert args[args.index("--alias") + 1] == "llama-guard-3-1b-cpu" and "--jinja" in args
        assert pod["nodeSelector"] == {"leanrag.dev/pool": "system"} and "tolerations" not in pod
        assert rk.restricted_violations(pod) == []
    chat = rk.container(rk.find(run_stack("dev"), "Deployment", "smollm2-cpu", "serving"))["args"]
    assert "--jinja" not in chat  # the CPU tier's args are unchanged


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_under_the_network_policies_app_and_gateway_reach_the_service_and_it_reaches_the_safety_model(stack):
    run = run_stack(stack)
    policies = rk.of_kind(run, "NetworkPolicy")
    assert rk.admits(policies, ("rag", APP_POD_LABELS), MODERATION, 8080)
    assert rk.admits(policies, ("rag", GATEWAY_POD_LABELS), MODERATION, 8080)
    for stranger in (
        ("jobs", BENCHMARK_JOB_POD_LABELS),
        ("jobs", INGEST_JOB_POD_LABELS),
        ("serving", APP_POD_LABELS),
        ("rag", {"app.kubernetes.io/name": "debug"}),
    ):
        assert not rk.admits(policies, stranger, MODERATION, 8080), stranger
    assert not rk.admits(policies, ("rag", APP_POD_LABELS), MODERATION, 8081)
    # the service may dial out, and the safety model's servers admit it on their port
    assert rk.egress_open(policies, ("rag", MODERATION_POD_LABELS))
    server = rk.find(run, "Deployment", SAFETY[stack], "serving")
    port = rk.container(server)["ports"][0]["containerPort"]
    safety_pods = ("serving", server["spec"]["template"]["metadata"]["labels"])
    assert rk.admits(policies, MODERATION, safety_pods, port)
    assert not rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), safety_pods, port)


def test_prod_reaches_its_gpu_llama_guard_through_the_inference_gateway():
    run = run_stack("prod")
    env = rk.env_of(rk.container(deployment(run)))
    assert env["SAFETY_BASE_URL"] == run.outputs["openaiBaseUrls"]["llama-guard-3-1b"]  # the Gateway's address
    route = rk.find(run, "HTTPRoute", "llama-guard-3-1b", "serving")
    assert route  # the gateway routes the model by name to its InferencePool


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_pods_are_restricted_probed_and_objects_validate_strictly(stack):
    run = run_stack(stack)
    spec = rk.pod_spec(deployment(run))
    container = spec["containers"][0]
    assert rk.restricted_violations(spec) == []
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsUser"] == moderation.UID and spec["automountServiceAccountToken"] is False
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    assert container["resources"]["limits"]["memory"] == "256Mi"
    service = rk.find(run, "Service", "moderation", "rag")["spec"]
    assert service["selector"] == MODERATION_POD_LABELS and service["ports"][0]["port"] == 8080
    ours = [m for m in rk.manifests(run) if m["metadata"]["name"].startswith("moderation")]
    assert {m["kind"] for m in ours} == {"Deployment", "Service", "Secret", "NetworkPolicy"}
    assert {f"{m['kind']}/{m['metadata']['name']}": validate(m) for m in ours if validate(m)} == {}


def test_the_app_and_the_gateway_wait_for_the_key_they_read():
    run = run_stack("dev")
    key = run.one("kubernetes:core/v1:Secret", "leanrag-dev-moderation-api-key")
    for name in ("leanrag-dev-rag-app", "leanrag-dev-gateway"):
        assert key.urn in run.one("kubernetes:apps/v1:Deployment", name).dependencies, name
