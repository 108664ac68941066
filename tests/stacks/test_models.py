"""What each served model is, worked out once (stacks/models.py): its weights' source, gating, shape, the node
it runs on and the requests of its pods."""

from __future__ import annotations

import pytest

from stacks.config import StackConfig
from stacks.config.serving import ModelConfig
from stacks.models import (
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    FALLBACK_WEIGHTS_GB,
    ModelStore,
    gguf_weights,
    llama_cpp_weights,
    model_entries,
    model_shape,
    model_source,
    model_store,
    served_models,
)
from stacks.uris import BucketUri, PvcUri, UriError


def model(**kw) -> ModelConfig:
    return ModelConfig.model_validate({"name": "m", "id": "Qwen/Qwen2.5-7B-Instruct", "pool": "gpu", **kw})


def test_a_model_without_an_artifact_downloads_its_id_from_the_hub():
    src = model_source(model())
    assert (src.kind, src.hub_id, src.artifact, src.gated) == ("huggingface", "Qwen/Qwen2.5-7B-Instruct", None, False)
    assert src.from_hub and not src.needs_hf_token and not src.streamed


def test_gated_models_need_the_token_only_when_someone_downloads_them():
    gated = model(id="meta-llama/Llama-3.1-8B-Instruct")
    assert model_source(gated).needs_hf_token
    quantized = model(id="acme/llama-w4a16", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct", precision="w4a16")
    src = model_source(quantized)
    assert (src.kind, src.hub_id, src.gated, src.needs_hf_token, src.streamed) == (
        "quantized",
        "meta-llama/Llama-3.1-8B-Instruct",
        True,
        True,
        True,
    )
    loaded = model(id="meta-llama/Llama-3.1-8B-Instruct", artifactUri="s3://models/llama")
    assert model_source(loaded).gated and not model_source(loaded).needs_hf_token


def test_artifacts_are_bucket_folders_or_volumes():
    bucket = model_source(model(artifactUri="gs://models/llama"))
    assert bucket.kind == "bucket" and isinstance(bucket.artifact, BucketUri) and bucket.streamed
    volume = model_source(model(artifactUri="pvc://cache/llama"))
    assert volume.kind == "volume" and isinstance(volume.artifact, PvcUri) and not volume.streamed
    with pytest.raises(UriError):
        model_source(model(artifactUri="ftp://x/y"))


def test_shape_comes_from_the_config_or_the_catalog_entry_of_the_source_model():
    assert model_shape(model(id="acme/unknown")) is None
    assert model_shape(model(id="acme/q", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct")).params_b == 8.03
    own = model_shape(model(id="acme/x", shape={"paramsB": 3, "layers": 28, "kvHeads": 8, "headDim": 128}))
    assert own is not None and own.params_b == 3


def stack(cloud: str, **model_kw) -> StackConfig:
    pools = {
        "aws": {"name": "gpu", "instanceType": "g6.xlarge"},
        "gcp": {"name": "gpu", "instanceType": "g2-standard-8"},
        "existing": {"name": "gpu", "instanceType": "x", "gpu": "L4", "gpuCount": 1},
    }
    return StackConfig.model_validate(
        {
            "cloud": cloud,
            "region": "r",
            "cluster": {"gpuPools": [pools[cloud]]},
            "serving": {"models": [{"name": "m", "id": "acme/unknown", "pool": "gpu", **model_kw}]},
        }
    )


def test_served_models_know_their_node_their_requests_and_the_bucket_they_stream_from():
    aws, _embedding = served_models(stack("aws", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct"))
    assert aws.instance is not None and aws.instance.name == "g6.xlarge" and aws.instance.cloud == "aws"
    assert aws.requests == ("3", "10Gi")  # g6.xlarge: 4 vCPU, 16 GB, 1 GPU
    assert aws.bucket_scheme == "s3"  # the quantized artifact lives in the stack's model store
    gcp, _ = served_models(stack("gcp", artifactUri="gs://b/m", cpu="2", memory="8Gi"))
    assert gcp.bucket_scheme == "gs" and gcp.requests == ("2", "8Gi")  # configured requests win
    existing, _ = served_models(stack("existing"))
    assert existing.instance is None and existing.bucket_scheme is None  # prefetched into the store's claim
    assert existing.requests == (DEFAULT_CPU, DEFAULT_MEMORY)
    assert existing.weights_gb == FALLBACK_WEIGHTS_GB  # no shape known


def test_a_model_without_an_artifact_is_prefetched_into_the_stacks_model_store():
    bucket = model_source(model(revision="abc123"), ModelStore(scheme="s3", volume=None))
    assert (bucket.kind, bucket.artifact, bucket.revision) == ("prefetched", None, "abc123")
    assert bucket.prefetched and bucket.streamed and bucket.from_hub  # the Job downloads; the server streams
    claim = model_store(stack("existing"))
    assert claim.volume is not None and claim.volume.claim == "model-store"
    volume = model_source(model(precision="w4a16"), claim)
    assert isinstance(volume.artifact, PvcUri) and not volume.streamed
    assert (volume.artifact.claim, volume.artifact.path) == ("model-store", "models/m/w4a16")
    gated = model_source(model(id="meta-llama/Llama-3.1-8B-Instruct"), claim)
    assert gated.needs_hf_token  # the prefetch Job needs the token, not the server
    assert model_source(model(artifactUri="gs://b/m"), claim).kind == "bucket"  # already in a store: no copy


def test_the_model_store_is_the_clouds_bucket_or_the_existing_clusters_claim():
    assert model_store(stack("aws")) == ModelStore(scheme="s3", volume=None)
    assert model_store(stack("gcp")) == ModelStore(scheme="gs", volume=None)
    bad = StackConfig.model_validate({"cloud": "existing", "cluster": {"existing": {"modelStoreUri": "s3://b"}}})
    assert model_store(bad) == ModelStore(scheme=None, volume=None)


def test_served_models_include_the_embedding_and_reranker_sections_with_their_runtime():
    cfg = StackConfig.model_validate(
        {
            "cloud": "aws",
            "region": "r",
            "cluster": {"gpuPools": [{"name": "gpu", "instanceType": "g6.xlarge"}]},
            "serving": {
                "reranker": {"enabled": True, "pool": "gpu"},
                "embedding": {"memory": "3Gi"},
            },
        }
    )
    assert [key for key, _ in model_entries(cfg)] == ["serving.embedding", "serving.reranker"]
    embed, rerank = served_models(cfg)
    assert (embed.runtime, embed.config.pool, embed.config.role, embed.dimension) == ("tei", "system", "embedding", 384)
    assert embed.requests == ("1", "3Gi") and embed.bucket_scheme == "s3" and embed.source.prefetched
    assert (rerank.runtime, rerank.config.pool, rerank.config.role) == ("vllm", "gpu", "reranker")
    assert rerank.requests == ("3", "10Gi")  # a GPU model's share of its node, like any vLLM model


def test_cpu_models_are_sized_from_their_float32_weights():
    cfg = StackConfig.model_validate({"cloud": "aws", "region": "r", "serving": {}})
    (embed,) = served_models(cfg)
    # MiniLM: 22.7 M parameters x 4 bytes x 1.5 + 0.5 GB = 0.64 GB -> 1Gi
    assert round(embed.cpu_memory_gb, 2) == 0.64 and embed.requests == ("1", "1Gi")
    big = StackConfig.model_validate(
        {
            "cloud": "aws",
            "region": "r",
            "serving": {"embedding": {"shape": {"paramsB": 0.56, "layers": 24, "kvHeads": 16, "headDim": 64}}},
        }
    )
    assert served_models(big)[0].requests == ("1", "4Gi")  # 0.56 B x 6 bytes + 0.5 = 3.86 GB


def test_the_cpu_tiers_gguf_is_prefetched_into_the_store_or_read_from_a_claim():
    cfg = StackConfig.model_validate({"cloud": "existing", "serving": {"cpuTier": {"enabled": True}}})
    gguf = gguf_weights(cfg, cfg.serving.cpu_tier)
    assert (gguf.kind, gguf.repo, gguf.file) == (
        "prefetched",
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        "SmolLM2-135M-Instruct-Q4_K_M.gguf",
    )
    assert gguf.artifact is not None and gguf.artifact.path == "models/smollm2-cpu/gguf"
    on_claim = StackConfig.model_validate(
        {"cloud": "existing", "serving": {"cpuTier": {"enabled": True, "ggufUri": "pvc://weights/smol/m.gguf"}}}
    )
    gguf = gguf_weights(on_claim, on_claim.serving.cpu_tier)
    assert gguf.kind == "volume" and gguf.file == "m.gguf" and gguf.artifact is not None
    assert (gguf.artifact.claim, gguf.artifact.path) == ("weights", "smol")
    off = StackConfig.model_validate(
        {"cloud": "aws", "region": "r", "serving": {"cpuTier": {"enabled": True}, "prefetch": {"enabled": False}}}
    )
    assert gguf_weights(off, off.serving.cpu_tier).kind == "huggingface"  # what preflight refuses
    aws = StackConfig.model_validate({"cloud": "aws", "region": "r", "serving": {"cpuTier": {"enabled": True}}})
    assert gguf_weights(aws, aws.serving.cpu_tier).bucket_scheme == "s3"
    assert gguf_weights(aws, aws.serving.cpu_tier).artifact is None


def test_the_cpu_safety_models_gguf_is_prefetched_like_the_cpu_tiers():
    """Llama Guard on CPU (serving.cpuSafety) is a llama.cpp server too: its GGUF goes through the model store."""
    cfg = StackConfig.model_validate(
        {"cloud": "existing", "serving": {"cpuTier": {"enabled": True}, "cpuSafety": {"enabled": True}}}
    )
    weights = llama_cpp_weights(cfg)
    assert list(weights) == ["smollm2-cpu", "llama-guard-3-1b-cpu"]
    guard = weights["llama-guard-3-1b-cpu"]
    assert (guard.kind, guard.repo, guard.file) == (
        "prefetched",
        "bartowski/Llama-Guard-3-1B-GGUF",
        "Llama-Guard-3-1B-Q8_0.gguf",
    )
    assert guard.artifact is not None and guard.artifact.path == "models/llama-guard-3-1b-cpu/gguf"
    only_safety = StackConfig.model_validate(
        {"cloud": "aws", "region": "r", "serving": {"cpuSafety": {"enabled": True}}}
    )
    assert list(llama_cpp_weights(only_safety)) == ["llama-guard-3-1b-cpu"]
    assert llama_cpp_weights(StackConfig.model_validate({"cloud": "aws", "region": "r"})) == {}
