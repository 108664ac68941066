"""Preflight of the request path's moderation, the ingest Job's embedding model and the images built here: each
rule fails on a bad config with the key path and a fix, and passes on its good twin."""

from __future__ import annotations

import copy
from typing import Any

from stacks.load import parse
from stacks.preflight import PreflightError

BASE: dict[str, Any] = {
    "cloud": "existing",
    "cluster": {"systemPool": {"name": "system", "instanceType": "kind-node"}},
    "serving": {"cpuTier": {"enabled": True}},
}


def problems(**top: Any) -> dict[str, str]:
    raw = copy.deepcopy(BASE)
    for key, value in top.items():
        raw[key] = {**raw.get(key, {}), **value}
    try:
        parse(raw)
    except PreflightError as e:
        return {p.path: f"{p.message} | {p.fix}" for p in e.problems}
    return {}


def test_moderation_on_without_a_safety_model_is_refused_with_the_fix():
    found = problems(platform={"moderation": {"enabled": True}})
    assert list(found) == ["platform.moderation.enabled"]
    assert "serves no safety model" in found["platform.moderation.enabled"]
    assert "serving.cpuSafety.enabled: true" in found["platform.moderation.enabled"]
    assert "role: safety" in found["platform.moderation.enabled"]


def test_moderation_on_with_a_cpu_safety_model_passes_and_unset_is_not_a_problem():
    cpu_on = {"cpuTier": {"enabled": True}, "cpuSafety": {"enabled": True}}
    assert problems(platform={"moderation": {"enabled": True}}, serving=cpu_on) == {}
    assert problems() == {}  # unset: on only when a safety model is served
    assert problems(platform={"moderation": {"enabled": False}}) == {}


def test_a_gpu_safety_model_counts_too():
    gpu = {
        "cluster": {
            "systemPool": {"name": "system", "instanceType": "kind-node"},
            "gpuPools": [{"name": "gpu", "instanceType": "x", "gpu": "L4", "gpuCount": 1}],
        },
        "serving": {
            "cpuTier": {"enabled": True},
            "models": [
                {"name": "guard", "id": "meta-llama/Llama-Guard-3-1B", "pool": "gpu", "role": "safety"},
            ],
        },
        "platform": {"moderation": {"enabled": True}},
    }
    raw = copy.deepcopy(BASE)
    raw.update(gpu)
    parse(raw, frozenset({"hfToken"}))


def test_cpu_safety_model_needs_its_own_name_and_a_gguf():
    found = problems(
        serving={"cpuSafety": {"enabled": True, "name": "smollm2-cpu", "ggufUri": "s3://bucket/guard.bin"}}
    )
    assert set(found) == {"serving.cpuSafety.name", "serving.cpuSafety.ggufUri"}
    assert "also the name of another served model" in found["serving.cpuSafety.name"]


def test_ingest_embeds_with_a_model_its_image_can_load_at_the_apps_dimension():
    found = problems(platform={"app": {"embeddingModel": "BAAI/bge-small-en-v1.5", "embeddingDimension": 384}})
    assert list(found) == ["platform.app.embeddingModel"]
    assert "sentence-transformers/all-MiniLM-L6-v2" in found["platform.app.embeddingModel"]
    found = problems(platform={"app": {"embeddingDimension": 768}})
    assert list(found) == ["platform.app.embeddingDimension"]
    assert found["platform.app.embeddingDimension"].endswith("set platform.app.embeddingDimension: 384")
    # no ingest Job: the app may use any model the serving layer serves (serving.embedding, the same id)
    shape = {"paramsB": 0.0334, "layers": 12, "kvHeads": 12, "headDim": 32, "maxContext": 512}  # its config.json
    bge = {
        "cpuTier": {"enabled": True},
        "embedding": {"name": "bge-small", "id": "BAAI/bge-small-en-v1.5", "shape": shape},
    }
    assert (
        problems(
            platform={"app": {"embeddingModel": "BAAI/bge-small-en-v1.5"}},
            jobs={"ingest": {"enabled": False}},
            serving=bge,
        )
        == {}
    )


def test_images_built_here_are_pinned_and_their_registry_is_a_registry():
    found = problems(workloadImages={"registry": "registry.example.com/team", "tag": "latest"})
    assert list(found) == ["workloadImages.tag"]
    assert (
        problems(workloadImages={"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com/leanrag", "tag": "abc1234"})
        == {}
    )
    found = problems(workloadImages={"registry": "https://ghcr.io/me"})  # the schema refuses it
    assert list(found) == ["workloadImages.registry"]
    assert "without scheme" in found["workloadImages.registry"]
