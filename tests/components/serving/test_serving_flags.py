"""Typed engine settings -> vLLM flags, model sources -> load flags, for the pure builders and as rendered."""

from __future__ import annotations

import json

import pytest

from components import versions
from components.serving import engine
from components.serving.engine import engine_args, flag_value, vllm_command, weights_load
from stacks.config.serving import ModelConfig
from stacks.models import model_source
from stacks.uris import UriError
from tests.renderkit import container, dev, obj, prod, run_variant, stack_values


def model(**kw) -> ModelConfig:
    base = {"name": "m", "id": "Qwen/Qwen2.5-7B-Instruct", "pool": "gpu"}
    return ModelConfig.model_validate({**base, **kw})


def load_of(m: ModelConfig) -> engine.VllmLoad:
    """How vLLM loads `m`: its source as stacks.models works it out, turned into load flags by the engine."""
    return weights_load(model_source(m), m.tensor_parallel)


def test_every_engine_setting_maps_to_its_flag():
    m = model(
        maxContext=12288,
        tensorParallel=2,
        engine={
            "gpuMemoryUtilization": 0.85,
            "maxNumSeqs": 48,
            "maxNumBatchedTokens": 4096,
            "enablePrefixCaching": True,
            "kvCacheDtype": "fp8",
            "shutdownTimeoutS": 45,
        },
    )
    args = engine_args(m)
    assert flag_value(args, "--served-model-name") == "m"
    assert flag_value(args, "--max-model-len") == "12288"
    assert flag_value(args, "--gpu-memory-utilization") == "0.85"
    assert flag_value(args, "--max-num-seqs") == "48"
    assert flag_value(args, "--max-num-batched-tokens") == "4096"
    assert "--enable-prefix-caching" in args and "--no-enable-prefix-caching" not in args
    assert flag_value(args, "--kv-cache-dtype") == "fp8"
    assert flag_value(args, "--tensor-parallel-size") == "2"
    assert flag_value(args, "--shutdown-timeout") == "45"


def test_unset_and_false_settings_render_as_vllm_expects():
    args = engine_args(model(engine={"enablePrefixCaching": False}))
    assert "--max-num-batched-tokens" not in args  # unset: vLLM chooses
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args
    assert flag_value(args, "--kv-cache-dtype") == "auto"


def test_roles_embedding_uses_the_pooling_runner_and_the_removed_task_flag_is_never_used():
    embed = engine_args(model(role="embedding"))
    assert flag_value(embed, "--runner") == "pooling"
    for role in ("chat", "safety"):
        args = engine_args(model(role=role))
        assert "--runner" not in args
    assert "--task" not in embed


def test_api_key_is_never_a_command_line_argument():
    command, args = vllm_command(model(), load_of(model()))
    assert "--api-key" not in command + args


def test_hugging_face_source_is_the_model_id():
    src = load_of(model())
    assert (src.kind, src.model_arg, src.args, src.needs_bucket_identity) == (
        "huggingface",
        "Qwen/Qwen2.5-7B-Instruct",
        [],
        False,
    )


@pytest.mark.parametrize("uri", ["s3://models/llama/w4a16/", "gs://models/llama/w4a16"])
def test_bucket_artifacts_stream_with_runai_and_the_bucket_identity(uri):
    src = load_of(model(artifactUri=uri))
    assert src.kind == "bucket" and src.needs_bucket_identity
    assert src.model_arg == uri.rstrip("/")
    assert flag_value(src.args, "--load-format") == "runai_streamer"
    assert "--model-loader-extra-config" not in src.args


def test_tensor_parallel_bucket_loads_stream_one_shard_per_rank():
    src = load_of(model(artifactUri="gs://models/llama", tensorParallel=4))
    assert json.loads(flag_value(src.args, "--model-loader-extra-config")) == {"distributed": True}


