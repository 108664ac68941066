"""The workload Jobs under mocks: specs, identity, placement, and the order they run in."""

import pytest
import yaml

from components.cluster.base import cpu_placement
from components.jobs.pipeline import benchmark_args
from components.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS, SecretRef
from stacks.load import parse
from stacks.models import served_models
from tests import renderkit as rk
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
        "prefetch-all-minilm-l6-v2",  # the serving layer's prefetch Jobs (components/serving/prefetch.py)
        "prefetch-smollm2-cpu",
        "prefetch-llama-guard-3-1b-cpu",  # Llama Guard on CPU: its GGUF from the model store too
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


def test_ingest_runs_after_the_app_and_writes_through_its_api(quantized):
    ingest = jobs_by_name(quantized)["leanrag-dev-ingest"]
    app = quantized.one("kubernetes:apps/v1:Deployment", "leanrag-dev-rag-app")
    assert app.urn in ingest.dependencies  # pulumi-kubernetes waits until the app's Deployment is ready
    pod = ingest.inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["ingest", "/app/corpus/docs", "--prune", "--summary-json", "/work/summary.json"]
    assert "serviceAccountName" not in pod  # the bundled corpus needs no bucket access
    env = rk.env_of(container)
    assert env["INGEST_APP_URL"] == "http://rag-app.rag.svc.cluster.local:8321"
    assert env["INGEST_MAX_PRUNE_FRACTION"] == "0.5"
    assert not [n for n in env if "MILVUS" in n]  # no Milvus settings any more
    assert "INGEST_APP_API_KEY" not in env and "INGEST_APP_API_KEY_FILE" not in env  # dev: the app's auth is off
    assert ingest.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "ingest"
    assert pod["nodeSelector"] == {"leanrag.dev/pool": "system"} and not pod["tolerations"]


@pytest.mark.parametrize("stack", rk.STACKS)
def test_ingest_and_the_app_name_the_same_store_and_the_same_embedding_model(stack):
    run = run_stack(stack)
    env = rk.env_of(rk.container(rk.find(run, "Job", f"leanrag-{stack}-ingest", "jobs")))
    app = yaml.safe_load(rk.find(run, "ConfigMap", "rag-app-config", "rag")["data"]["run.yaml"])
    default = app["vector_stores"]["default_embedding_model"]
    assert env["INGEST_VECTOR_STORE"] == run.outputs["vectorStoreName"] == "docs"
    # the id the app knows its embedding model by, and what the store is created with
    assert env["INGEST_APP_EMBEDDING_MODEL"] == f"{default['provider_id']}/{default['model_id']}"
    assert env["INGEST_APP_EMBEDDING_MODEL"] == run.outputs["ragAppEmbeddingModel"]
    # the Job embeds with platform.app.embeddingModel, the model (and dimension) the app embeds queries with
    embedding = next(m for m in app["registered_resources"]["models"] if m["model_type"] == "embedding")
    assert env["INGEST_EMBEDDING_MODEL"] == stack_values(stack).get("platform", {}).get("app", {}).get(
        "embeddingModel", "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert embedding["metadata"]["embedding_dimension"] == default["embedding_dimensions"] == 384
    served = {m["model_id"] for m in app["registered_resources"]["models"]}
    assert default["model_id"] in served
    # ... and that model is the stack's served embedding model (ServingOutputs.embedding), through the gateway
    out = run.outputs["embedding"]
    assert (out["model"], out["hubId"], out["dimension"]) == (
        "all-minilm-l6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
    )
    assert env["INGEST_APP_EMBEDDING_MODEL"] == f"embeddings/{out['model']}"
    assert env["INGEST_EMBEDDING_MODEL"] == out["hubId"]
    assert embedding["provider_model_id"] == default["model_id"] == out["model"]
    assert embedding["metadata"]["embedding_dimension"] == out["dimension"]
    [provider] = [p for p in app["providers"]["inference"] if p["provider_id"] == default["provider_id"]]
    assert provider["config"]["base_url"] == run.outputs["gatewayBaseUrl"]  # the app reaches it via the gateway
    gateway = yaml.safe_load(rk.find(run, "ConfigMap", "gateway-config", "rag")["data"]["config.yaml"])
    [route] = [m for m in gateway["model_list"] if m["model_name"] == out["model"]]
    assert route["litellm_params"]["api_base"] == out["baseUrl"].rstrip("/")
    assert route["model_info"] == {"mode": "embedding"}


def test_ingest_reaches_the_app_and_not_milvus_under_the_network_policies():
    policies = rk.of_kind(run_stack("dev"), "NetworkPolicy")
    ingest, app = ("jobs", INGEST_JOB_POD_LABELS), ("rag", APP_POD_LABELS)
    assert rk.admits(policies, ingest, app, 8321)
    milvus = (
        "milvus",
        {"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": "milvus", "component": "standalone"},
    )
    assert not rk.admits(policies, ingest, milvus, 19530)


@pytest.mark.parametrize("stack", rk.STACKS)
def test_the_gateway_reaches_the_served_embedding_model_and_the_ingest_job_only_the_app(stack):
    """The app embeds queries (and the documents the ingest Job sends it) with the served model through the
    gateway; the ingest Job itself calls only the app."""
    run = run_stack(stack)
    policies = rk.of_kind(run, "NetworkPolicy")
    server = rk.find(run, "Deployment", run.outputs["embedding"]["model"], "serving")
    pods = ("serving", server["spec"]["template"]["metadata"]["labels"])
    port = rk.container(server)["ports"][0]["containerPort"]
    assert rk.admits(policies, ("rag", GATEWAY_POD_LABELS), pods, port)
    assert not rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), pods, port)


