"""Serving config that cannot work is rejected before any resource is declared, with the key and a fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.load import parse
from stacks.preflight import PreflightError
from tests.renderkit import run_variant, stack_values


def problems(vals: dict[str, Any], secrets: frozenset[str] = frozenset({"hfToken"})) -> list[str]:
    try:
        parse(vals, secrets)
    except PreflightError as e:
        return [str(p) for p in e.problems]
    return []


def dev_with(**model: Any) -> dict[str, Any]:
    vals = copy.deepcopy(stack_values("dev"))
    vals["serving"]["models"][0].update(model)
    return vals


def only(found: list[str], path: str) -> str:
    hits = [p for p in found if p.startswith(f"leanrag:{path}:")]
    assert len(hits) == 1, found
    return hits[0]


def test_the_shipped_stacks_pass_preflight():
    for stack in ("dev", "prod", "local"):
        assert problems(stack_values(stack)) == [], stack


def test_a_model_that_does_not_fit_names_its_memory_and_the_fixes():
    # BF16 Llama 3.1 8B: 16.1 GB weights + 4 x 8192 tokens of KV (4.3 GB) + 1.5 GB = 21.9 GB > 0.9 x 24 GB
    vals = dev_with(
        id="meta-llama/Llama-3.1-8B-Instruct",
        precision="bf16",
        maxContext=8192,
        shape=None,
        engine={"concurrency": 4},
    )
    msg = only(problems(vals), "serving.models[0].precision")
    assert "needs 21.9 GB per GPU" in msg and "L4 gives 21.6 GB" in msg
    assert "fix: try precision: fp8" in msg
    with pytest.raises(PreflightError, match=r"serving.models\[0\].precision"):
        run_variant(vals, {"hfToken": "hf_x"})  # the program stops before declaring anything


def test_fp8_kv_cache_on_an_a10g_is_rejected():
    vals = dev_with(engine={"kvCacheDtype": "fp8"})
    vals["cluster"]["gpuPools"][0]["instanceType"] = "g5.xlarge"  # A10G, compute capability 8.6
    msg = only(problems(vals), "serving.models[0].engine.kvCacheDtype")
    assert "FP8 needs compute capability 8.9+; A10G has 8.6" in msg and "kvCacheDtype: auto" in msg


def test_tensor_parallel_larger_than_the_nodes_gpus_is_rejected():
    msg = only(problems(dev_with(tensorParallel=2)), "serving.models[0].tensorParallel")
    assert "needs 2 GPUs per node" in msg and "1 L4 per node" in msg and "tensorParallel <= 1" in msg


def test_unknown_engine_settings_are_rejected_with_their_path():
    msg = only(problems(dev_with(engine={"maxNumSeq": 8})), "serving.models[0].engine.maxNumSeq")
    assert "remove this key or fix its spelling" in msg


@pytest.mark.parametrize(
    "uri,needle",
    [
        ("gs://models/llama", "aws stores models at s3://"),
        ("s3://models", "names a bucket but no model folder"),
        ("https://huggingface.co/x", "unsupported artifactUri"),
        ("pvc://Bad_Claim/llama", "does not start with a PersistentVolumeClaim name"),
    ],
)
def test_artifact_uris_must_be_loadable_from_this_cluster(uri, needle):
    assert needle in only(problems(dev_with(artifactUri=uri)), "serving.models[0].artifactUri")


def test_artifact_uris_that_work_pass():
    assert problems(dev_with(artifactUri="s3://leanrag-models/llama/w4a16")) == []
    assert problems(dev_with(artifactUri="pvc://model-cache/llama")) == []


def test_conflicting_engine_settings_are_rejected():
    msg = only(
        problems(dev_with(engine={"maxNumSeqs": 512, "maxNumBatchedTokens": 256})),
        "serving.models[0].engine.maxNumBatchedTokens",
    )
    assert "maxNumBatchedTokens >= maxNumSeqs" in msg
    embed = dev_with(role="embedding", maxContext=2048, engine={"maxNumBatchedTokens": 1024, "kvCacheDtype": "fp8"})
    found = problems(embed)
    assert "no chunked prefill" in only(found, "serving.models[0].engine.maxNumBatchedTokens")
    assert "no KV cache" in only(found, "serving.models[0].engine.kvCacheDtype")


def test_resource_quantities_are_checked():
    found = problems(dev_with(cpu="four", memory="24GB"))
    assert "not a CPU quantity" in only(found, "serving.models[0].cpu")
    assert "not a memory quantity" in only(found, "serving.models[0].memory")


def test_cpu_tier_name_and_fallbacks_must_make_sense():
    vals = dev_with(role="embedding")
    vals["serving"]["cpuTier"] = {
        "enabled": True,
        "name": "llama-3-1-8b",
        "fallbackFor": ["llama-3-1-8b"],
        "ggufUri": "s3://bucket/model.gguf",
    }
    found = problems(vals)
    assert "also the name of a GPU model" in only(found, "serving.cpuTier.name")
    assert "is a embedding model" in only(found, "serving.cpuTier.fallbackFor")
    assert "hf://<org>/<repo>/<file>.gguf" in only(found, "serving.cpuTier.ggufUri")


def test_llm_d_needs_gpu_models():
    vals = copy.deepcopy(stack_values("local"))
    vals["serving"]["mode"] = "llm-d"
    vals["serving"]["inferenceGateway"] = {"className": "istio"}
    assert "serving.models is empty" in only(problems(vals), "serving.mode")


def test_every_problem_is_reported_at_once():
    vals = dev_with(tensorParallel=2, artifactUri="gs://x/y", cpu="many")
    paths = {p.split(":")[1] for p in problems(vals)}
    assert {
        "serving.models[0].tensorParallel",
        "serving.models[0].artifactUri",
        "serving.models[0].cpu",
    } <= paths
