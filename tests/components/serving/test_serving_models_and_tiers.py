"""Several models per stack, the llama.cpp CPU tier, and the layer's stack outputs."""

from __future__ import annotations

import copy

import pytest

from components import versions
from components.cluster.base import POOL_LABEL
from components.serving.cpu_tier import cpu_threads, llama_args
from components.serving.engine import flag_value
from components.serving.layer import API_KEY_SECRET
from components.serving.weights import local_weights
from infra.mocks import REDACTED
from stacks.config.serving import CpuTierConfig
from stacks.uris import UriError, parse_pvc_uri
from tests.renderkit import container, dev, local, obj, objects_of, pod_spec, prod, run_variant, stack_values

HF = {"hfToken": "hf_test"}


def three_models(mode: str) -> dict:
    vals = copy.deepcopy(stack_values("prod"))
    vals["cluster"]["gpuPools"][0]["maxNodes"] = 5
    vals["serving"]["mode"] = mode
    vals["serving"]["models"].append(
        {
            "name": "embedder",
            "id": "sentence-transformers/all-MiniLM-L6-v2",
            "role": "embedding",
            "pool": "gpu-l4",
            "maxContext": 512,
            "engine": {"maxNumSeqs": 128},
        }
    )
    vals["serving"]["embedding"] = {"enabled": False}  # the GPU embedder above is the app's embedding model
    return vals


