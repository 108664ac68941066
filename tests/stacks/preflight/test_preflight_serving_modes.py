"""Preflight of the serving modes: each rule has a stack that passes and one that fails with the key and a fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.load import parse
from stacks.preflight import PreflightError
from tests.renderkit import stack_values


def problems(vals: dict[str, Any]) -> list[str]:
    try:
        parse(vals, frozenset({"hfToken"}))
    except PreflightError as e:
        return [str(p) for p in e.problems]
    return []


def only(found: list[str], path: str) -> str:
    hits = [p for p in found if p.startswith(f"leanrag:{path}:")]
    assert len(hits) == 1, found
    return hits[0]


def stack(name: str) -> dict[str, Any]:
    return copy.deepcopy(stack_values(name))


def pd(**disaggregation: Any) -> dict[str, Any]:
    vals = stack("eks-pd")
    vals["serving"]["models"][0]["disaggregation"].update(disaggregation)
    return vals


@pytest.mark.parametrize("name", ["eks-llmd", "kind-llmd", "kserve", "eks-pd", "dev", "prod", "local"])
def test_the_shipped_stacks_pass(name):
    assert problems(stack(name)) == []


# --- router ----------------------------------------------------------------------------------------------


def test_kserve_needs_a_gateway_router():
    vals = stack("kserve")
    vals["serving"]["router"] = {"kind": "standalone"}
    assert "reached through a Gateway" in only(problems(vals), "serving.router.kind")


def test_gkes_gateway_only_on_gcp():
    vals = stack("eks-llmd")
    vals["serving"]["router"]["implementation"] = "gke"
    msg = only(problems(vals), "serving.router.implementation")
    assert "this stack runs on aws" in msg and "agentgateway" in msg


def test_an_external_implementation_needs_its_gateway_class():
    vals = stack("eks-llmd")
    vals["serving"]["router"]["implementation"] = "external"
    assert "GatewayClass" in only(problems(vals), "serving.inferenceGateway.className")
    vals["serving"]["inferenceGateway"] = {"className": "istio"}
    assert problems(vals) == []


# --- kserve ----------------------------------------------------------------------------------------------


def test_kserve_needs_models():
    vals = stack("kserve")
    vals["serving"]["models"] = []
    assert "serving.models is empty" in only(problems(vals), "serving.mode")


def test_kserve_does_not_take_the_stacks_autoscaler():
    vals = stack("kserve")
    vals["serving"]["autoscaling"] = {"enabled": True}
    assert "KServe controller" in only(problems(vals), "serving.autoscaling.enabled")


def test_kserve_serves_generative_models_only():
    vals = stack("kserve")
    vals["serving"]["models"][0]["role"] = "embedding"
    assert "generative" in only(problems(vals), "serving.models[0].role")


# --- disaggregation --------------------------------------------------------------------------------------


def test_disaggregation_needs_llm_d_mode():
    vals = pd()
    vals["serving"]["mode"] = "vllm"
    msg = only(problems(vals), "serving.models[0].disaggregation.enabled")
    assert "mode is vllm" in msg and "serving.mode: llm-d" in msg


def test_disaggregation_needs_fixed_replicas_and_no_cpu_offload():
    vals = pd()
    vals["serving"]["autoscaling"] = {"enabled": True}
    vals["serving"]["models"][0]["kvOffload"] = {"cpuGib": 8}
    found = problems(vals)
    assert "fixed replica counts" in only(found, "serving.models[0].disaggregation.enabled")
    assert "MultiConnector" in only(found, "serving.models[0].kvOffload.cpuGib")


def test_a_role_must_run_on_a_gpu_pool():
    msg = only(problems(pd(decode={"replicas": 1, "pool": "system"})), "serving.models[0].disaggregation.decode.pool")
    assert "'system' is not a GPU pool" in msg and "gpu-l40s" in msg


def test_a_roles_tensor_parallelism_must_fit_the_node():
    vals = pd(prefill={"replicas": 1, "tensorParallel": 8})
    msg = only(problems(vals), "serving.models[0].disaggregation.prefill.tensorParallel")
    assert "8 GPU(s) each" in msg and "4 L40S per node" in msg


def test_the_roles_together_must_fit_the_pool():
    msg = only(problems(pd(decode={"replicas": 2, "tensorParallel": 2})), "serving.models[0].disaggregation")
    assert "need 6 GPUs" in msg and "has 4" in msg


def test_each_role_must_fit_in_gpu_memory():
    vals = pd(prefill={"replicas": 1, "tensorParallel": 1})
    vals["serving"]["models"][0].update(id="meta-llama/Llama-3.1-70B-Instruct", maxContext=8192)
    vals["serving"]["models"][0]["artifactUri"] = "s3://leanrag-models-eks-pd/meta-llama/Llama-3.1-70B-Instruct"
    found = problems(vals)
    msg = only(found, "serving.models[0].disaggregation.prefill.tensorParallel")
    assert "prefill: meta-llama/Llama-3.1-70B-Instruct in bf16" in msg and "over 1 GPU(s)" in msg


def test_efa_needs_aws_and_efa_capable_instances():
    vals = pd()
    vals["cluster"]["gpuPools"][0]["instanceType"] = "g6e.xlarge"
    vals["serving"]["models"][0]["disaggregation"]["prefill"]["tensorParallel"] = 1
    vals["serving"]["models"][0]["disaggregation"]["decode"]["tensorParallel"] = 1
    vals["serving"]["models"][0]["tensorParallel"] = 1
    vals["serving"]["models"][0]["maxContext"] = 8192
    vals["cluster"]["gpuPools"][0]["maxNodes"] = 2
    found = problems(vals)
    msgs = [p for p in found if p.startswith("leanrag:serving.models[0].disaggregation.transport:")]
    assert len(msgs) == 2 and all("g6e.xlarge has no EFA" in m for m in msgs), found
    vals["serving"]["models"][0]["disaggregation"]["transport"] = "tcp"
    assert problems(vals) == []


def test_efa_and_rdma_on_the_wrong_cluster():
    existing = stack("kind-llmd")
    model = existing["serving"]["models"][0]
    existing["cluster"]["gpuPools"][0].update(gpuCount=2, maxNodes=1)
    model["disaggregation"] = {"enabled": True, "transport": "efa"}
    assert "this stack runs on existing" in only(problems(existing), "serving.models[0].disaggregation.transport")
    model["disaggregation"]["transport"] = "rdma"
    assert "RDMA device plugin" in only(problems(existing), "serving.models[0].disaggregation.rdmaResource")
    model["disaggregation"]["rdmaResource"] = "rdma/ib"
    assert problems(existing) == []
    assert "use transport: efa" in only(problems(pd(transport="rdma")), "serving.models[0].disaggregation.transport")


def test_embedding_models_are_not_disaggregated():
    vals = pd()
    vals["serving"]["models"][0]["role"] = "embedding"
    assert "no decode phase" in only(problems(vals), "serving.models[0].disaggregation.enabled")


# --- kv offload ------------------------------------------------------------------------------------------


def test_cpu_kv_offload_must_fit_the_replicas_memory():
    vals = stack("eks-llmd")
    vals["serving"]["models"][0]["kvOffload"] = {"cpuGib": 40}
    msg = only(problems(vals), "serving.models[0].kvOffload.cpuGib")
    assert "need 48 GiB per replica" in msg and "memory request is 23 GiB" in msg and "its node has 32 GB" in msg
    assert "lower cpuGib to at most 15" in msg
    vals["serving"]["models"][0]["kvOffload"] = {"cpuGib": 15}
    assert problems(vals) == []


def test_cpu_kv_offload_counts_against_a_configured_memory_request():
    vals = stack("kind-llmd")
    vals["serving"]["models"][0].update(kvOffload={"cpuGib": 16}, memory="20Gi")
    assert "memory request is 20 GiB" in only(problems(vals), "serving.models[0].kvOffload.cpuGib")
    vals["serving"]["models"][0]["memory"] = "32Gi"
    assert problems(vals) == []


def test_embedding_models_have_no_kv_cache_to_offload():
    vals = stack("kind-llmd")
    vals["serving"]["models"][0].update(role="embedding", kvOffload={"cpuGib": 4})
    vals["serving"]["cpuTier"]["fallbackFor"] = []
    assert "no KV cache" in only(problems(vals), "serving.models[0].kvOffload.cpuGib")