def test_with_app_auth_the_ingest_job_gets_a_copy_of_the_apps_key():
    run = run_stack("prod")
    container = rk.container(rk.find(run, "Job", "leanrag-prod-ingest", "jobs"))
    env = rk.env_of(container)
    # a file the workload reads (INGEST_APP_API_KEY_FILE), never an environment variable
    path = "/var/run/secrets/leanrag/ingest-app-api-key-file"
    assert env["INGEST_APP_API_KEY_FILE"] == path and "INGEST_APP_API_KEY" not in env
    assert not any("valueFrom" in e for e in container["env"])
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    job = rk.find(run, "Job", "leanrag-prod-ingest", "jobs")
    [volume] = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    [source] = volume["projected"]["sources"]
    assert source["secret"] == {"name": "ingest-app-api-key", "items": [{"key": "api-key", "path": mount["subPath"]}]}
    assert rk.secret_data(run, "ingest-app-api-key", "jobs") == {
        "api-key": rk.secret_data(run, "rag-app-api-key", "rag")["api-key"]
    }
    assert all("api-key" not in str(a).lower() for a in container["args"])  # never on a command line


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


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_benchmark_uploads_its_report_to_the_stacks_bucket_and_names_it_in_the_outputs(stack):
    run = run_stack(stack)
    job = rk.find(run, "Job", f"leanrag-{stack}-benchmark-llama-3-1-8b", "jobs")
    pod = rk.pod_spec(job)
    args = pod["containers"][0]["args"]
    uri = args[args.index("--upload-uri") + 1]
    bucket = run.outputs["modelStoreUri"]
    mode = "vllm" if stack == "dev" else "llm-d"
    assert bucket.startswith("s3://" if stack == "dev" else "gs://")
    assert uri == f"{bucket}/benchmarks/llama-3-1-8b-{mode}"
    assert run.outputs["benchmarkReports"] == {"llama-3-1-8b": f"{uri}/latest.json"}
    assert pod["serviceAccountName"] == "model-store"  # the bucket identity (Pod Identity / Workload Identity)
    assert pod["terminationGracePeriodSeconds"] >= 60  # the final upload after SIGTERM
    env = rk.env_of(pod["containers"][0])
    assert (env.get("AWS_REGION") == "us-east-1") if stack == "dev" else ("AWS_REGION" not in env)


