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
    model_shape,
    model_source,
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
    (aws,) = served_models(stack("aws", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct"))
    assert aws.instance is not None and aws.instance.name == "g6.xlarge" and aws.instance.cloud == "aws"
    assert aws.requests == ("3", "10Gi")  # g6.xlarge: 4 vCPU, 16 GB, 1 GPU
    assert aws.bucket_scheme == "s3"  # the quantized artifact lives in the stack's model store
    (gcp,) = served_models(stack("gcp", artifactUri="gs://b/m", cpu="2", memory="8Gi"))
    assert gcp.bucket_scheme == "gs" and gcp.requests == ("2", "8Gi")  # configured requests win
    (existing,) = served_models(stack("existing"))
    assert existing.instance is None and existing.bucket_scheme is None
    assert existing.requests == (DEFAULT_CPU, DEFAULT_MEMORY)
    assert existing.weights_gb == FALLBACK_WEIGHTS_GB  # no shape known