@pytest.mark.parametrize("mode", ["vllm", "llm-d"])
def test_each_model_gets_its_own_server_service_and_settings(mode):
    run = run_variant(three_models(mode), HF)
    names = {"llama-3-1-8b", "llama-guard-3-1b", "embedder"}
    gpu = {
        d["metadata"]["name"]
        for d in objects_of(run, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("leanrag.dev/serving-tier") == "gpu"
    }
    assert gpu == names
    assert names <= {s["metadata"]["name"] for s in objects_of(run, "Service")}
    embed = container(obj(run, "Deployment", "embedder"))["args"]
    assert flag_value(embed, "--runner") == "pooling" and flag_value(embed, "--max-num-seqs") == "128"
    assert flag_value(container(obj(run, "Deployment", "llama-guard-3-1b"))["args"], "--runner") is None
    if mode == "llm-d":
        assert {p["metadata"]["name"] for p in objects_of(run, "InferencePool")} == names
        routed = {r["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] for r in objects_of(run, "HTTPRoute")}
        assert routed == names
    else:
        assert objects_of(run, "InferencePool") == [] and objects_of(run, "HTTPRoute") == []
    assert set(run.outputs["servedModels"]) == names


def test_vllm_mode_gives_each_model_its_service_url():
    urls = run_variant(three_models("vllm"), HF).outputs["openaiBaseUrls"]
    assert urls == {
        m: f"http://{m}.serving.svc.cluster.local:8000/v1" for m in ("llama-3-1-8b", "llama-guard-3-1b", "embedder")
    }


def test_dev_outputs_point_at_the_services_and_keep_the_key_secret():
    out = dev().outputs
    assert out["openaiBaseUrl"] == "http://llama-3-1-8b.serving.svc.cluster.local:8000/v1"
    assert out["openaiBaseUrls"]["smollm2-cpu"] == "http://smollm2-cpu.serving.svc.cluster.local:8080/v1"
    # the safety model last: Llama Guard on CPU (serving.cpuSafety)
    assert out["servedModels"] == ["llama-3-1-8b", "all-minilm-l6-v2", "smollm2-cpu", "llama-guard-3-1b-cpu"]
    assert out["servingFallbacks"] == {"llama-3-1-8b": "smollm2-cpu"}
    assert out["apiKey"] == REDACTED and "apiKey" in dev().secret_outputs


def test_prod_outputs_route_every_model_through_the_gateway():
    out = prod().outputs
    assert out["servedModels"] == ["llama-3-1-8b", "llama-guard-3-1b", "all-minilm-l6-v2"]
    gpu = {m: "http://10.50.15.250/v1" for m in ("llama-3-1-8b", "llama-guard-3-1b")}
    # the CPU embedding server is not behind the inference gateway (no vLLM metrics for the endpoint picker)
    assert out["openaiBaseUrls"] == {
        **gpu,
        "all-minilm-l6-v2": "http://all-minilm-l6-v2.serving.svc.cluster.local:8080/v1",
    }
    assert out["openaiBaseUrl"] == "http://10.50.15.250/v1"
    assert "apiKey" in prod().secret_outputs


def test_cpu_tier_runs_llama_cpp_on_the_system_pool_without_gpu():
    d = obj(dev(), "Deployment", "smollm2-cpu")
    pod, c = pod_spec(d), container(d)
    assert c["image"] == versions.LLAMA_CPP_SERVER_IMAGE
    assert pod["nodeSelector"] == {POOL_LABEL: "system"} and "tolerations" not in pod
    assert c["resources"] == {"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"cpu": "4000m", "memory": "2Gi"}}
    args = c["args"]
    # the GGUF comes from the model store (synced from the bucket by an init container), never from the hub
    assert "--hf-repo" not in args and "--hf-file" not in args
    assert flag_value(args, "--model") == "/weights/SmolLM2-135M-Instruct-Q4_K_M.gguf"
    [sync] = pod["initContainers"]
    assert sync["command"][:4] == ["aws", "s3", "sync", "--only-show-errors"]
    assert sync["command"][4].startswith("s3://leanrag-dev-models-")
    assert sync["command"][4].endswith("/models/smollm2-cpu/gguf") and sync["command"][5] == "/weights"
    assert pod["serviceAccountName"] == "model-store"
    assert {"name": "weights", "mountPath": "/weights", "readOnly": True} in c["volumeMounts"]
    assert flag_value(args, "--alias") == "smollm2-cpu" and flag_value(args, "--ctx-size") == "4096"
    # the API key is a file llama-server reads (--api-key-file), never an environment variable
    key_file = flag_value(args, "--api-key-file")
    assert key_file == "/var/run/secrets/leanrag/llama-api-key-file"
    assert not any("valueFrom" in e for e in c["env"])
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == key_file]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    [source] = volume["projected"]["sources"]
    assert source["secret"] == {"name": API_KEY_SECRET, "items": [{"key": "api-key", "path": mount["subPath"]}]}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_local_stack_serves_the_cpu_tier_the_cpu_safety_model_and_the_embedding_model_on_cpu():
    run = local()
    assert sorted(d["metadata"]["name"] for d in objects_of(run, "Deployment")) == [
        "all-minilm-l6-v2",
        "llama-guard-3-1b-cpu",
        "smollm2-cpu",
    ]
    assert run.outputs["servedModels"] == ["all-minilm-l6-v2", "smollm2-cpu", "llama-guard-3-1b-cpu"]
    assert run.outputs["openaiBaseUrl"] == "http://smollm2-cpu.serving.svc.cluster.local:8080/v1"
    # the GGUF is read from the model store's claim, which the prefetch Job filled
    args = container(obj(run, "Deployment", "smollm2-cpu"))["args"]
    assert (
        flag_value(args, "--model") == "/models/model-store/models/smollm2-cpu/gguf/SmolLM2-135M-Instruct-Q4_K_M.gguf"
    )


def test_cpu_tier_in_llm_d_mode_is_routed_through_the_gateway_to_its_service():
    vals = stack_values("prod")
    vals["serving"]["cpuTier"] = {"enabled": True, "fallbackFor": ["llama-3-1-8b"]}
    run = run_variant(vals, HF)
    rule = obj(run, "HTTPRoute", "smollm2-cpu")["spec"]["rules"][0]
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "smollm2-cpu", "port": 8080}]
    hc = obj(run, "HealthCheckPolicy", "smollm2-cpu")["spec"]
    assert hc["targetRef"] == {"group": "", "kind": "Service", "name": "smollm2-cpu"}
    assert run.outputs["servingFallbacks"] == {"llama-3-1-8b": "smollm2-cpu"}


def test_gguf_sources_and_threads():
    bucket = local_weights("gs://b/models/smol/gguf", scheme="gs", size_gb=1, file="sub/model.gguf")
    assert bucket.path == "/weights/sub/model.gguf" and bucket.service_account == "model-store"
    assert bucket.init_containers[0]["command"] == [
        "gcloud",
        "storage",
        "rsync",
        "--recursive",
        "gs://b/models/smol/gguf",
        "/weights",
    ]
    claim = local_weights(parse_pvc_uri("pvc://models/smol"), scheme=None, size_gb=1, file="model.gguf")
    assert claim.path == "/models/models/smol/model.gguf" and not claim.init_containers
    assert claim.volumes[0]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    with pytest.raises(UriError):
        local_weights(parse_pvc_uri("pvc://Bad_Claim/x"), scheme=None, size_gb=1)
    assert cpu_threads("1500m") == 1 and cpu_threads("4") == 4
    cfg = CpuTierConfig(enabled=True, cpu="3")
    assert flag_value(llama_args(cfg, "/weights/m.gguf"), "--threads") == "3"
    assert flag_value(llama_args(cfg, "/weights/m.gguf"), "--model") == "/weights/m.gguf"
