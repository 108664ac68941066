"""Assemble a whole stack from its typed config: cluster -> provider -> platform -> outputs.

Each layer gets only the slice of config it needs; nothing here reads Pulumi config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.app.layer import ServingEndpoints, build_app_layer, data_app_outputs
from components.cluster.aws import AwsGpuCluster, AwsGpuClusterArgs, GpuPool
from components.cluster.base import ClusterOutputs, workload_service_accounts
from components.cluster.existing import DeclaredGpuPool, ExistingCluster, ExistingClusterArgs
from components.cluster.gcp import GcpGpuCluster, GcpGpuClusterArgs, GkeGpuPool
from components.data.layer import build_data_layer
from components.jobs import layer as jobs
from components.jobs.pipeline import MilvusAccess
from components.namespaces import Namespaces, NamespacesArgs
from components.serving import build_serving_layer, stack_outputs
from stacks import catalog
from stacks.config import StackConfig
from stacks.load import StackSecrets
from stacks.preflight import pool_hardware


@dataclass
class StackResult:
    cluster: ClusterOutputs
    namespaces: Namespaces
    outputs: dict[str, Any] = field(default_factory=dict)


def namespace_names(cfg: StackConfig) -> dict[str, str]:
    return {"serving": cfg.serving.namespace, "rag": cfg.platform.namespace, "jobs": cfg.jobs.namespace}


def build_cluster(name: str, cfg: StackConfig, secrets: StackSecrets) -> ClusterOutputs:
    accounts = workload_service_accounts([cfg.serving.namespace, cfg.jobs.namespace])
    cl = cfg.cluster
    hardware = {p.name: pool_hardware(cfg, p) for p in cl.gpu_pools}
    if cfg.cloud == "aws":
        aws_pools = [GpuPool(p, hw.gpu.name, hw.gpu_count) for p in cl.gpu_pools if (hw := hardware[p.name]) and hw.gpu]
        return AwsGpuCluster(
            name,
            AwsGpuClusterArgs(
                region=cfg.region,
                zones=cfg.effective_zones(),
                private_endpoint=cl.private_endpoint,
                public_access_cidrs=cl.public_access_cidrs,
                system_pool=cl.system_pool,
                gpu_pools=aws_pools,
                settings=cl.aws,
                workload_service_accounts=accounts,
                tags=cfg.labels,
            ),
        ).outputs
    if cfg.cloud == "gcp":
        gke_pools = [
            GkeGpuPool(p, hw.gpu.name, hw.gpu.gcp_accelerator or "", hw.gpu_count)
            for p in cl.gpu_pools
            if (hw := hardware[p.name]) and hw.gpu
        ]
        return GcpGpuCluster(
            name,
            GcpGpuClusterArgs(
                project=cl.gcp.project,
                region=cfg.region,
                zones=cfg.effective_zones(),
                private_endpoint=cl.private_endpoint,
                public_access_cidrs=cl.public_access_cidrs,
                system_pool=cl.system_pool,
                gpu_pools=gke_pools,
                settings=cl.gcp,
                workload_service_accounts=accounts,
                labels=cfg.labels,
                proxy_only_cidr=cfg.serving.inference_gateway.proxy_subnet_cidr
                if cfg.serving.mode == "llm-d"
                else None,
            ),
        ).outputs
    declared = [DeclaredGpuPool(p.name, catalog.gpu(p.gpu).name, p.gpu_count) for p in cl.gpu_pools if p.gpu]
    return ExistingCluster(
        name,
        ExistingClusterArgs(
            kubeconfig=secrets.kubeconfig,
            context=cl.existing.context,
            model_store_uri=cl.existing.model_store_uri,
            system_pool=cl.system_pool.name,
            gpu_pools=declared,
        ),
    ).outputs


def build_stack(cfg: StackConfig, secrets: StackSecrets, stack: str) -> StackResult:
    name = f"{cfg.cluster.name}-{stack}"
    cluster = build_cluster(name, cfg, secrets)
    provider_opts = pulumi.ResourceOptions(provider=cluster.provider, depends_on=cluster.ready)
    namespaces = Namespaces(
        name,
        NamespacesArgs(
            names=namespace_names(cfg),
            pod_security={"serving": "restricted", "rag": "restricted", "jobs": "restricted"},
            model_store_roles=["serving", "jobs"],
            service_account_annotations=cluster.service_account_annotations,
        ),
        opts=provider_opts,
    )
    result = StackResult(cluster=cluster, namespaces=namespaces)
    hf_secret = jobs.hf_token_secret(name, cfg, namespaces, secrets.hf_token, provider_opts)
    quantize = jobs.quantize_stage(name, cfg, cluster, namespaces, hf_secret, provider_opts)
    serving = build_serving_layer(
        name,
        cfg,
        secrets,
        cluster,
        namespaces,
        provider_opts,
        quantized=dict(quantize.artifacts),
        quantize_jobs=dict(quantize.jobs),
    )
    result.outputs.update(stack_outputs(serving))
    data = build_data_layer(name, cfg, cluster, namespaces, provider_opts)
    serving_endpoints = ServingEndpoints.from_outputs(result.outputs)
    app = build_app_layer(name, cfg, cluster, data, serving_endpoints, provider_opts)
    result.outputs.update(data_app_outputs(data, app))
    jobs.downstream_jobs(
        name,
        cfg,
        cluster,
        namespaces,
        milvus=MilvusAccess(data.milvus.uri, data.milvus.token_ref.name, data.milvus.token_ref.key),
        milvus_ready=[data.milvus],
        serving_urls=dict(serving.openai_base_urls),
        serving_api_key=serving.api_key,
        serving_ready=serving,
        hf_secret=hf_secret,
        opts=provider_opts,
    )
    result.outputs.update(
        {
            "cloud": cfg.cloud,
            "kubeconfig": cluster.kubeconfig,
            "modelStoreUri": cluster.model_store_uri,
        }
    )
    return result
