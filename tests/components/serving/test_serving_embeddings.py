"""The embedding model in every stack (text-embeddings-inference on the system pool by default, vLLM's pooling
runner on a GPU pool when configured) and the optional reranker, with the typed outputs the app layer reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components import versions
from components.cluster.base import POOL_LABEL
from components.kube import INGEST_JOB_POD_LABELS, NAMESPACE_NAME
from components.serving.engine import flag_value
from infra.validate import validate
from tests.renderkit import (
    admits,
    container,
    dev,
    local,
    obj,
    objects_of,
    pod_spec,
    prod,
    restricted_violations,
    run_variant,
    serving_objects,
    stack_values,
)

STACKS = {"dev": dev, "prod": prod, "local": local}
HF = {"hfToken": "hf_test"}
EMBED = "all-minilm-l6-v2"
EMBED_URL = f"http://{EMBED}.serving.svc.cluster.local:8080/v1"


def with_serving(stack: str, **serving: Any) -> dict[str, Any]:
    vals = copy.deepcopy(stack_values(stack))
    vals["serving"] = {**vals.get("serving", {}), **serving}
    return vals


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_stack_serves_the_embedding_model_on_cpu_with_its_outputs(stack):
    run = STACKS[stack]()
    d = obj(run, "Deployment", EMBED)
    pod, c = pod_spec(d), container(d)
    assert c["image"] == versions.TEXT_EMBEDDINGS_CPU_IMAGE and ":latest" not in c["image"]
    assert pod["nodeSelector"] == {POOL_LABEL: "system"} and "tolerations" not in pod
    assert "nvidia.com/gpu" not in str(c["resources"])
    assert c["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2000m", "memory": "1Gi"}}
    args = c["args"]
    assert flag_value(args, "--served-model-name") == EMBED and flag_value(args, "--port") == "8080"
    assert flag_value(args, "--hostname") == "0.0.0.0"  # Kubernetes sets HOSTNAME to the pod's name
    assert flag_value(args, "--max-batch-tokens") == "16384" and flag_value(args, "--max-client-batch-size") == "64"
    assert "--api-key" not in args  # the key comes from the Secret, never the command line
    assert {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "serving-api-key", "key": "api-key"}}} in c["env"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and restricted_violations(pod) == []
    service = obj(run, "Service", EMBED)["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == 8080
    assert run.outputs["embedding"] == {
        "model": EMBED,
        "hubId": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": 384,
        "baseUrl": EMBED_URL,
        "runtime": "tei",
    }
    assert run.outputs["openaiBaseUrls"][EMBED] == EMBED_URL and EMBED in run.outputs["servedModels"]
    assert run.outputs["reranker"] is None  # off by default
    assert {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in serving_objects(run) if validate(o)} == {}


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_the_app_namespace_may_call_the_embedding_server_and_the_ingest_job_may_not(stack):
    """The app embeds through the gateway (both in the app namespace); the ingest Job writes through the app's
    API (docs/rag-path.md), so the embedding server does not admit it."""
    run = STACKS[stack]()
    policies = objects_of(run, "NetworkPolicy")
    server = ("serving", obj(run, "Deployment", EMBED)["spec"]["template"]["metadata"]["labels"])
    assert admits(policies, ("rag", {"app.kubernetes.io/name": "rag-app"}), server, 8080)
    assert admits(policies, ("rag", {"app.kubernetes.io/name": "gateway"}), server, 8080)
    assert not admits(policies, ("jobs", INGEST_JOB_POD_LABELS), server, 8080)
    assert not admits(policies, ("jobs", {"app.kubernetes.io/name": "quantize"}), server, 8080)
    assert not admits(policies, ("default", {}), server, 8080)
    rule = obj(run, "NetworkPolicy", EMBED)["spec"]["ingress"][0]
    assert {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "jobs"}},
        "podSelector": {"matchLabels": INGEST_JOB_POD_LABELS},
    } not in rule["from"]


def test_the_embedding_model_runs_on_a_gpu_pool_with_the_pooling_runner_when_configured():
    run = run_variant(with_serving("prod", embedding={"pool": "gpu-l4"}), HF)
    args = container(obj(run, "Deployment", EMBED))["args"]
    assert container(obj(run, "Deployment", EMBED))["image"] == versions.VLLM_IMAGE
    assert flag_value(args, "--runner") == "pooling" and flag_value(args, "--max-model-len") == "512"
    assert flag_value(args, "--load-format") == "runai_streamer" and args[0].startswith("gs://")
    assert obj(run, "InferencePool", EMBED)  # llm-d: routed like any vLLM model
    assert run.outputs["embedding"] == {
        "model": EMBED,
        "hubId": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": 384,
        "baseUrl": "http://10.50.15.250/v1",
        "runtime": "vllm",
    }


def test_a_cpu_reranker_renders_when_configured_with_its_url_in_the_outputs():
    run = run_variant(with_serving("dev", reranker={"enabled": True}))
    d = obj(run, "Deployment", "ms-marco-minilm-l6")
    c = container(d)
    assert c["image"] == versions.TEXT_EMBEDDINGS_CPU_IMAGE
    assert d["spec"]["template"]["metadata"]["labels"]["leanrag.dev/model-role"] == "reranker"
    assert flag_value(c["args"], "--model-id") == "/weights"
    assert pod_spec(d)["initContainers"][0]["command"][4].endswith("/models/ms-marco-minilm-l6/bf16")
    assert run.outputs["reranker"] == {
        "model": "ms-marco-minilm-l6",
        "hubId": "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "rerankUrl": "http://ms-marco-minilm-l6.serving.svc.cluster.local:8080/rerank",
        "api": "tei",
        "runtime": "tei",
    }
    # not an OpenAI model: the gateway and the app must not route chat to it
    assert "ms-marco-minilm-l6" not in run.outputs["servedModels"]
    policies = objects_of(run, "NetworkPolicy")
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert admits(policies, ("rag", {}), ("serving", labels), 8080)
    # the ingest Job's query path (search/evaluate/context) reranks with it when platform.app.retrieval.rerank is on
    assert admits(policies, ("jobs", INGEST_JOB_POD_LABELS), ("serving", labels), 8080)
    assert not admits(policies, ("jobs", {"app.kubernetes.io/name": "quantize"}), ("serving", labels), 8080)


@pytest.mark.parametrize(
    "mode,url",
    [
        ("vllm", "http://ms-marco-minilm-l6.serving.svc.cluster.local:8000/v1/rerank"),
        ("llm-d", "http://10.50.15.250/v1/rerank"),
    ],
)
def test_a_gpu_reranker_is_served_by_vllm_with_the_pooling_runner(mode, url):
    run = run_variant(with_serving("prod", mode=mode, reranker={"enabled": True, "pool": "gpu-l4"}), HF)
    args = container(obj(run, "Deployment", "ms-marco-minilm-l6"))["args"]
    assert flag_value(args, "--runner") == "pooling"
    assert run.outputs["reranker"] == {
        "model": "ms-marco-minilm-l6",
        "hubId": "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "rerankUrl": url,
        "api": "cohere",
        "runtime": "vllm",
    }
    assert "ms-marco-minilm-l6" not in run.outputs["openaiBaseUrls"]


def test_a_models_entry_with_role_reranker_is_the_reranker_when_the_section_is_off():
    vals = with_serving("dev")
    vals["serving"]["models"].append(
        {"name": "bge-reranker", "id": "cross-encoder/ms-marco-MiniLM-L-6-v2", "role": "reranker", "pool": "system"}
    )
    run = run_variant(vals)
    assert run.outputs["reranker"]["model"] == "bge-reranker" and run.outputs["reranker"]["api"] == "tei"


def test_without_the_embedding_section_the_models_entry_is_the_embedding_output():
    vals = with_serving("dev", embedding={"enabled": False})
    vals["serving"]["models"].append(
        {"name": "minilm", "id": "sentence-transformers/all-MiniLM-L6-v2", "role": "embedding", "pool": "system"}
    )
    run = run_variant(vals)
    assert not [d for d in objects_of(run, "Deployment") if d["metadata"]["name"] == EMBED]
    assert run.outputs["embedding"] == {
        "model": "minilm",
        "hubId": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": None,  # a serving.models[] entry declares none
        "baseUrl": "http://minilm.serving.svc.cluster.local:8080/v1",
        "runtime": "tei",
    }


def test_replicas_of_a_cpu_server_get_a_disruption_budget():
    run = run_variant(with_serving("dev", embedding={"replicas": 2, "memory": "2Gi", "cpu": "500m"}))
    assert obj(run, "Deployment", EMBED)["spec"]["replicas"] == 2
    assert obj(run, "PodDisruptionBudget", EMBED)["spec"]["maxUnavailable"] == 1
    assert container(obj(run, "Deployment", EMBED))["resources"]["requests"] == {"cpu": "500m", "memory": "2Gi"}
