"""The three workload Jobs of a stack, built from typed config and the outputs of the layers they follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components import versions
from components.cluster.base import ClusterOutputs, Placement
from components.data import kube
from components.jobs.workload_job import SecretEnv, WorkloadJob, WorkloadJobArgs
from stacks.config import StackConfig
from stacks.config.serving import ModelConfig
from stacks.preflight import model_shape

BUNDLED_CORPUS = "/app/corpus/docs"
CORPUS_DIR = "/work/corpus"
TOKENIZER_DIR = "/work/tokenizer"


def artifact_uri(model_store_uri: pulumi.Input[str], model: ModelConfig) -> pulumi.Output[str]:
    """Where the quantize job writes `model` and the model server reads it (manifest.json marks it done)."""
    return pulumi.Output.concat(model_store_uri, "/models/", model.name, "/", model.precision)


def quantize_job(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    model: ModelConfig,
    hf_token_secret: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> WorkloadJob:
    """Quantize `model.quantize_from` to `model.precision` on the model's own GPU pool."""
    assert model.quantize_from, "only models with quantizeFrom are quantized"
    placement: Placement = cluster.gpu_pools[model.pool]
    quantize = cfg.jobs.quantize
    return WorkloadJob(
        f"{name}-quantize-{model.name}",
        WorkloadJobArgs(
            job="quantize",
            image=versions.workload_image("quantize"),
            args=[
                "--model",
                model.quantize_from,
                "--recipe",
                model.precision,
                "--output",
                artifact_uri(cluster.model_store_uri, model),
                "--target-gpu",
                placement.gpu or "",
                "--num-calibration-samples",
                str(quantize.num_calibration_samples),
            ],
            namespace=cfg.jobs.namespace,
            limits=quantize.limits,
            resources=quantize.resources,
            placement=placement,
            gpus=1,
            uses_model_store=True,
            secret_env=[SecretEnv("HF_TOKEN", hf_token_secret, "token")] if hf_token_secret is not None else [],
        ),
        opts=opts,
    )


def _corpus_download(source_uri: str) -> dict[str, object]:
    """An init container that copies the documents from the bucket (workload identity, no keys)."""
    if source_uri.startswith("s3://"):
        image, command = versions.AWS_CLI_IMAGE, ["aws", "s3", "sync", source_uri, CORPUS_DIR]
    else:
        image, command = versions.GCLOUD_IMAGE, ["gcloud", "storage", "rsync", "-r", source_uri, CORPUS_DIR]
    return {
        "name": "download-corpus",
        "image": image,
        "command": command,
        "env": [{"name": "HOME", "value": "/work"}],
        "securityContext": kube.restricted_container_security(),
        "volumeMounts": [{"name": "work", "mountPath": "/work"}, {"name": "tmp", "mountPath": "/tmp"}],
    }


@dataclass(frozen=True)
class MilvusAccess:
    uri: pulumi.Input[str]
    token_secret: pulumi.Input[str]
    token_key: str


def ingest_job(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    milvus: MilvusAccess,
    after: Sequence[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> WorkloadJob:
    """Docling -> chunks -> embeddings -> Milvus, after Milvus is ready. Idempotent: re-runs upsert."""
    ingest = cfg.jobs.ingest
    source = ingest.source_uri
    return WorkloadJob(
        f"{name}-ingest",
        WorkloadJobArgs(
            job="ingest",
            image=versions.workload_image("ingest"),
            args=[
                "ingest",
                CORPUS_DIR if source else BUNDLED_CORPUS,
                "--prune",
                "--collection",
                cfg.platform.app.vector_store,
                "--summary-json",
                "/work/summary.json",
            ],
            namespace=cfg.jobs.namespace,
            limits=ingest.limits,
            resources=ingest.resources,
            placement=cluster.system,
            uses_model_store=bool(source),
            env={"INGEST_MILVUS_URI": milvus.uri},
            secret_env=[SecretEnv("MILVUS_TOKEN", milvus.token_secret, milvus.token_key)],
            init_containers=[_corpus_download(source)] if source else [],
            depends_on=after,
        ),
        opts=opts,
    )


def _tokenizer_download(model: ModelConfig, hf_token_secret: pulumi.Input[str] | None) -> dict[str, object]:
    """GuideLLM counts tokens with the model's own tokenizer: fetch only its files from the Hub."""
    script = (
        "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], "
        "local_dir=sys.argv[2], allow_patterns=['tokenizer*', 'special_tokens_map.json', 'config.json'])"
    )
    env: list[dict[str, object]] = [{"name": "HOME", "value": "/work"}]
    if hf_token_secret is not None:
        env.append(kube.secret_env("HF_TOKEN", hf_token_secret, "token"))
    return {
        "name": "download-tokenizer",
        "image": versions.workload_image("benchmark"),
        "command": ["python", "-c", script, model.quantize_from or model.id, TOKENIZER_DIR],
        "env": env,
        "securityContext": kube.restricted_container_security(),
        "volumeMounts": [{"name": "work", "mountPath": "/work"}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def benchmark_job(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    target_url: pulumi.Input[str],
    model: ModelConfig,
    api_key_secret: pulumi.Input[str],
    api_key_key: str,
    hf_token_secret: pulumi.Input[str] | None,
    after: Sequence[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> WorkloadJob:
    """GuideLLM against the served model once it is ready; the report carries the node's price and the
    ratio to the memory-bandwidth roofline of its GPU."""
    bench = cfg.jobs.benchmark
    args: list[pulumi.Input[str]] = [
        "run",
        "--target",
        target_url,
        "--model",
        model.name,
        "--output-dir",
        "/work/report",
        "--scenario",
        bench.scenario,
        "--profile",
        bench.profile,
        "--max-seconds",
        str(bench.max_seconds),
        "--tokenizer",
        TOKENIZER_DIR,
        "--precision",
        model.precision,
        "--tensor-parallel",
        str(model.tensor_parallel),
        "--label",
        f"{model.name}-{cfg.serving.mode}",
    ]
    shape = model_shape(model)
    if shape is not None:
        args += ["--model-params-b", str(shape.params_b)]
    pool = cfg.pool(model.pool)
    if cfg.cloud != "existing" and pool is not None:
        args += ["--cloud", cfg.cloud, "--instance-type", pool.instance_type]
    return WorkloadJob(
        f"{name}-benchmark-{model.name}",
        WorkloadJobArgs(
            job="benchmark",
            image=versions.workload_image("benchmark"),
            args=args,
            namespace=cfg.jobs.namespace,
            limits=bench.limits,
            resources=bench.resources,
            placement=cluster.system,
            secret_env=[SecretEnv("OPENAI_API_KEY", api_key_secret, api_key_key)],
            init_containers=[_tokenizer_download(model, hf_token_secret)],
            depends_on=after,
        ),
        opts=opts,
    )
