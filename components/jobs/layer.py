"""The workload Jobs of a stack, in pipeline order: quantize before serving (`QuantizeJobs`), ingest after the
RAG app and benchmark after serving (`IngestAndBenchmarkJobs`).

Two components because the serving layer sits between them: it waits for the quantize Jobs, and the benchmark
waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import ClusterOutputs
from components.jobs.pipeline import (
    HF_TOKEN_KEY,
    IngestTarget,
    artifact_uri,
    benchmark_args,
    benchmark_upload_uri,
    ingest_args,
    quantize_args,
)
from components.jobs.workload_job import WorkloadJob
from components.serving import ServingOutputs
from stacks.config.images import WorkloadImages
from stacks.config.jobs import JobsConfig
from stacks.models import ServedModel
from stacks.uris import BUCKET_SCHEMES

HF_TOKEN_SECRET = "hf-token"
"""The Hugging Face token's Secret in the jobs namespace."""
CREDENTIALS = kube.SecretRef("job-credentials", "api-key")
"""The serving API key, copied into the jobs namespace for the benchmark Job and, when rerank is on, the ingest
Job's calls to the reranker."""
APP_CREDENTIALS = kube.SecretRef("ingest-app-api-key", "api-key")
"""The RAG app's API key, copied into the jobs namespace for the ingest Job (when the app's auth is on)."""
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
    images: WorkloadImages
    """Where the quantize image is pulled from."""


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
                    images=args.images,
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


@dataclass(frozen=True)
class IngestApp:
    """The RAG app the ingest Job writes into (resolved by infra/ from the app layer's outputs)."""

    target: IngestTarget
    """URL, store name, embedding models; its `api_key` names the copy this component makes."""
    api_key: pulumi.Output[str] | None
    """Secret: the app's API key (None when its auth is off), copied into the jobs namespace."""
    ready: Sequence[pulumi.Resource]
    """The app: the Job runs once it is ready."""


@dataclass(frozen=True)
class JobsOutputs:
    """What the stack outputs read from the Jobs."""

    benchmark_reports: dict[str, pulumi.Output[str]]
    """Chat model -> where its benchmark runs are uploaded (`<prefix>/latest.json` names the newest report);
    empty when the benchmark is off or the stack has no bucket."""
    job_names: list[pulumi.Output[str]]

    def as_dict(self) -> dict[str, Any]:
        return {"benchmarkReports": self.benchmark_reports, "jobNames": self.job_names}


@dataclass
class IngestAndBenchmarkJobsArgs:
    config: JobsConfig
    models: Sequence[ServedModel]
    """Every served model; the chat ones are benchmarked."""
    serving_mode: str
    """vllm or llm-d: part of the benchmark report's label."""
    cluster: ClusterOutputs
    """The system pool the Jobs run on; the model store (the stack's bucket) the benchmark uploads to."""
    cloud: str
    """aws, gcp or existing: which model store is a bucket."""
    region: str
    """The bucket's region (AWS_REGION of the benchmark's upload on aws)."""
    namespace: pulumi.Resource
    """The jobs Namespace."""
    app: IngestApp | None
    """The app the ingest Job writes into; None when no app is deployed (no chat model): no ingest Job."""
    serving: ServingOutputs
    serving_ready: pulumi.Resource
    """The serving layer: the benchmark runs after it (gateway included) is ready."""
    hf_secret: pulumi.Resource | None
    """The Hugging Face token Secret of the jobs namespace (QuantizeJobs), if created."""
    images: WorkloadImages
    """Where the ingest and benchmark images are pulled from."""
    model_store_account: pulumi.Resource | None = None
    """The jobs namespace's model-store ServiceAccount: the uploading benchmark runs as it."""


class IngestAndBenchmarkJobs(pulumi.ComponentResource):
    """The ingest Job (when jobs.ingest.enabled and the app runs) and one benchmark Job per chat model (when
    jobs.benchmark.enabled), with the serving API key (and the app's, when its auth is on) copied into the jobs
    namespace."""

    jobs: list[WorkloadJob]
    outputs: JobsOutputs

    def __init__(self, name: str, args: IngestAndBenchmarkJobsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:jobs:IngestAndBenchmarkJobs", name, None, opts)
        cfg, cluster = args.config, args.cluster
        job_opts = pulumi.ResourceOptions(parent=self, depends_on=list(cluster.ready), aliases=MOVED_FROM_ROOT)
        secret_opts = pulumi.ResourceOptions(parent=self, depends_on=[*cluster.ready, args.namespace])
        self.jobs = []
        urls = args.serving.openai_base_urls
        chat = [m for m in args.models if m.config.role == "chat" and m.name in urls]
        ingest_app = args.app if cfg.ingest.enabled else None
        reranks = ingest_app is not None and ingest_app.target.reranker is not None
        credentials = None
        if (cfg.benchmark.enabled and chat) or reranks:  # the benchmark calls the models, the ingest Job the reranker
            credentials = kube.secret(
                f"{name}-job-credentials",
                CREDENTIALS.name,
                cfg.namespace,
                {CREDENTIALS.key: args.serving.api_key},
                pulumi.ResourceOptions(
                    parent=self, depends_on=[*cluster.ready, args.namespace], aliases=MOVED_FROM_ROOT
                ),
            )
        if ingest_app is not None:
            after: list[pulumi.Resource] = [args.namespace, *ingest_app.ready]
            target = ingest_app.target
            if credentials is not None and reranks:
                after.append(credentials)
                target = replace(target, reranker_key=CREDENTIALS)
            if ingest_app.api_key is not None:
                after.append(
                    kube.secret(
                        f"{name}-ingest-app-api-key",
                        APP_CREDENTIALS.name,
                        cfg.namespace,
                        {APP_CREDENTIALS.key: ingest_app.api_key},
                        secret_opts,
                    )
                )
                target = replace(target, api_key=APP_CREDENTIALS)
            ingest = ingest_args(
                cfg.ingest,
                namespace=cfg.namespace,
                placement=cluster.system,
                target=target,
                images=args.images,
                after=after,
            )
            self.jobs.append(WorkloadJob(f"{name}-ingest", ingest, opts=job_opts))
        reports: dict[str, pulumi.Output[str]] = {}
        if cfg.benchmark.enabled and chat and credentials is not None:
            after = [credentials, args.serving_ready, *([args.hf_secret] if args.hf_secret else [])]
            upload = cfg.benchmark.upload and args.cloud in BUCKET_SCHEMES
            if upload and args.model_store_account is not None:
                after.append(args.model_store_account)
            for model in chat:
                label = f"{model.name}-{args.serving_mode}"
                uri = benchmark_upload_uri(cluster.model_store_uri, label) if upload else None
                if uri is not None:
                    reports[model.name] = pulumi.Output.concat(uri, "/latest.json")
                bench = benchmark_args(
                    model,
                    cfg.benchmark,
                    namespace=cfg.namespace,
                    placement=cluster.system,
                    target_url=urls[model.name],
                    label=label,
                    api_key=CREDENTIALS,
                    hf_token_secret=HF_TOKEN_SECRET if args.hf_secret is not None else None,
                    images=args.images,
                    upload_uri=uri,
                    region=args.region if args.cloud == "aws" else "",
                    after=after,
                )
                self.jobs.append(WorkloadJob(f"{name}-benchmark-{model.name}", bench, opts=job_opts))
        self.outputs = JobsOutputs(benchmark_reports=reports, job_names=[j.job_name for j in self.jobs])
        self.register_outputs(self.outputs.as_dict())
