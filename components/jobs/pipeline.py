"""The three workload Jobs of a stack as pure `WorkloadJobArgs` builders, from typed config and the outputs of
the layers they follow. The Jobs components (components/jobs/layer.py) create them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import Placement
from components.jobs.workload_job import SecretFile, WorkloadJobArgs, secret_mounts
from components.serving import RerankerEndpoint
from stacks.config.images import WorkloadImages
from stacks.config.jobs import BenchmarkJobConfig, IngestJobConfig, QuantizeJobConfig
from stacks.config.platform import RetrievalConfig
from stacks.models import ServedModel
from stacks.uris import BucketUri

BUNDLED_CORPUS = "/app/corpus/docs"
CORPUS_DIR = "/work/corpus"
TOKENIZER_DIR = "/work/tokenizer"
HF_TOKEN_KEY = "token"
"""Key of the Hugging Face token in its Secret."""
APP_API_KEY_FILE_ENV = "INGEST_APP_API_KEY_FILE"
"""The ingest Job reads the app's Bearer key from the file this variable names (workloads/ingest/app_client.py,
api_key_from): the key is a Secret mounted as a file, never an environment variable or a flag."""
RERANKER_API_KEY_FILE_ENV = "INGEST_RERANKER_API_KEY_FILE"  # pragma: allowlist secret (a variable name)
"""The reranker's Bearer key (the serving API key) as a mounted file, like the app's."""
BENCHMARK_GRACE_S = 90
"""The benchmark keeps finished load points on SIGTERM and uploads them: it needs 60 s or more."""


@dataclass(frozen=True)
class IngestTarget:
    """The RAG app the ingest Job writes into, through its API (resolved from the app layer by infra/)."""

    app_url: str
    """The app's base URL without /v1 (INGEST_APP_URL), e.g. http://rag-app.rag.svc.cluster.local:8321."""
    vector_store: str
    """The store's name (INGEST_VECTOR_STORE): created or found by name."""
    app_embedding_model: str
    """OGX's id of the app's embedding model, e.g. embeddings/all-minilm-l6-v2 (INGEST_APP_EMBEDDING_MODEL)."""
    embedding_model: str
    """The model the Job embeds with (INGEST_EMBEDDING_MODEL): platform.app.embeddingModel, the same as the
    app's served embedding model."""
    api_key: kube.SecretRef | None
    """The app's API key Secret in the jobs namespace; None when the app's auth is off."""
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    """platform.app.retrieval: how the app's query path ranks and budgets (the Job's search/evaluate/context)."""
    reranker: RerankerEndpoint | None = None
    """The served reranker platform.app.retrieval names (rerankerModel, else serving.reranker); None when rerank
    is off or none is served."""
    reranker_key: kube.SecretRef | None = None
    """The serving API key's copy in the jobs namespace (the reranker checks it); set with `reranker`."""


def retrieval_env(retrieval: RetrievalConfig, reranker: RerankerEndpoint | None) -> dict[str, str]:
    """platform.app.retrieval as the ingest workload reads it (workloads/ingest/cli.py, docs/retrieval.md):
    the reranker's URL, served name and request shape only when rerank is on and one is served."""
    rerank = retrieval.rerank and reranker is not None
    env = {
        "INGEST_SEARCH_HYBRID": retrieval.hybrid,
        "INGEST_RERANK": "on" if rerank else "off",
        "INGEST_RETRIEVAL_CANDIDATES": str(retrieval.candidates),
        "INGEST_RERANK_TOP_N": str(retrieval.rerank_top_n),
        "INGEST_CONTEXT_TOKENS": str(retrieval.context_tokens),
    }
    if rerank and reranker is not None:
        env |= {
            "INGEST_RERANKER_URL": reranker.rerank_url,
            "INGEST_RERANKER_MODEL": reranker.model,
            "INGEST_RERANKER_API": reranker.api,
        }
    return env


