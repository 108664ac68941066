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


def secret_file(pod, container, var):
    """(Secret name, key) of the Secret file whose path the container's `var` holds; asserts the container mounts
    that file alone, read-only, and that no Secret reaches the pod as an environment variable."""
    env = {e["name"]: e for e in container["env"]}
    path = env[var]["value"]
    assert all("valueFrom" not in e for c in pod["containers"] + pod["initContainers"] for e in c.get("env", []))
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == path)
    assert mount["readOnly"] is True and mount["subPath"] == path.rsplit("/", 1)[1]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["projected"]["defaultMode"] == 0o440
    (source,) = [
        s["secret"] for s in volume["projected"]["sources"] if s["secret"]["items"][0]["path"] == mount["subPath"]
    ]
    return source["name"], source["items"][0]["key"]


def test_every_job_is_bounded_non_root_and_restricted(quantized):
    jobs = jobs_by_name(quantized)
    assert set(jobs) == {
        "leanrag-dev-quantize-llama-3-1-8b",
        "leanrag-dev-ingest",
        "leanrag-dev-benchmark-llama-3-1-8b",
    }
    for job in jobs.values():
        spec = job.inputs["spec"]
        assert spec["backoffLimit"] >= 0 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] >= 0
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"] + pod["initContainers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            assert sc["readOnlyRootFilesystem"] is True
            assert ":latest" not in container["image"]
            assert container["imagePullPolicy"] == "Always"
            limits = container["resources"]["limits"]
            assert limits["cpu"] and limits["memory"], container["name"]  # init containers too


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
    # the token is a file of the pod (huggingface_hub reads the file HF_TOKEN_PATH names), not an env var
    assert secret_file(pod, container, "HF_TOKEN_PATH") == ("hf-token", "token")


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
    assert secret_file(pod, pod["containers"][0], "MILVUS_TOKEN_FILE") == ("milvus-credentials", "token")
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
    assert secret_file(pod, pod["containers"][0], "OPENAI_API_KEY_FILE") == ("job-credentials", "api-key")
    assert args[args.index("--api-key-file") + 1] == "/var/run/secrets/leanrag/openai-api-key-file"
    (init,) = pod["initContainers"]
    assert init["name"] == "download-tokenizer"
    assert secret_file(pod, init, "HF_TOKEN_PATH") == ("hf-token", "token")
    assert "HF_TOKEN_PATH" not in {e["name"] for e in pod["containers"][0]["env"]}  # the tokenizer's alone
    assert bench.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "benchmark"


def test_no_secret_reaches_a_job_in_plain_text(quantized):
    from infra.mocks import mock_secret

    text = str([j.inputs for j in quantized.of_type(JOB)])
    assert "hf_secret_value_for_test" not in text
    assert mock_secret("leanrag-dev-api-key") not in text


def test_jobs_are_off_when_disabled():
    values = stack_values("local")
    values["jobs"] = {"ingest": {"enabled": False}}
    assert run_values(values, "local").of_type(JOB) == []
    assert [j.inputs["metadata"]["name"] for j in run_stack("local").of_type(JOB)] == ["leanrag-local-ingest"]