def test_pvc_artifact_mounts_the_claim_read_only():
    src = load_of(model(artifactUri="pvc://model-cache/llama/w8a8"))
    assert src.kind == "volume" and src.model_arg == "/models/model-cache/llama/w8a8"
    assert src.volumes == [
        {"name": "model-volume", "persistentVolumeClaim": {"claimName": "model-cache", "readOnly": True}}
    ]
    assert src.mounts[0]["readOnly"] is True and src.mounts[0]["mountPath"] == "/models/model-cache"


def test_unknown_artifact_scheme_is_rejected_naming_the_accepted_ones():
    with pytest.raises(UriError, match=r"s3://, gs:// or pvc://"):
        load_of(model(artifactUri="https://example.com/model"))


def test_dev_deployment_runs_vllm_with_its_configured_flags():
    c = container(obj(dev(), "Deployment", "llama-3-1-8b"))
    assert c["image"] == versions.VLLM_IMAGE and c["command"] == ["vllm", "serve"]
    args = c["args"]
    # the prefetch Job's copy in the stack's bucket, streamed: never the hub id
    assert args[0].startswith("s3://leanrag-dev-models-") and args[0].endswith("/models/llama-3-1-8b/w4a16")
    assert flag_value(args, "--load-format") == "runai_streamer"
    expected = {
        "--served-model-name": "llama-3-1-8b",
        "--max-model-len": "8192",
        "--max-num-seqs": "32",
        "--gpu-memory-utilization": "0.9",
        "--kv-cache-dtype": "auto",
        "--tensor-parallel-size": "1",
        "--shutdown-timeout": "30",
        "--port": "8000",
    }
    assert {f: flag_value(args, f) for f in expected} == expected
    assert "--enable-prefix-caching" in args


def test_prod_models_keep_their_own_settings():
    run = prod()
    llama = container(obj(run, "Deployment", "llama-3-1-8b"))["args"]
    guard = container(obj(run, "Deployment", "llama-guard-3-1b"))["args"]
    assert flag_value(llama, "--kv-cache-dtype") == "fp8" and flag_value(llama, "--max-model-len") == "16384"
    assert flag_value(guard, "--gpu-memory-utilization") == "0.85"
    assert flag_value(guard, "--max-model-len") == "4096"
    assert guard[0].startswith("gs://leanrag-prod-models-") and guard[0].endswith("/models/llama-guard-3-1b/bf16")
    assert flag_value(guard, "--served-model-name") == "llama-guard-3-1b"


def test_bucket_artifact_pods_run_as_the_model_store_account_with_the_region():
    vals = stack_values("dev")
    vals["serving"]["models"][0]["artifactUri"] = "s3://leanrag-models/llama-3-1-8b/w4a16"
    pod = obj(run_variant(vals), "Deployment", "llama-3-1-8b")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-store" and pod["automountServiceAccountToken"] is False
    c = pod["containers"][0]
    assert c["args"][0] == "s3://leanrag-models/llama-3-1-8b/w4a16"
    assert flag_value(c["args"], "--load-format") == "runai_streamer"
    assert {"name": "AWS_REGION", "value": "us-east-1"} in c["env"]


def test_prefetched_pods_stream_as_the_model_store_account_and_never_reach_the_hub():
    pod = obj(dev(), "Deployment", "llama-3-1-8b")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-store"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["HF_HUB_OFFLINE"] == "1" and env["AWS_REGION"] == "us-east-1" and "HF_TOKEN" not in env


def test_volume_pods_use_no_service_account_identity():
    vals = stack_values("dev")
    vals["serving"]["models"][0]["artifactUri"] = "pvc://weights/llama"
    pod = obj(run_variant(vals), "Deployment", "llama-3-1-8b")["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod


def test_cache_directories_point_into_the_cache_volume():
    env = {e["name"]: e.get("value") for e in container(obj(dev(), "Deployment", "llama-3-1-8b"))["env"]}
    for key in ("HOME", "HF_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR"):
        assert env[key].startswith(engine.CACHE_DIR + "/")
    assert env["USER"]  # getpass() needs it for a uid without a passwd entry