def benchmark_upload_uri(model_store_uri: pulumi.Input[str], label: str) -> pulumi.Output[str]:
    """Where the benchmark Job uploads its runs: <bucket>/benchmarks/<label> (latest.json names the newest)."""
    return pulumi.Output.concat(model_store_uri, "/benchmarks/", label)


def artifact_uri(model_store_uri: pulumi.Input[str], model: ServedModel) -> pulumi.Output[str]:
    """Where the quantize job writes `model` and the model server reads it (manifest.json marks it done)."""
    return pulumi.Output.concat(model_store_uri, "/models/", model.name, "/", model.config.precision)


def _hf_token_file(hf_token_secret: str | None) -> list[SecretFile]:
    """The Hugging Face token as a file: huggingface_hub reads the file HF_TOKEN_PATH names."""
    return [SecretFile("HF_TOKEN_PATH", hf_token_secret, HF_TOKEN_KEY)] if hf_token_secret is not None else []


def quantize_args(
    model: ServedModel,
    config: QuantizeJobConfig,
    *,
    namespace: str,
    placement: Placement,
    model_store_uri: pulumi.Input[str],
    hf_token_secret: str | None,
    images: WorkloadImages,
) -> WorkloadJobArgs:
    """Quantize `model`'s Hub original to its precision on the model's own GPU pool, into the model store."""
    assert model.source.kind == "quantized", "only models with quantizeFrom are quantized"
    return WorkloadJobArgs(
        job="quantize",
        image=images.image("quantize"),
        args=[
            "--model",
            model.source.hub_id,
            "--recipe",
            model.config.precision,
            "--output",
            artifact_uri(model_store_uri, model),
            "--target-gpu",
            placement.gpu or "",
            "--num-calibration-samples",
            str(config.num_calibration_samples),
        ],
        namespace=namespace,
        limits=config.limits,
        resources=config.resources,
        placement=placement,
        gpus=1,
        uses_model_store=True,
        secret_files=_hf_token_file(hf_token_secret),
    )


