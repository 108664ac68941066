"""Assemble a whole stack from its typed config: cluster -> namespaces -> monitoring -> quantize -> serving -> data ->
app -> ingest and benchmark -> stack outputs.

The composition root: the only module that sees the whole `StackConfig`. It hands every layer its own config
slice and the typed outputs of the layers below, and names the stack outputs. Nothing here reads Pulumi config
(infra/config.py does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

import components.cluster as clusters  # each cloud's cluster module loads when its class is first used
from components.app.layer import AppLayer, AppLayerArgs, AppOutputs, ExposureSite
from components.cluster import ClusterOutputs, workload_service_accounts
from components.data import DataLayer, DataLayerArgs, DataOutputs
from components.jobs import (
    IngestAndBenchmarkJobs,
    IngestAndBenchmarkJobsArgs,
    IngestApp,
    IngestTarget,
    JobsOutputs,
    QuantizeJobs,
    QuantizeJobsArgs,
)
from components.monitoring import Monitoring, MonitoringArgs, MonitoringOutputs, Scope
from components.namespaces import Namespaces, NamespacesArgs
from components.serving import ModelServing, ModelServingArgs, RerankerEndpoint, ServingOutputs, ServingSite
from infra.config import StackSecrets
from stacks import catalog
from stacks.config import StackConfig
from stacks.models import llama_cpp_weights, model_store, served_models
from stacks.monitoring import prometheus_provider
from stacks.pools import pool_hardware
from stacks.preflight import PreflightError, Problem
from stacks.preflight.cluster import unreachable_endpoint
from stacks.serving_modes import role_models


@dataclass
class StackResult:
    cluster: ClusterOutputs
    namespaces: Namespaces
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs (`pulumi stack output`); credentials are secret Outputs."""


def namespace_names(cfg: StackConfig) -> dict[str, str]:
    return {"serving": cfg.serving.namespace, "rag": cfg.platform.namespace, "jobs": cfg.jobs.namespace}


def storage_class(cfg: StackConfig) -> str | None:
    """The StorageClass of persistent volumes: the configured one on an existing cluster, else the default."""
    return cfg.cluster.existing.storage_class if cfg.cloud == "existing" else None


def build_cluster(name: str, cfg: StackConfig, secrets: StackSecrets) -> ClusterOutputs:
    accounts = workload_service_accounts([cfg.serving.namespace, cfg.jobs.namespace])
    cl = cfg.cluster
    hardware = {p.name: pool_hardware(cfg, p) for p in cl.gpu_pools}
    if cfg.cloud == "aws":
        aws_pools = [
            clusters.GpuPool(p, hw.gpu.name, hw.gpu_count) for p in cl.gpu_pools if (hw := hardware[p.name]) and hw.gpu
        ]
        return clusters.AwsGpuCluster(
            name,
            clusters.AwsGpuClusterArgs(
                region=cfg.region,
                zones=cfg.effective_zones(),
                api_endpoint=cl.api_endpoint,
                system_pool=cl.system_pool,
                gpu_pools=aws_pools,
                settings=cl.aws,
                workload_service_accounts=accounts,
                tags=cfg.labels,
                ephemeral=cl.ephemeral,
            ),
        ).outputs
    if cfg.cloud == "gcp":
        gke_pools = [
            clusters.GkeGpuPool(p, hw.gpu.name, hw.gpu.gcp_accelerator or "", hw.gpu_count)
            for p in cl.gpu_pools
            if (hw := hardware[p.name]) and hw.gpu
        ]
        return clusters.GcpGpuCluster(
            name,
            clusters.GcpGpuClusterArgs(
                project=cl.gcp.project,
                region=cfg.region,
                zones=cfg.effective_zones(),
                api_endpoint=cl.api_endpoint,
                system_pool=cl.system_pool,
                gpu_pools=gke_pools,
                settings=cl.gcp,
                workload_service_accounts=accounts,
                labels=cfg.labels,
                ephemeral=cl.ephemeral,
                proxy_only_cidr=cfg.serving.inference_gateway.proxy_subnet_cidr
                if cfg.serving.mode == "llm-d"
                else None,
            ),
        ).outputs
    declared = [clusters.DeclaredGpuPool(p.name, catalog.gpu(p.gpu).name, p.gpu_count) for p in cl.gpu_pools if p.gpu]
    return clusters.ExistingCluster(
        name,
        clusters.ExistingClusterArgs(
            kubeconfig=secrets.kubeconfig,
            context=cl.existing.context,
            model_store_uri=cl.existing.model_store_uri,
            system_pool=cl.system_pool.name,
            gpu_pools=declared,
        ),
    ).outputs


