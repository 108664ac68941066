"""The workload Jobs under mocks: specs, identity, placement, and the order they run in."""

import pytest

from tests.renderkit import run_stack, run_values, stack_values

JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.fixture(scope="module")
def quantized():
    """dev with its model quantized in the cluster from the BF16 original, and the benchmark on."""
    values = stack_values("dev")
    model = values["serving"]["models"][0]
    model.update(id="meta-llama/Llama-3.1-8B-Instruct", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct")
    model.pop("shape")
    values["jobs"] = {"benchmark": {"enabled": True, "scenario": "rag", "profile": "sweep"}}
    return run_values(values, "dev", secrets={"hfToken": "hf_secret_value_for_test"})


def jobs_by_name(run):
    return {j.inputs["metadata"]["name"]: j for j in run.of_type(JOB)}


def test_every_job_is_bounded_non_root_and_restricted(quantized):
    jobs = jobs_by_name(quantized)
    assert set(jobs) == {
        "leanrag-dev-quantize-llama-3-1-8b",
        "leanrag-dev-ingest",
        "leanrag-dev-benchmark-llama-3-1-8b",
        "prefetch-all-minilm-l6-v2",  # the serving layer's prefetch Jobs (components/serving/prefetch.py)
        "prefetch-smollm2-cpu",
    }
    for job in jobs.values():
        spec = job.inputs["spec"]
        assert spec["backoffLimit"] >= 0 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] >= 0
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            assert sc["readOnlyRootFilesystem"] is True
            assert ":latest" not in container["image"]


def test_quantize_runs_on_the_gpu_pool_with_the_bucket_identity(quantized):
    job = jobs_by_name(quantized)["leanrag-dev-quantize-llama-3-1-8b"].inputs
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = container["args"]
    assert args[args.index("--recipe") + 1] == "w4a16"
    assert args[args.index("--target-gpu") + 1] == "L4"
    assert args[args.index("--output") + 1].startswith("s3://leanrag-dev-models-") and args[
        args.index("--output") + 1
    ].endswith("/models/llama-3-1-8b/w4a16")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"leanrag.dev/pool": "gpu-l4"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["serviceAccountName"] == "model-store"
    hf = next(e for e in container["env"] if e["name"] == "HF_TOKEN")
    assert hf["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token"}


def test_the_model_server_waits_for_the_quantized_artifact_and_streams_it(quantized):
    quantize = jobs_by_name(quantized)["leanrag-dev-quantize-llama-3-1-8b"]
    server = next(d for d in quantized.of_type(DEPLOYMENT) if "llama-3-1-8b" in d.name)
    assert quantize.urn in server.dependencies
    args = server.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0].endswith("/models/llama-3-1-8b/w4a16") and args[0].startswith("s3://")
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert server.inputs["spec"]["template"]["spec"]["serviceAccountName"] == "model-store"


def test_ingest_runs_after_milvus_and_reaches_it_with_the_client_secret(quantized):
    ingest = jobs_by_name(quantized)["leanrag-dev-ingest"]
    milvus = quantized.one("kubernetes:helm.sh/v3:Release", "leanrag-dev-milvus")
    assert milvus.urn in ingest.dependencies
    pod = ingest.inputs["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][:2] == ["ingest", "/app/corpus/docs"]
    assert "serviceAccountName" not in pod  # the bundled corpus needs no bucket access
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["INGEST_MILVUS_URI"]["value"].startswith("http://milvus.")
    assert env["MILVUS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "milvus-credentials"
    assert ingest.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "ingest"
    assert pod["nodeSelector"] == {"leanrag.dev/pool": "system"} and not pod["tolerations"]


def test_ingest_from_a_bucket_downloads_with_the_workload_identity():
    values = stack_values("dev")
    values["jobs"] = {"ingest": {"sourceUri": "s3://my-docs/handbook"}}
    run = run_values(values, "dev", secrets={"hfToken": "hf_x"})
    pod = jobs_by_name(run)["leanrag-dev-ingest"].inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-store"
    (init,) = pod["initContainers"]
    assert init["command"][:3] == ["aws", "s3", "sync"] and "s3://my-docs/handbook" in init["command"]
    assert pod["containers"][0]["args"][1] == "/work/corpus"


def test_benchmark_runs_after_serving_with_price_and_roofline_inputs(quantized):
    bench = jobs_by_name(quantized)["leanrag-dev-benchmark-llama-3-1-8b"]
    server = next(d for d in quantized.of_type(DEPLOYMENT) if "llama-3-1-8b" in d.name)
    assert server.urn in bench.dependencies
    pod = bench.inputs["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[args.index("--scenario") + 1] == "rag" and args[args.index("--profile") + 1] == "sweep"
    assert args[args.index("--instance-type") + 1] == "g6.xlarge" and args[args.index("--cloud") + 1] == "aws"
    assert args[args.index("--model-params-b") + 1] == "8.03"
    assert args[args.index("--target") + 1].startswith("http://")
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "job-credentials", "key": "api-key"}
    assert pod["initContainers"][0]["name"] == "download-tokenizer"
    assert bench.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "benchmark"


def test_no_secret_reaches_a_job_in_plain_text(quantized):
    from infra.mocks import mock_secret

    text = str([j.inputs for j in quantized.of_type(JOB)])
    assert "hf_secret_value_for_test" not in text
    assert mock_secret("leanrag-dev-api-key") not in text


def test_jobs_are_off_when_disabled():
    values = stack_values("local")
    values["jobs"] = {"ingest": {"enabled": False}}
    assert workload_jobs(run_values(values, "local")) == []
    assert [j.inputs["metadata"]["name"] for j in workload_jobs(run_stack("local"))] == ["leanrag-local-ingest"]


def workload_jobs(run):
    """The jobs namespace's Jobs (the serving namespace has the prefetch Jobs)."""
    return [j for j in run.of_type(JOB) if j.inputs["metadata"]["namespace"] == "jobs"]
