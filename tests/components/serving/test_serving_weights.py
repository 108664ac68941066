"""Weights come from the model store, never from the Hugging Face Hub when a server starts: the prefetch Jobs
copy them into the bucket (or the existing cluster's claim) first, and every model server of every stack loads
that copy (vLLM: the Run:ai streamer from s3:// or gs://; text-embeddings-inference and llama-server: local
files from the claim or synced from the bucket)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components import versions
from components.kube import COMPONENT, JOB, MODEL_SERVER, NAME
from components.serving.engine import flag_value
from infra.mocks import ProgramRun, Registered
from infra.validate import validate
from tests.renderkit import (
    STACKS,
    container,
    containers,
    depends_on,
    env_of,
    obj,
    objects_of,
    pod_spec,
    restricted_violations,
    run_stack,
    run_variant,
    stack_values,
)

HF = {"hfToken": "hf_test"}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB_TYPE = "kubernetes:batch/v1:Job"
LLMISVC_TYPE = "kubernetes:serving.kserve.io/v1alpha2:LLMInferenceService"


def variants() -> dict[str, tuple[dict[str, Any], dict[str, str] | None]]:
    """Stacks beyond the shipped ones: every source and runtime the serving layer has."""
    prod = copy.deepcopy(stack_values("prod"))
    prod["serving"]["cpuTier"] = {"enabled": True}
    prod["serving"]["reranker"] = {"enabled": True, "pool": "gpu-l4"}
    cpu_reranker = copy.deepcopy(stack_values("dev"))
    cpu_reranker["serving"]["reranker"] = {"enabled": True, "revision": "0123abcd"}
    tensor_parallel = copy.deepcopy(stack_values("prod"))
    tensor_parallel["cluster"]["gpuPools"][0]["instanceType"] = "g2-standard-24"
    tensor_parallel["monthlyBudgetUsd"] = 12000  # the whole stack at maxNodes: $10,906 (stacks/cost.py)
    tensor_parallel["serving"]["models"][0].update(tensorParallel=2, maxReplicas=3)
    existing = copy.deepcopy(stack_values("local"))
    existing["cluster"]["gpuPools"] = [{"name": "gpu", "instanceType": "n", "gpu": "L4", "gpuCount": 1}]
    existing["serving"]["models"] = [{"name": "qwen", "id": "Qwen/Qwen2.5-7B-Instruct", "pool": "gpu"}]
    existing["serving"]["embedding"] = {"pool": "gpu"}
    existing["serving"]["prefetch"] = {"volumeGb": 20}
    kserve = copy.deepcopy(stack_values("kserve"))  # KServe's storage initializer reads the prefetched copy
    kserve["serving"]["models"][0].pop("artifactUri")
    disaggregated = copy.deepcopy(stack_values("eks-pd"))  # prefill and decode stream the same copy
    disaggregated["serving"]["models"][0].pop("artifactUri")
    quantized = copy.deepcopy(stack_values("dev"))
    model = quantized["serving"]["models"][0]
    model.update(id="meta-llama/Llama-3.1-8B-Instruct", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct")
    model.pop("shape")
    return {
        "prod-cpu-tier-gpu-reranker": (prod, HF),
        "dev-cpu-reranker": (cpu_reranker, None),
        "prod-tensor-parallel": (tensor_parallel, HF),
        "existing-gpu": (existing, None),
        "dev-quantized": (quantized, HF),
        "kserve-prefetched": (kserve, None),
        "eks-pd-prefetched": (disaggregated, HF),
    }


def every_run() -> list[tuple[str, ProgramRun]]:
    runs = [(stack, run_stack(stack)) for stack in STACKS]
    return runs + [(name, run_variant(vals, secrets)) for name, (vals, secrets) in variants().items()]


def model_servers(run: ProgramRun) -> list[dict[str, Any]]:
    return [
        d
        for d in objects_of(run, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get(COMPONENT) == MODEL_SERVER
    ]


def hub_ids(run: ProgramRun) -> set[str]:
    """Every Hugging Face repository the stack's models come from (what the prefetch Jobs copy)."""
    return {
        flag_value(container(j)["args"], "--model")
        for j in objects_of(run, "Job")
        if j["spec"]["template"]["metadata"]["labels"][NAME] == "prefetch"
    }


def registered(run: ProgramRun, kind_type: str, name: str) -> Registered:
    [found] = [r for r in run.of_type(kind_type) if r.inputs["metadata"]["name"] == name]
    return found


def servers_of(run: ProgramRun, model: str) -> list[Registered]:
    """Every server of a served model: its Deployments (one, or a prefill and a decode one) or its
    LLMInferenceService (KServe mode)."""
    deployments = [
        r
        for r in run.of_type(DEPLOYMENT)
        if r.inputs["spec"]["template"]["metadata"]["labels"].get(NAME) == model
        and r.inputs["spec"]["template"]["metadata"]["labels"].get(COMPONENT) == MODEL_SERVER
    ]
    return deployments + [r for r in run.of_type(LLMISVC_TYPE) if r.inputs["metadata"]["name"] == model]