def _corpus_download(source_uri: str) -> dict[str, Any]:
    """An init container that copies the documents from the bucket (workload identity, no keys)."""
    if BucketUri(source_uri).scheme == "s3":
        image, command = versions.AWS_CLI_IMAGE, ["aws", "s3", "sync", source_uri, CORPUS_DIR]
    else:
        image, command = versions.GCLOUD_IMAGE, ["gcloud", "storage", "rsync", "-r", source_uri, CORPUS_DIR]
    return {
        "name": "download-corpus",
        "image": image,
        "command": command,
        "env": kube.env_vars({"HOME": "/work"}),
        "securityContext": kube.restricted_container_security(),
        "volumeMounts": [{"name": "work", "mountPath": "/work"}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def ingest_args(
    config: IngestJobConfig,
    *,
    namespace: str,
    placement: Placement,
    target: IngestTarget,
    images: WorkloadImages,
    after: Sequence[pulumi.Resource],
) -> WorkloadJobArgs:
    """Docling -> chunks -> embeddings -> the app's vector store through the app's API
    (workloads/ingest/README.md), after the app is ready. Idempotent: deterministic chunk ids; it prunes what
    left the source, behind the prune guard (jobs.ingest.maxPruneFraction)."""
    source = config.source_uri
    env: dict[str, pulumi.Input[str]] = {
        "INGEST_APP_URL": target.app_url,
        "INGEST_VECTOR_STORE": target.vector_store,
        "INGEST_APP_EMBEDDING_MODEL": target.app_embedding_model,
        "INGEST_EMBEDDING_MODEL": target.embedding_model,
        "INGEST_MAX_PRUNE_FRACTION": f"{config.max_prune_fraction:g}",
        **retrieval_env(target.retrieval, target.reranker),
    }
    key = target.api_key
    key_file = [SecretFile(APP_API_KEY_FILE_ENV, key.name, key.key)] if key is not None else []
    if "INGEST_RERANKER_URL" in env and target.reranker_key is not None:
        rk = target.reranker_key
        key_file.append(SecretFile(RERANKER_API_KEY_FILE_ENV, rk.name, rk.key))
    return WorkloadJobArgs(
        job="ingest",
        image=images.image("ingest"),
        args=["ingest", CORPUS_DIR if source else BUNDLED_CORPUS, "--prune", "--summary-json", "/work/summary.json"],
        namespace=namespace,
        limits=config.limits,
        resources=config.resources,
        placement=placement,
        uses_model_store=bool(source),
        env=env,
        secret_files=key_file,
        init_containers=[_corpus_download(source)] if source else [],
        depends_on=after,
    )


def _tokenizer_download(model: ServedModel, hf_token_secret: str | None, image: str) -> dict[str, Any]:
    """GuideLLM counts tokens with the model's own tokenizer: fetch only its files from the Hub."""
    script = (
        "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], "
        "local_dir=sys.argv[2], allow_patterns=['tokenizer*', 'special_tokens_map.json', 'config.json'])"
    )
    token = _hf_token_file(hf_token_secret)
    env = kube.env_vars({"HOME": "/work"}) + [f.env() for f in token]
    return {
        "name": "download-tokenizer",
        "image": image,
        "command": ["python", "-c", script, model.source.hub_id, TOKENIZER_DIR],
        "env": env,
        "securityContext": kube.restricted_container_security(),
        "volumeMounts": [
            {"name": "work", "mountPath": "/work"},
            {"name": "tmp", "mountPath": "/tmp"},
            *secret_mounts(token),
        ],
    }


def benchmark_args(
    model: ServedModel,
    config: BenchmarkJobConfig,
    *,
    namespace: str,
    placement: Placement,
    target_url: pulumi.Input[str],
    label: str,
    api_key: kube.SecretRef,
    hf_token_secret: str | None,
    images: WorkloadImages,
    upload_uri: pulumi.Input[str] | None,
    region: str,
    after: Sequence[pulumi.Resource],
) -> WorkloadJobArgs:
    """GuideLLM against the served model once it is ready; the report carries the node's price and the
    ratio to the memory-bandwidth roofline of its GPU. With `upload_uri` (the stack's bucket) the run folder is
    uploaded after every finished load point, as the model-store ServiceAccount, so it outlives the pod."""
    m = model.config
    api_key_file = SecretFile("OPENAI_API_KEY_FILE", api_key.name, api_key.key)
    args: list[pulumi.Input[str]] = [
        "run",
        "--target",
        target_url,
        "--model",
        m.name,
        "--output-dir",
        "/work/report",
        "--scenario",
        config.scenario,
        "--profile",
        config.profile,
        "--max-seconds",
        str(config.max_seconds),
        "--tokenizer",
        TOKENIZER_DIR,
        "--precision",
        m.precision,
        "--tensor-parallel",
        str(m.tensor_parallel),
        "--label",
        label,
        "--api-key-file",
        api_key_file.path,
    ]
    if model.shape is not None:
        args += ["--model-params-b", str(model.shape.params_b)]
    if model.instance is not None:
        args += ["--cloud", model.instance.cloud, "--instance-type", model.instance.name]
    env: dict[str, pulumi.Input[str]] = {}
    if upload_uri is not None:
        args += ["--upload-uri", upload_uri]
        if region:  # boto3 signs S3 requests for the bucket's region (GCS needs none)
            env["AWS_REGION"] = region
    image = images.image("benchmark")
    return WorkloadJobArgs(
        job="benchmark",
        image=image,
        args=args,
        namespace=namespace,
        limits=config.limits,
        resources=config.resources,
        placement=placement,
        env=env,
        secret_files=[api_key_file],
        init_secret_files=_hf_token_file(hf_token_secret),
        uses_model_store=upload_uri is not None,
        init_containers=[_tokenizer_download(model, hf_token_secret, image)],
        termination_grace_s=BENCHMARK_GRACE_S,
        depends_on=after,
    )
