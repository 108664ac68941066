"""Wire the data layer of a stack: Milvus for vectors, Redis for the app's state and the caches."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster.base import ClusterOutputs
from components.data.kube import APP_POD_LABELS, GATEWAY_POD_LABELS, INGEST_JOB_POD_LABELS, Peer
from components.data.milvus import MilvusArgs, VectorStore
from components.data.redis import Cache, RedisArgs
from components.namespaces import Namespaces
from stacks.config import StackConfig


@dataclass
class DataLayer:
    milvus: VectorStore
    redis: Cache


def storage_class(cfg: StackConfig) -> str | None:
    """The StorageClass of persistent volumes: the configured one on an existing cluster, else the default."""
    return cfg.cluster.existing.storage_class if cfg.cloud == "existing" else None


def build_data_layer(
    name: str, cfg: StackConfig, cluster: ClusterOutputs, namespaces: Namespaces, opts: pulumi.ResourceOptions
) -> DataLayer:
    platform, jobs = cfg.platform, cfg.jobs
    ready = list(namespaces.namespaces.values())
    app = Peer(platform.namespace, APP_POD_LABELS)
    milvus_clients = [app]
    if jobs.ingest.enabled:
        milvus_clients.append(Peer(jobs.namespace, INGEST_JOB_POD_LABELS))
    milvus = VectorStore(
        name,
        MilvusArgs(
            config=platform.milvus,
            placement=cluster.system,
            clients=milvus_clients,
            client_namespaces=[p.namespace for p in milvus_clients],
            storage_class=storage_class(cfg),
            depends_on=ready,
        ),
        opts=opts,
    )
    redis = Cache(
        name,
        RedisArgs(
            config=platform.redis,
            namespace=platform.namespace,
            placement=cluster.system,
            clients=[app, Peer(platform.namespace, GATEWAY_POD_LABELS)],
            storage_class=storage_class(cfg),
            depends_on=ready,
        ),
        opts=opts,
    )
    return DataLayer(milvus=milvus, redis=redis)