def test_without_a_bucket_the_benchmark_keeps_its_report_in_the_pod():
    cfg = parse(stack_values("dev"), frozenset({"hfToken"}))
    model = next(m for m in served_models(cfg) if m.config.role == "chat")
    bench = benchmark_args(
        model,
        cfg.jobs.benchmark,
        namespace="jobs",
        placement=cpu_placement("system"),
        target_url="http://chat:8000/v1",
        label="chat-vllm",
        api_key=SecretRef("job-credentials", "api-key"),
        hf_token_secret=None,
        images=cfg.workload_images,
        upload_uri=None,
        region="",
        after=[],
    )
    assert "--upload-uri" not in bench.args and not bench.uses_model_store and "AWS_REGION" not in bench.env


def test_every_image_built_here_comes_from_the_configured_registry_and_tag(quantized):
    values = stack_values("dev")
    model = values["serving"]["models"][0]
    model.update(id="meta-llama/Llama-3.1-8B-Instruct", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct")
    model.pop("shape")
    values["workloadImages"] = {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team", "tag": "2026.12.1"}
    run = run_values(values, "dev", secrets={"hfToken": "hf_x"})
    built_here = {}
    for m in rk.manifests(run):
        if m["kind"] in ("Job", "Deployment"):
            for c in rk.containers(rk.pod_spec(m)):
                if c["image"].startswith("123456789012."):
                    built_here[c["image"].split("/")[-1]] = c["name"]
    assert set(built_here) == {"quantize:2026.12.1", "ingest:2026.12.1", "benchmark:2026.12.1", "moderation:2026.12.1"}
    defaults = {
        c["image"] for m in rk.manifests(quantized) if m["kind"] == "Job" for c in rk.containers(rk.pod_spec(m))
    }
    assert "ghcr.io/leanrag/ingest:0.1.0" in defaults


def test_jobs_are_off_when_disabled():
    values = stack_values("local")
    values["jobs"] = {"ingest": {"enabled": False}}
    assert workload_jobs(run_values(values, "local")) == []
    assert [j.inputs["metadata"]["name"] for j in workload_jobs(run_stack("local"))] == ["leanrag-local-ingest"]


def workload_jobs(run):
    """The jobs namespace's Jobs (the serving namespace has the prefetch Jobs)."""
    return [j for j in run.of_type(JOB) if j.inputs["metadata"]["namespace"] == "jobs"]


# --------------------------------------------------------------------- platform.app.retrieval in the ingest Job

RETRIEVAL_ENV = {
    "INGEST_SEARCH_HYBRID",
    "INGEST_RERANK",
    "INGEST_RETRIEVAL_CANDIDATES",
    "INGEST_RERANK_TOP_N",
    "INGEST_CONTEXT_TOKENS",
}
"""What workloads/ingest/cli.py reads (tests/workloads/ingest/test_query_context.py checks the same names)."""
RERANKER_ENV = {"INGEST_RERANKER_URL", "INGEST_RERANKER_MODEL", "INGEST_RERANKER_API", "INGEST_RERANKER_API_KEY_FILE"}


def ingest_job(run, stack):
    job = rk.find(run, "Job", f"leanrag-{stack}-ingest", "jobs")
    return job, rk.pod_spec(job), rk.container(job)


@pytest.mark.parametrize("stack", rk.STACKS)
def test_the_ingest_job_ranks_with_the_stacks_retrieval_settings_and_without_a_reranker_rerank_is_off(stack):
    """No stack file serves a reranker: the Job's search/evaluate/context rank as platform.app.retrieval says, one
    stage (rerank off), with no reranker address or key."""
    run = run_stack(stack)
    _, _, container = ingest_job(run, stack)
    env = rk.env_of(container)
    retrieval = parse(stack_values(stack), frozenset({"hfToken"})).platform.app.retrieval
    assert {k: env[k] for k in RETRIEVAL_ENV} == {
        "INGEST_SEARCH_HYBRID": retrieval.hybrid,
        "INGEST_RERANK": "off",
        "INGEST_RETRIEVAL_CANDIDATES": str(retrieval.candidates),
        "INGEST_RERANK_TOP_N": str(retrieval.rerank_top_n),
        "INGEST_CONTEXT_TOKENS": str(retrieval.context_tokens),
    }
    assert run.outputs["reranker"] is None and not RERANKER_ENV & set(env)


def test_the_ingest_job_renders_a_changed_retrieval_config():
    values = stack_values("local")
    values.setdefault("platform", {})["app"] = {
        "retrieval": {"hybrid": "ogx", "candidates": 30, "rerankTopN": 12, "contextTokens": 1024}
    }
    env = rk.env_of(ingest_job(run_values(values, "local"), "local")[2])
    assert (env["INGEST_SEARCH_HYBRID"], env["INGEST_RETRIEVAL_CANDIDATES"]) == ("ogx", "30")
    assert (env["INGEST_RERANK_TOP_N"], env["INGEST_CONTEXT_TOKENS"], env["INGEST_RERANK"]) == ("12", "1024", "off")


@pytest.mark.parametrize("reranker_model", [None, "ms-marco-minilm-l6"])
def test_with_rerank_on_the_ingest_job_calls_the_served_reranker_with_the_serving_key(reranker_model):
    values = stack_values("dev")
    values["serving"]["reranker"] = {"enabled": True}
    retrieval = {"rerank": True, "rerankTopN": 8} | ({"rerankerModel": reranker_model} if reranker_model else {})
    values.setdefault("platform", {}).setdefault("app", {})["retrieval"] = retrieval
    run = run_values(values, "dev", secrets={"hfToken": "hf_x"})
    _, pod, container = ingest_job(run, "dev")
    env = rk.env_of(container)
    out = run.outputs["reranker"]
    assert env["INGEST_RERANK"] == "on" and env["INGEST_RERANK_TOP_N"] == "8"
    assert (
        (env["INGEST_RERANKER_URL"], env["INGEST_RERANKER_MODEL"], env["INGEST_RERANKER_API"])
        == (
            out["rerankUrl"],
            out["model"],
            out["api"],
        )
        == ("http://ms-marco-minilm-l6.serving.svc.cluster.local:8080/rerank", "ms-marco-minilm-l6", "tei")
    )
    # the reranker checks the serving API key: a copy in the jobs namespace, mounted as a file
    assert secret_file(pod, container, "INGEST_RERANKER_API_KEY_FILE") == ("job-credentials", "api-key")
    assert rk.secret_data(run, "job-credentials", "jobs") == {
        "api-key": rk.secret_data(run, "serving-api-key", "serving")["api-key"]
    }
    # ... and the reranker's pods admit the ingest Job (the embedding server still does not)
    policies = rk.of_kind(run, "NetworkPolicy")
    reranker = rk.find(run, "Deployment", "ms-marco-minilm-l6", "serving")
    labels = reranker["spec"]["template"]["metadata"]["labels"]
    assert rk.admits(policies, ("jobs", INGEST_JOB_POD_LABELS), ("serving", labels), 8080)


def test_a_served_reranker_with_rerank_off_is_not_called():
    values = stack_values("dev")
    values["serving"]["reranker"] = {"enabled": True}
    run = run_values(values, "dev", secrets={"hfToken": "hf_x"})
    env = rk.env_of(ingest_job(run, "dev")[2])
    assert run.outputs["reranker"] is not None
    assert env["INGEST_RERANK"] == "off" and not RERANKER_ENV & set(env)
