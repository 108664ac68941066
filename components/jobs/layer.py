"""The workload Jobs of a stack, in pipeline order: quantize before serving (`QuantizeJobs`), ingest after
Milvus and benchmark after serving (`IngestAndBenchmarkJobs`).

Two components because the serving layer sits between them: it waits for the quantize Jobs, and the benchmark
waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import ClusterOutputs
from components.data import MilvusOutputs
from components.jobs.pipeline import HF_TOKEN_KEY, artifact_uri, benchmark_args, ingest_args, quantize_args
from components.jobs.workload_job import WorkloadJob
from components.serving import ServingOutputs
from stacks.config.jobs import JobsConfig
from stacks.models import ServedModel

HF_TOKEN_SECRET = "hf-token"
"""The Hugging Face token's Secret in the jobs namespace."""
CREDENTIALS = kube.SecretRef("job-credentials", "api-key")
"""The serving API key, copied into the jobs namespace for the benchmark Job."""
MOVED_FROM_ROOT = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
"""The Jobs and Secrets below were created at the stack's root before these components existed: the alias keeps
their URNs, so `pulumi up` on an existing stack moves them under a component instead of replacing them."""


@dataclass(frozen=True)
class QuantizeOutputs:
    artifacts: dict[str, pulumi.Output[str]]
    """Served model name -> the URI of its quantized artifact in the model store."""
    hf_token_secret: str | None
    """Name of the Hugging Face token Secret in the jobs namespace; None when it is not created."""

    def as_dict(self) -> dict[str, Any]:
        return {"artifacts": self.artifacts, "hfTokenSecret": self.hf_token_secret}


@dataclass
class QuantizeJobsArgs:
    config: JobsConfig
    models: Sequence[ServedModel]
    """Every served model; those with quantizeFrom are quantized."""
    cluster: ClusterOutputs
    """The GPU pools the quantize Jobs run on, the model store they write to, what they wait for."""
    namespace: pulumi.Resource
    """The jobs Namespace."""
    model_store_accounts: Sequence[pulumi.Resource]
    """The model-store ServiceAccounts: the quantize Jobs run as the one of the jobs namespace."""
    hf_token: pulumi.Output[str] | None
    """Secret; set when the stack has the secret hfToken."""


class QuantizeJobs(pulumi.ComponentResource):
    """The quantize Jobs, one per model with quantizeFrom, and the jobs namespace's Hugging Face token Secret
    (read by them and by the benchmark Job) when either runs."""

    outputs: QuantizeOutputs
    jobs: dict[str, WorkloadJob]
    """Served model name -> its quantize Job: its model server waits for it."""
    hf_secret: k8s.core.v1.Secret | None

    def __init__(self, name: str, args: QuantizeJobsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:jobs:QuantizeJobs", name, None, opts)
        cfg, cluster = args.config, args.cluster
        quantized = [m for m in args.models if m.source.kind == "quantized"]
        self.hf_secret = None
        if args.hf_token is not None and (cfg.benchmark.enabled or quantized):
            self.hf_secret = kube.secret(
                f"{name}-jobs-hf-token",
                HF_TOKEN_SECRET,
                cfg.namespace,
                {HF_TOKEN_KEY: args.hf_token},
                pulumi.ResourceOptions(
                    parent=self, depends_on=[*cluster.ready, args.namespace], aliases=MOVED_FROM_ROOT
                ),
            )
        hf_secret_name = HF_TOKEN_SECRET if self.hf_secret is not None else None
        ready = [*cluster.ready, args.namespace, *args.model_store_accounts]
        if self.hf_secret is not None:
            ready.append(self.hf_secret)
        self.jobs = {
            m.name: WorkloadJob(
                f"{name}-quantize-{m.name}",
                quantize_args(
                    m,
                    cfg.quantize,
                    namespace=cfg.namespace,
                    placement=cluster.gpu_pools[m.config.pool],
                    model_store_uri=cluster.model_store_uri,
                    hf_token_secret=hf_secret_name,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=ready, aliases=MOVED_FROM_ROOT),
            )
            for m in quantized
        }
        self.outputs = QuantizeOutputs(
            artifacts={m.name: artifact_uri(cluster.model_store_uri, m) for m in quantized},
            hf_token_secret=hf_secret_name,
        )
        self.register_outputs(self.outputs.as_dict())


@dataclass
class IngestAndBenchmarkJobsArgs:
    config: JobsConfig
    models: Sequence[ServedModel]
    """Every served model; the chat ones are benchmarked."""
    serving_mode: str
    """vllm or llm-d: part of the benchmark report's label."""
    collection: str
    """The app's vector store (Milvus collection) the ingest Job writes to."""
    cluster: ClusterOutputs
    namespace: pulumi.Resource
    """The jobs Namespace."""
    milvus: MilvusOutputs
    milvus_ready: Sequence[pulumi.Resource]
    """Milvus: the ingest Job runs after it is ready."""
    serving: ServingOutputs
    serving_ready: pulumi.Resource
    """The serving layer: the benchmark runs after it (gateway included) is ready."""
    hf_secret: pulumi.Resource | None
    """The Hugging Face token Secret of the jobs namespace (QuantizeJobs), if created."""


class IngestAndBenchmarkJobs(pulumi.ComponentResource):
    """The ingest Job (when jobs.ingest.enabled) and one benchmark Job per chat model (when
    jobs.benchmark.enabled), with the serving API key copied into the jobs namespace."""

    jobs: list[WorkloadJob]

    def __init__(self, name: str, args: IngestAndBenchmarkJobsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:jobs:IngestAndBenchmarkJobs", name, None, opts)
        cfg, cluster = args.config, args.cluster
        job_opts = pulumi.ResourceOptions(parent=self, depends_on=list(cluster.ready), aliases=MOVED_FROM_ROOT)
        self.jobs = []
        if cfg.ingest.enabled:
            ingest = ingest_args(
                cfg.ingest,
                namespace=cfg.namespace,
                placement=cluster.system,
                collection=args.collection,
                milvus=args.milvus,
                after=[args.namespace, *args.milvus_ready],
            )
            self.jobs.append(WorkloadJob(f"{name}-ingest", ingest, opts=job_opts))
        urls = args.serving.openai_base_urls
        chat = [m for m in args.models if m.config.role == "chat" and m.name in urls]
        if cfg.benchmark.enabled and chat:
            credentials = kube.secret(
                f"{name}-job-credentials",
                CREDENTIALS.name,
                cfg.namespace,
                {CREDENTIALS.key: args.serving.api_key},
                pulumi.ResourceOptions(
                    parent=self, depends_on=[*cluster.ready, args.namespace], aliases=MOVED_FROM_ROOT
                ),
            )
            after = [credentials, args.serving_ready, *([args.hf_secret] if args.hf_secret else [])]
            for model in chat:
                bench = benchmark_args(
                    model,
                    cfg.benchmark,
                    namespace=cfg.namespace,
                    placement=cluster.system,
                    target_url=urls[model.name],
                    label=f"{model.name}-{args.serving_mode}",
                    api_key=CREDENTIALS,
                    hf_token_secret=HF_TOKEN_SECRET if args.hf_secret is not None else None,
                    after=after,
                )
                self.jobs.append(WorkloadJob(f"{name}-benchmark-{model.name}", bench, opts=job_opts))
        self.register_outputs({"jobNames": [j.job_name for j in self.jobs]})
