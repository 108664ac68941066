"""Wire the workload Jobs into a stack: quantize before serving, ingest after Milvus, benchmark after serving."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.base import ClusterOutputs
from components.jobs.pipeline import MilvusAccess, artifact_uri, benchmark_job, ingest_job, quantize_job
from components.jobs.workload_job import WorkloadJob
from components.namespaces import PART_OF, Namespaces
from stacks.config import StackConfig

CREDENTIALS_SECRET = "job-credentials"
HF_SECRET = "hf-token"
API_KEY_KEY = "api-key"


@dataclass
class QuantizeStage:
    """Quantize Jobs, created before the model servers that load their artifacts."""

    jobs: dict[str, WorkloadJob] = field(default_factory=dict)
    artifacts: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    """Served model name -> artifact URI in the model store."""


def hf_token_secret(
    name: str,
    cfg: StackConfig,
    namespaces: Namespaces,
    hf_token: pulumi.Output[str] | None,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret | None:
    """The Hugging Face token in the jobs namespace, when a job will download from the Hub."""
    needed = cfg.jobs.benchmark.enabled or any(m.quantize_from for m in cfg.serving.models)
    if hf_token is None or not needed:
        return None
    return k8s.core.v1.Secret(
        f"{name}-jobs-hf-token",
        metadata={"name": HF_SECRET, "namespace": cfg.jobs.namespace, "labels": PART_OF},
        type="Opaque",
        string_data={"token": hf_token},  # already a secret Output
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespaces.namespaces["jobs"]])),
    )


def quantize_stage(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    namespaces: Namespaces,
    hf_secret: k8s.core.v1.Secret | None,
    opts: pulumi.ResourceOptions,
) -> QuantizeStage:
    stage = QuantizeStage()
    models = [m for m in cfg.serving.models if m.quantize_from]
    ready: list[pulumi.Resource] = [namespaces.namespaces["jobs"], *namespaces.model_store_accounts.values()]
    if hf_secret is not None:
        ready.append(hf_secret)
    for model in models:
        stage.jobs[model.name] = quantize_job(
            name,
            cfg,
            cluster,
            model,
            HF_SECRET if hf_secret is not None else None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=ready)),
        )
        stage.artifacts[model.name] = artifact_uri(cluster.model_store_uri, model)
    return stage


def downstream_jobs(
    name: str,
    cfg: StackConfig,
    cluster: ClusterOutputs,
    namespaces: Namespaces,
    milvus: MilvusAccess,
    milvus_ready: list[pulumi.Resource],
    serving_urls: dict[str, pulumi.Input[str]],
    serving_api_key: pulumi.Output[str],
    serving_ready: pulumi.Resource,
    hf_secret: k8s.core.v1.Secret | None,
    opts: pulumi.ResourceOptions,
) -> list[WorkloadJob]:
    """Ingest (after Milvus) and benchmark (after the serving layer, gateway included, is ready) Jobs."""
    jobs: list[WorkloadJob] = []
    ns_ready: list[pulumi.Resource] = [namespaces.namespaces["jobs"]]
    if cfg.jobs.ingest.enabled:
        jobs.append(ingest_job(name, cfg, cluster, milvus, after=[*ns_ready, *milvus_ready], opts=opts))
    chat = [m for m in cfg.serving.models if m.role == "chat" and m.name in serving_urls]
    if cfg.jobs.benchmark.enabled and chat:
        credentials = k8s.core.v1.Secret(
            f"{name}-job-credentials",
            metadata={"name": CREDENTIALS_SECRET, "namespace": cfg.jobs.namespace, "labels": PART_OF},
            type="Opaque",
            string_data={API_KEY_KEY: serving_api_key},  # already a secret Output
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=ns_ready)),
        )
        for model in chat:
            after = [credentials, serving_ready, *([hf_secret] if hf_secret else [])]
            jobs.append(
                benchmark_job(
                    name,
                    cfg,
                    cluster,
                    serving_urls[model.name],
                    model,
                    CREDENTIALS_SECRET,
                    API_KEY_KEY,
                    HF_SECRET if hf_secret is not None else None,
                    after=after,
                    opts=opts,
                )
            )
    return jobs