@pytest.mark.parametrize("name,run", every_run(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_model_server_downloads_from_the_hub_at_start_up(name, run):
    servers = model_servers(run)
    assert servers
    ids = hub_ids(run)
    assert ids  # every stack copies something: the embedding model at least
    for d in servers:
        pod = pod_spec(d)
        for c in containers(pod):
            text = json.dumps(c)
            assert "hf://" not in text and "--hf-repo" not in text and "--hf-file" not in text, d["metadata"]["name"]
            assert not ids & {str(a) for a in c.get("args", []) + c.get("command", [])}, d["metadata"]["name"]
            assert not {"HF_TOKEN", "HF_TOKEN_PATH"} & set(env_of(c)), d["metadata"]["name"]
        main = pod["containers"][0]
        if main["image"] == versions.VLLM_IMAGE:
            assert main["args"][0].startswith(("s3://", "gs://", "/models/")), main["args"][0]
        else:  # text-embeddings-inference and llama-server read local files only
            path = flag_value(main["args"], "--model-id") or flag_value(main["args"], "--model")
            assert path is not None and path.startswith(("/weights", "/models/")), path
        if main["image"] != versions.LLAMA_CPP_SERVER_IMAGE:
            assert env_of(main)["HF_HUB_OFFLINE"] == "1"  # any hub request fails instead of downloading
    # KServe mode: the LLMInferenceService's storage initializer reads the model store, never hf://
    for svc in objects_of(run, "LLMInferenceService"):
        assert svc["spec"]["model"]["uri"].startswith(("s3://", "gs://", "pvc://")), svc["spec"]["model"]["uri"]
        for c in svc["spec"]["template"]["containers"]:
            assert env_of(c)["HF_HUB_OFFLINE"] == "1" and "HF_TOKEN" not in env_of(c)
    # in the serving namespace the hub token (a file) reaches only the prefetch Jobs
    for w in objects_of(run, "Job"):
        if w["metadata"]["namespace"] == "serving" and any(
            {"HF_TOKEN", "HF_TOKEN_PATH"} & set(env_of(c)) for c in containers(pod_spec(w))
        ):
            assert w["metadata"]["name"].startswith("prefetch-"), w["metadata"]["name"]


@pytest.mark.parametrize("name,run", every_run(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_prefetch_job_precedes_the_server_that_loads_its_weights(name, run):
    jobs = [j for j in objects_of(run, "Job") if j["spec"]["template"]["metadata"]["labels"][NAME] == "prefetch"]
    assert jobs
    for job in jobs:
        model = job["metadata"]["labels"]["leanrag.dev/model"]
        job_resource = registered(run, JOB_TYPE, job["metadata"]["name"])
        servers = servers_of(run, model)
        assert servers, model
        for server in servers:
            assert job_resource.name in depends_on(run, server), (model, depends_on(run, server))
    # and every server whose weights a Job copies waits for one
    copied = {j["metadata"]["labels"]["leanrag.dev/model"] for j in jobs}
    for server in [*run.of_type(DEPLOYMENT), *run.of_type(LLMISVC_TYPE)]:
        labels = server.inputs["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        if server.type == DEPLOYMENT and labels.get(COMPONENT) != MODEL_SERVER:
            continue
        model = labels.get(NAME) or server.inputs["metadata"]["name"]
        waits = {n for n in depends_on(run, server) if "prefetch" in n}
        assert bool(waits) == (model in copied), model


def test_vllm_streams_the_prefetched_copy_from_the_bucket_through_the_workload_identity():
    for stack, scheme in (("dev", "s3"), ("prod", "gs")):
        run = run_stack(stack)
        job = container(obj(run, "Job", "prefetch-llama-3-1-8b"))
        output = flag_value(job["args"], "--output")
        assert output.startswith(f"{scheme}://leanrag-{stack}-models-") and "/models/llama-3-1-8b/" in output
        d = obj(run, "Deployment", "llama-3-1-8b")
        args = container(d)["args"]
        assert args[0] == output  # the server loads exactly what the Job wrote
        assert flag_value(args, "--load-format") == "runai_streamer"
        assert "--model-loader-extra-config" not in args  # one GPU: no distributed streaming
        assert pod_spec(d)["serviceAccountName"] == "model-store"
        assert job["args"][:2] == ["--model", "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"] or stack == "prod"


def test_tensor_parallel_ranks_stream_their_own_shards():
    vals, secrets = variants()["prod-tensor-parallel"]
    args = container(obj(run_variant(vals, secrets), "Deployment", "llama-3-1-8b"))["args"]
    assert flag_value(args, "--load-format") == "runai_streamer"
    assert json.loads(flag_value(args, "--model-loader-extra-config")) == {"distributed": True}


def test_kserve_reads_the_prefetched_copy_from_the_model_store_claim():
    vals, secrets = variants()["kserve-prefetched"]
    run = run_variant(vals, secrets)
    job = obj(run, "Job", "prefetch-qwen-2-5-7b")
    assert flag_value(container(job)["args"], "--output") == "/store/models/qwen-2-5-7b/bf16"
    svc = obj(run, "LLMInferenceService", "qwen-2-5-7b")
    assert svc["spec"]["model"]["uri"] == "pvc://model-store/models/qwen-2-5-7b/bf16"  # what the Job wrote
    assert svc["spec"]["template"]["containers"][0]["image"] == versions.VLLM_IMAGE
    shipped = obj(run_stack("kserve"), "LLMInferenceService", "qwen-2-5-7b")
    assert shipped["spec"]["model"]["uri"] == "pvc://model-store/Qwen/Qwen2.5-7B-Instruct"  # artifactUri as is


def test_prefill_and_decode_servers_stream_the_same_prefetched_copy():
    vals, secrets = variants()["eks-pd-prefetched"]
    run = run_variant(vals, secrets)
    output = flag_value(container(obj(run, "Job", "prefetch-llama-3-1-8b"))["args"], "--output")
    assert output.startswith("s3://leanrag-test-models-") and output.endswith("/models/llama-3-1-8b/bf16")
    for role in ("prefill", "decode"):
        d = obj(run, "Deployment", f"llama-3-1-8b-{role}")
        vllm = next(c for c in pod_spec(d)["containers"] if c["name"] == "vllm")
        assert vllm["args"][0] == output
        assert flag_value(vllm["args"], "--load-format") == "runai_streamer"
        assert json.loads(flag_value(vllm["args"], "--model-loader-extra-config")) == {"distributed": True}  # TP 2
        assert pod_spec(d)["serviceAccountName"] == "model-store" and env_of(vllm)["HF_HUB_OFFLINE"] == "1"
        annotations = d["spec"]["template"]["metadata"]["annotations"]
        assert annotations["leanrag.dev/weights"] == "meta-llama/Llama-3.1-8B-Instruct@main"


def test_quantized_artifacts_go_through_the_same_path():
    vals, secrets = variants()["dev-quantized"]
    run = run_variant(vals, secrets)
    assert not [j for j in objects_of(run, "Job") if j["metadata"]["name"] == "prefetch-llama-3-1-8b"]
    quantize = registered(run, JOB_TYPE, "leanrag-test-quantize-llama-3-1-8b")
    output = quantize.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    args = container(obj(run, "Deployment", "llama-3-1-8b"))["args"]
    assert args[0] == output[output.index("--output") + 1]  # the quantize Job's artifact, streamed like a copy
    assert args[0].startswith("s3://leanrag-test-models-") and args[0].endswith("/models/llama-3-1-8b/w4a16")
    assert flag_value(args, "--load-format") == "runai_streamer"


def test_the_prefetch_job_runs_the_pinned_image_with_its_cli_on_the_system_pool():
    run = run_stack("dev")
    job = obj(run, "Job", "prefetch-llama-3-1-8b")
    pod, c = pod_spec(job), container(job)
    assert c["image"] == versions.workload_image("prefetch") and ":latest" not in c["image"]
    assert c["args"][-3:] == ["--staging-dir", "/staging", "--overwrite"]
    assert "--revision" not in c["args"]  # unset: main
    assert pod["serviceAccountName"] == "model-store" and pod["nodeSelector"] == {"leanrag.dev/pool": "system"}
    assert env_of(c)["AWS_REGION"] == "us-east-1" and "HF_TOKEN" not in env_of(c)  # dev has no hfToken
    assert {"name": "staging", "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]
    assert pod["restartPolicy"] == "Never" and restricted_violations(pod) == []
    assert job["spec"]["backoffLimit"] == 3 and job["spec"]["activeDeadlineSeconds"] == 7200
    assert pod_spec(job)["securityContext"]["runAsUser"] == 10001  # the image's user
    assert job["spec"]["template"]["metadata"]["labels"] == {
        NAME: "prefetch",
        COMPONENT: JOB,
        "app.kubernetes.io/part-of": "leanrag",
    }
    gguf = container(obj(run, "Job", "prefetch-smollm2-cpu"))["args"]
    assert flag_value(gguf, "--model") == "bartowski/SmolLM2-135M-Instruct-GGUF"
    assert flag_value(gguf, "--include") == "SmolLM2-135M-Instruct-Q4_K_M.gguf"
    assert flag_value(gguf, "--output").endswith("/models/smollm2-cpu/gguf")
    vals, secrets = variants()["dev-cpu-reranker"]
    pinned = container(obj(run_variant(vals, secrets), "Job", "prefetch-ms-marco-minilm-l6"))["args"]
    assert flag_value(pinned, "--revision") == "0123abcd"
    assert validate(job) == []


def test_an_existing_cluster_prefetches_into_the_model_store_claim_that_servers_mount_read_only():
    run = run_stack("local")
    claim = obj(run, "PersistentVolumeClaim", "model-store")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"  # Pulumi.local.yaml
    assert claim["spec"]["storageClassName"] == "standard"
    job = obj(run, "Job", "prefetch-smollm2-cpu")
    assert {"name": "store", "persistentVolumeClaim": {"claimName": "model-store"}} in pod_spec(job)["volumes"]
    assert flag_value(container(job)["args"], "--output") == "/store/models/smollm2-cpu/gguf"
    assert "serviceAccountName" not in pod_spec(job)  # no bucket identity needed
    for server in ("smollm2-cpu", "all-minilm-l6-v2"):
        pod = pod_spec(obj(run, "Deployment", server))
        volume = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
        assert volume["persistentVolumeClaim"] == {"claimName": "model-store", "readOnly": True}
        assert all(m.get("readOnly") for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    deployment = registered(run, DEPLOYMENT, "smollm2-cpu")
    assert "leanrag-local-model-store" in depends_on(run, deployment)
    vals, secrets = variants()["existing-gpu"]
    gpu = run_variant(vals, secrets)
    assert container(obj(gpu, "Deployment", "qwen"))["args"][0] == "/models/model-store/models/qwen/bf16"
    assert flag_value(container(obj(gpu, "Job", "prefetch-qwen"))["args"], "--output") == "/store/models/qwen/bf16"


def test_a_claim_that_exists_already_is_not_created():
    vals = copy.deepcopy(stack_values("local"))
    vals["serving"]["prefetch"] = {"volumeGb": None, "volumeAccessMode": "ReadWriteMany"}
    run = run_variant(vals)
    assert objects_of(run, "PersistentVolumeClaim") == []
    assert obj(run, "Job", "prefetch-smollm2-cpu")  # still copies into it


def test_cpu_servers_in_the_clouds_sync_the_bucket_copy_before_they_start():
    run = run_stack("prod")
    pod = pod_spec(obj(run, "Deployment", "all-minilm-l6-v2"))
    [sync] = pod["initContainers"]
    assert sync["image"] == versions.GCLOUD_IMAGE
    assert sync["command"][:4] == ["gcloud", "storage", "rsync", "--recursive"]
    assert sync["command"][4] == flag_value(container(obj(run, "Job", "prefetch-all-minilm-l6-v2"))["args"], "--output")
    assert pod["serviceAccountName"] == "model-store" and restricted_violations(pod) == []
    assert flag_value(container(obj(run, "Deployment", "all-minilm-l6-v2"))["args"], "--model-id") == "/weights"


def test_a_new_id_or_revision_replaces_the_copy_and_rolls_the_servers():
    """The store path stays models/<name>/<precision>: the Job overwrites it, and the pod annotation naming the
    copied id and revision changes the servers' templates, so they roll once the Job is done."""
    run = run_stack("dev")
    assert container(obj(run, "Job", "prefetch-llama-3-1-8b"))["args"][-1] == "--overwrite"
    annotation = "leanrag.dev/weights"
    template = obj(run, "Deployment", "llama-3-1-8b")["spec"]["template"]
    assert template["metadata"]["annotations"][annotation] == "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16@main"
    gguf = obj(run, "Deployment", "smollm2-cpu")["spec"]["template"]["metadata"]["annotations"][annotation]
    assert gguf == "bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_K_M.gguf@main"
    vals = copy.deepcopy(stack_values("dev"))
    vals["serving"]["models"][0]["revision"] = "4f0c1d2"
    vals["serving"]["embedding"] = {"revision": "c9745ed"}
    pinned = run_variant(vals)
    args = container(obj(pinned, "Deployment", "llama-3-1-8b"))["args"]
    assert args[1:] == container(obj(run, "Deployment", "llama-3-1-8b"))["args"][1:]  # the same arguments
    new = obj(pinned, "Deployment", "llama-3-1-8b")["spec"]["template"]["metadata"]["annotations"][annotation]
    assert new.endswith("@4f0c1d2")
    embed = obj(pinned, "Deployment", "all-minilm-l6-v2")["spec"]["template"]["metadata"]["annotations"]
    assert embed[annotation] == "sentence-transformers/all-MiniLM-L6-v2@c9745ed"
    assert "leanrag.dev/weights" not in json.dumps(obj(pinned, "Job", "prefetch-llama-3-1-8b"))