def retrieval_reranker(cfg: StackConfig, serving: ServingOutputs) -> RerankerEndpoint | None:
    """The served reranker platform.app.retrieval uses: rerankerModel, else serving.reranker / the first role:
    reranker model; None when rerank is off (preflight refuses rerank without a served reranker)."""
    retrieval = cfg.platform.app.retrieval
    if not retrieval.rerank:
        return None
    if retrieval.reranker_model is not None:
        return serving.rerankers.get(retrieval.reranker_model)
    return serving.reranker


def ingest_app(cfg: StackConfig, app: AppLayer, serving: ServingOutputs) -> IngestApp | None:
    """The RAG app as the ingest Job's target: the same store name and the same embedding model as the app (the
    served one, ServingOutputs.embedding: the Job embeds with its Hugging Face id, the app with its served name)."""
    if app.outputs is None or app.app is None:
        return None
    embedding = serving.embedding
    return IngestApp(
        target=IngestTarget(
            app_url=app.outputs.rag_app_in_cluster_url.removesuffix("/v1"),
            vector_store=app.outputs.vector_store_name,
            app_embedding_model=app.outputs.embedding_model,
            embedding_model=embedding.hub_id if embedding is not None else cfg.platform.app.embedding_model,
            api_key=None,
            retrieval=cfg.platform.app.retrieval,
            reranker=retrieval_reranker(cfg, serving),
        ),
        api_key=app.outputs.rag_app_api_key,
        ready=[app.app],
    )


def stack_outputs(
    cfg: StackConfig,
    cluster: ClusterOutputs,
    serving: ServingOutputs,
    data: DataOutputs,
    app: AppOutputs | None,
    monitoring: MonitoringOutputs,
    jobs: JobsOutputs | None = None,
) -> dict[str, Any]:
    """Every stack output, named once here; apiKey, milvusToken, redisUrl, gatewayMasterKey, ragAppApiKey,
    clientKeys and kubeconfig are secret Outputs. gatewayUrl and ragAppUrl are what a client outside the cluster
    uses (the exposure's URL; the in-cluster one when not exposed), gatewayInClusterUrl and ragAppInClusterUrl the
    Services' (docs/access.md)."""
    outputs: dict[str, Any] = {
        "openaiBaseUrl": serving.openai_base_url,
        "openaiBaseUrls": serving.openai_base_urls,
        "servedModels": serving.served_models,
        "apiKey": serving.api_key,
        "servingFallbacks": serving.fallbacks,
        "embedding": serving.embedding.as_dict() if serving.embedding else None,
        "reranker": serving.reranker.as_dict() if serving.reranker else None,
        "servingMode": serving.mode,
        "servingRouter": serving.router,
        "inferencePools": serving.inference_pools,
        "milvusUri": data.milvus.uri,
        "milvusToken": data.milvus.token,
        "redisUrl": data.redis.url,
    }
    if app is not None:
        outputs.update(app.as_dict())  # ragAppApiKey is None when platform.app.auth is off
    outputs.update(monitoring.as_dict())  # prometheusUrl is None without a Prometheus
    # chat model -> its benchmark runs' latest.json in the bucket; {} without a benchmark or a bucket
    outputs["benchmarkReports"] = jobs.benchmark_reports if jobs is not None else {}
    outputs.update({"cloud": cfg.cloud, "kubeconfig": cluster.kubeconfig, "modelStoreUri": cluster.model_store_uri})
    return outputs


def check_way_in(cfg: StackConfig, dry_run: bool) -> Problem | None:
    """The stack files' example allowedCidrs: a warning in a preview or the offline plan (the problem is
    returned), a PreflightError for `pulumi up`, raised before any resource is declared."""
    problem = unreachable_endpoint(cfg)
    if problem is not None and not dry_run:
        raise PreflightError([problem])
    return problem


