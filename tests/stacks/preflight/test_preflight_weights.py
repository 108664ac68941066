"""Preflight of where weights come from (stacks/preflight/weights.py) and of the embedding and reranker models
(stacks/preflight/pooling.py): each rule with a passing and a failing case, naming the key and the fix."""

from __future__ import annotations

import copy
from typing import Any

from tests.renderkit import stack_values
from tests.stacks.preflight.test_preflight_serving import problems


def at(found: list[str], path: str) -> list[str]:
    return [p for p in found if p.startswith(f"leanrag:{path}:")]


def values(stack: str, **serving: Any) -> dict[str, Any]:
    vals = copy.deepcopy(stack_values(stack))
    vals["serving"] = {**vals.get("serving", {}), **serving}
    return vals


def without_ingest(vals: dict[str, Any]) -> None:
    vals.setdefault("jobs", {})["ingest"] = {**vals["jobs"].get("ingest", {}), "enabled": False}


# --- every model is in the store or prefetched -------------------------------------------------------------


def test_a_model_neither_in_the_store_nor_prefetched_is_refused_with_the_copy_command():
    vals = values("dev", prefetch={"enabled": False})
    found = problems(vals)
    [msg] = at(found, "serving.models[0].artifactUri")
    assert "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16 is neither in the model store" in msg
    assert "download it from the hub at every start" in msg
    assert "python -m workloads.prefetch --model RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16" in msg
    assert "--output s3://<bucket>/models/llama-3-1-8b/w4a16" in msg and "serving.prefetch.enabled: true" in msg
    assert at(found, "serving.embedding.artifactUri") and at(found, "serving.cpuTier.ggufUri")  # all at once
    [guard] = at(found, "serving.cpuSafety.ggufUri")  # Llama Guard's GGUF: the same rule as the CPU tier's
    assert "llama-server would download it from the hub at every start" in guard
    assert "--model bartowski/Llama-Guard-3-1B-GGUF --include Llama-Guard-3-1B-Q8_0.gguf" in guard
    assert "--output s3://<bucket>/models/llama-guard-3-1b-cpu/gguf" in guard


def test_models_already_in_the_store_need_no_prefetch():
    vals = values("dev", prefetch={"enabled": False})
    vals["serving"]["models"][0]["artifactUri"] = "s3://models/llama-3-1-8b/w4a16"
    vals["serving"]["embedding"] = {"artifactUri": "s3://models/minilm"}
    vals["serving"]["cpuTier"]["ggufUri"] = "pvc://weights/smol/model.gguf"
    vals["serving"]["cpuSafety"]["ggufUri"] = "pvc://weights/guard/model.gguf"
    assert problems(vals) == []
    assert problems(values("dev")) == []  # prefetch on (the default): nothing to declare


def test_an_existing_cluster_prefetches_into_a_claim_of_its_model_store():
    vals = copy.deepcopy(stack_values("local"))
    vals["cluster"]["existing"]["modelStoreUri"] = "s3://not-a-claim"
    [msg] = at(problems(vals), "cluster.existing.modelStoreUri")
    assert "serving.cpuTier" in msg and "serving.embedding" in msg and "pvc://model-store" in msg
    assert "serving.cpuSafety" in msg
    vals["cluster"]["existing"]["modelStoreUri"] = "pvc://model-store/weights"
    assert problems(vals) == []


def test_the_model_store_claim_must_hold_the_prefetched_weights():
    vals = copy.deepcopy(stack_values("local"))
    vals["cluster"]["gpuPools"] = [{"name": "gpu", "instanceType": "n", "gpu": "L4", "gpuCount": 1}]
    vals["serving"]["models"] = [{"name": "qwen", "id": "Qwen/Qwen2.5-7B-Instruct", "pool": "gpu"}]
    vals["serving"]["prefetch"] = {"volumeGb": 10}
    [msg] = at(problems(vals), "serving.prefetch.volumeGb")  # Qwen 2.5 7B in BF16: 15.2 GB
    assert "gets 16.8 GB of prefetched weights" in msg and "more than its 10 GB" in msg
    assert "volumeGb >= 17" in msg
    vals["serving"]["prefetch"] = {"volumeGb": 20}
    assert problems(vals) == []
    vals["serving"]["prefetch"] = {"volumeGb": None}  # a claim you created: its size is yours
    assert problems(vals) == []


def test_a_gated_gguf_needs_the_token_for_its_prefetch():
    vals = copy.deepcopy(stack_values("local"))
    vals["serving"]["cpuTier"]["ggufUri"] = "hf://meta-llama/Llama-3.2-1B-GGUF/model.gguf"
    [msg] = at(problems(vals, frozenset()), "serving.cpuTier.ggufUri")
    assert "gated" in msg and "hfToken" in msg
    assert problems(vals, frozenset({"hfToken"})) == []
    vals["serving"]["cpuSafety"]["ggufUri"] = "hf://meta-llama/Llama-Guard-3-1B-GGUF/model.gguf"
    [msg] = at(problems(vals, frozenset()), "serving.cpuSafety.ggufUri")
    assert "gated" in msg and "hfToken" in msg


