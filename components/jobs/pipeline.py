"""The three workload Jobs of a stack as pure `WorkloadJobArgs` builders, from typed config and the outputs of
the layers they follow. The Jobs components (components/jobs/layer.py) create them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import Placement
from components.data import MilvusOutputs
from components.jobs.workload_job import SecretFile, WorkloadJobArgs, secret_mounts
from stacks.config.jobs import BenchmarkJobConfig, IngestJobConfig, QuantizeJobConfig
from stacks.models import ServedModel
from stacks.uris import BucketUri

BUNDLED_CORPUS = "/app/corpus/docs"
CORPUS_DIR = "/work/corpus"
TOKENIZER_DIR = "/work/tokenizer"
HF_TOKEN_KEY = "token"
"""Key of the Hugging Face token in its Secret."""


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
) -> WorkloadJobArgs:
    """Quantize `model`'s Hub original to its precision on the model's own GPU pool, into the model store."""
    assert model.source.kind == "quantized", "only models with quantizeFrom are quantized"
    return WorkloadJobArgs(
        job="quantize",
        image=versions.workload_image("quantize"),
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
    collection: str,
    milvus: MilvusOutputs,
    after: Sequence[pulumi.Resource],
) -> WorkloadJobArgs:
    """Docling -> chunks -> embeddings -> the app's Milvus collection, after Milvus is ready. Idempotent: re-runs
    upsert."""
    source = config.source_uri
    return WorkloadJobArgs(
        job="ingest",
        image=versions.workload_image("ingest"),
        args=[
            "ingest",
            CORPUS_DIR if source else BUNDLED_CORPUS,
            "--prune",
            "--collection",
            collection,
            "--summary-json",
            "/work/summary.json",
        ],
        namespace=namespace,
        limits=config.limits,
        resources=config.resources,
        placement=placement,
        uses_model_store=bool(source),
        env={"INGEST_MILVUS_URI": milvus.uri},
        secret_files=[SecretFile("MILVUS_TOKEN_FILE", milvus.token_ref.name, milvus.token_ref.key)],
        init_containers=[_corpus_download(source)] if source else [],
        depends_on=after,
    )


def _tokenizer_download(model: ServedModel, hf_token_secret: str | None) -> dict[str, Any]:
    """GuideLLM counts tokens with the model's own tokenizer: fetch only its files from the Hub."""
    script = (
        "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], "
        "local_dir=sys.argv[2], allow_patterns=['tokenizer*', 'special_tokens_map.json', 'config.json'])"
    )
    token = _hf_token_file(hf_token_secret)
    env = kube.env_vars({"HOME": "/work"}) + [f.env() for f in token]
    return {
        "name": "download-tokenizer",
        "image": versions.workload_image("benchmark"),
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
    after: Sequence[pulumi.Resource],
) -> WorkloadJobArgs:
    """GuideLLM against the served model once it is ready; the report carries the node's price and the
    ratio to the memory-bandwidth roofline of its GPU."""
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
    return WorkloadJobArgs(
        job="benchmark",
        image=versions.workload_image("benchmark"),
        args=args,
        namespace=namespace,
        limits=config.limits,
        resources=config.resources,
        placement=placement,
        secret_files=[api_key_file],
        init_secret_files=_hf_token_file(hf_token_secret),
        init_containers=[_tokenizer_download(model, hf_token_secret)],
        depends_on=after,
    )