def build_stack(cfg: StackConfig, secrets: StackSecrets, stack: str) -> StackResult:
    name = f"{cfg.cluster.name}-{stack}"
    if (problem := check_way_in(cfg, pulumi.runtime.is_dry_run())) is not None:
        pulumi.log.warn(f"{problem}\n    `pulumi up` refuses this stack until then (preview and plan go on)")
    cluster = build_cluster(name, cfg, secrets)
    provider_opts = pulumi.ResourceOptions(provider=cluster.provider, depends_on=cluster.ready)
    namespaces = Namespaces(
        name,
        NamespacesArgs(
            names=namespace_names(cfg),
            pod_security={"serving": "restricted", "rag": "restricted", "jobs": "restricted"},
            model_store_roles=["serving", "jobs"],
            default_deny=["serving", "rag", "jobs"],
            service_account_annotations=cluster.service_account_annotations,
        ),
        opts=provider_opts,
    )
    monitoring = Monitoring(
        name,
        MonitoringArgs(
            config=cfg.monitoring,
            provider=prometheus_provider(cfg),
            cluster=cluster,
            scope=Scope(serving=cfg.serving.namespace, platform=cfg.platform.namespace),
            storage_class=storage_class(cfg),
            namespaces=[namespaces.namespaces["serving"], namespaces.namespaces["rag"]],
        ),
        opts=provider_opts,
    )
    models = served_models(cfg)
    jobs_ns = namespaces.namespaces["jobs"]
    quantize = QuantizeJobs(
        name,
        QuantizeJobsArgs(
            config=cfg.jobs,
            models=models,
            cluster=cluster,
            namespace=jobs_ns,
            model_store_accounts=list(namespaces.model_store_accounts.values()),
            hf_token=secrets.hf_token,
            images=cfg.workload_images,
        ),
        opts=provider_opts,
    )
    serving = ModelServing(
        name,
        ModelServingArgs(
            config=cfg.serving,
            models=models,
            site=ServingSite(
                cloud=cfg.cloud,
                region=cfg.region,
                cluster_subnet_cidr=cfg.cluster.gcp.subnet_cidr,
                app_namespace=cfg.platform.namespace,
                jobs_namespace=cfg.jobs.namespace,
                storage_class=storage_class(cfg),
                prometheus_url=monitoring.outputs.prometheus_url,
                scraper=monitoring.outputs.scraper,
            ),
            cluster=cluster,
            namespace=namespaces.namespaces["serving"],
            model_store_account=namespaces.model_store_accounts.get("serving"),
            hf_token=secrets.hf_token,
            store=model_store(cfg),
            gguf=llama_cpp_weights(cfg),
            quantized=quantize.outputs.artifacts,
            quantize_jobs=quantize.jobs,
            roles={m.name: role_models(cfg, m) for m in models if m.config.disaggregation.enabled},
        ),
        opts=provider_opts,
    )
    data = DataLayer(
        name,
        DataLayerArgs(
            config=cfg.platform,
            cluster=cluster,
            storage_class=storage_class(cfg),
            namespaces=list(namespaces.namespaces.values()),
        ),
        opts=provider_opts,
    )
    data_ready: list[pulumi.Resource] = [data.vector_store, data.cache]
    app = AppLayer(
        name,
        AppLayerArgs(
            config=cfg.platform,
            cluster=cluster,
            jobs_namespace=cfg.jobs.namespace,
            serving=serving.outputs,
            data=data.outputs,
            data_ready=data_ready,
            storage_class=storage_class(cfg),
            images=cfg.workload_images,
            ingest_enabled=cfg.jobs.ingest.enabled,
            scraper=monitoring.outputs.scraper,
            site=ExposureSite(cfg.cloud, cfg.cluster.gcp.project if cfg.cloud == "gcp" else None),
        ),
        opts=provider_opts,
    )
    jobs = IngestAndBenchmarkJobs(
        name,
        IngestAndBenchmarkJobsArgs(
            config=cfg.jobs,
            models=models,
            serving_mode=cfg.serving.mode,
            cluster=cluster,
            cloud=cfg.cloud,
            region=cfg.region,
            namespace=jobs_ns,
            app=ingest_app(cfg, app, serving.outputs),
            serving=serving.outputs,
            serving_ready=serving,
            hf_secret=quantize.hf_secret,
            images=cfg.workload_images,
            model_store_account=namespaces.model_store_accounts.get("jobs"),
        ),
        opts=provider_opts,
    )
    outputs = stack_outputs(cfg, cluster, serving.outputs, data.outputs, app.outputs, monitoring.outputs, jobs.outputs)
    return StackResult(cluster=cluster, namespaces=namespaces, outputs=outputs)