# --- the app embeds with the served model ------------------------------------------------------------------


def test_the_app_and_the_served_embedding_model_must_be_the_same():
    vals = values(
        "dev",
        embedding={
            "id": "BAAI/bge-small-en-v1.5",
            "shape": {"paramsB": 0.033, "layers": 12, "kvHeads": 12, "headDim": 32},
        },
    )
    [msg] = at(problems(vals), "platform.app.embeddingModel")
    assert "the app embeds with sentence-transformers/all-MiniLM-L6-v2" in msg and "BAAI/bge-small-en-v1.5" in msg
    vals["platform"]["app"] = {"embeddingModel": "BAAI/bge-small-en-v1.5"}
    assert [p for p in problems(vals) if "ingest Job" not in p] == []
    without_ingest(vals)  # the ingest image bundles MiniLM only (stacks/preflight/jobs.py)
    assert problems(vals) == []


def test_the_app_and_the_served_embedding_dimension_must_be_the_same():
    vals = values("dev", embedding={"dimension": 768})
    [msg] = at(problems(vals), "platform.app.embeddingDimension")
    assert "expects 384-dimensional vectors" in msg and "returns 768" in msg
    vals["platform"]["app"] = {"embeddingDimension": 768}
    assert [p for p in problems(vals) if "ingest Job" not in p] == []
    without_ingest(vals)  # MiniLM in the ingest image makes 384-dimensional vectors (stacks/preflight/jobs.py)
    assert problems(vals) == []


def test_without_the_embedding_section_a_served_model_must_embed_for_the_app():
    vals = values("dev", embedding={"enabled": False})
    [msg] = at(problems(vals), "serving.embedding.enabled")
    assert "no served model embeds with sentence-transformers/all-MiniLM-L6-v2" in msg
    vals["serving"]["models"].append(
        {"name": "minilm", "id": "sentence-transformers/all-MiniLM-L6-v2", "role": "embedding", "pool": "system"}
    )
    assert problems(vals) == []


# --- embedding and reranker models are sized like any model ------------------------------------------------


def test_a_cpu_model_with_too_little_memory_is_refused():
    vals = values("dev", embedding={"memory": "256Mi"})
    [msg] = at(problems(vals), "serving.embedding.memory")
    assert "needs 0.6 GB" in msg and "set memory to 1Gi" in msg
    vals["serving"]["embedding"] = {"memory": "1Gi"}
    assert problems(vals) == []


def test_a_cpu_model_larger_than_a_system_node_is_refused():
    big = {"paramsB": 2.0, "layers": 24, "kvHeads": 16, "headDim": 64}
    vals = values("dev", reranker={"enabled": True, "id": "acme/big-reranker", "shape": big})
    [msg] = at(problems(vals), "serving.reranker.memory")  # 2 B x 6 bytes + 0.5 = 12.5 GB on a 16 GB m7i.xlarge
    assert "more than 80% of a system node (m7i.xlarge: 4 vCPU, 16 GB)" in msg
    vals["serving"]["reranker"]["pool"] = "gpu-l4"  # or on a GPU
    assert at(problems(vals), "serving.reranker.memory") == []


def test_a_reranker_outside_the_catalog_needs_its_shape():
    vals = values("dev", reranker={"enabled": True, "id": "acme/reranker"})
    [msg] = at(problems(vals), "serving.reranker.shape")
    assert "not in the catalog" in msg
    assert problems(values("dev", reranker={"enabled": True})) == []  # the default cross-encoder is


def test_only_embedding_and_reranker_models_run_on_the_system_pool_without_tensor_parallelism():
    vals = values("dev")
    vals["serving"]["models"].append(
        {"name": "minilm", "id": "sentence-transformers/all-MiniLM-L6-v2", "role": "embedding", "pool": "system"}
    )
    assert problems(vals) == []
    vals["serving"]["models"][1]["tensorParallel"] = 2
    assert "no tensor parallelism" in at(problems(vals), "serving.models[1].tensorParallel")[0]
    vals["serving"]["models"][1].update(tensorParallel=1, role="chat")
    [msg] = at(problems(vals), "serving.models[1].pool")
    assert "the system pool serves only embedding and reranker models" in msg


def test_a_gpu_reranker_gets_the_gpu_rules():
    vals = values("dev", reranker={"enabled": True, "pool": "gpu-l4", "engine": {"kvCacheDtype": "fp8"}})
    assert "a reranker model keeps no KV cache" in at(problems(vals), "serving.reranker.engine.kvCacheDtype")[0]
    vals["serving"]["reranker"] = {"enabled": True, "pool": "gpu-l9"}
    assert "names pool 'gpu-l9', which is not a GPU pool" in at(problems(vals), "serving.reranker.pool")[0]


def test_section_names_must_not_clash_with_models():
    vals = values("dev", embedding={"name": "llama-3-1-8b"})
    assert "'llama-3-1-8b' is used 2 times" in at(problems(vals), "serving.models")[0]
