"""The data layer of a stack: Milvus for the app's vectors, Redis for the gateway's caches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import kube
from components.cluster.base import ClusterOutputs
from components.data.milvus import MilvusArgs, MilvusOutputs, VectorStore
from components.data.redis import Cache, RedisArgs, RedisOutputs
from stacks.config.platform import PlatformConfig


@dataclass(frozen=True)
class DataOutputs:
    """How the app layer and the Jobs reach the data stores."""

    milvus: MilvusOutputs
    redis: RedisOutputs

    def as_dict(self) -> dict[str, Any]:
        return {"milvus": self.milvus.as_dict(), "redis": self.redis.as_dict()}


@dataclass
class DataLayerArgs:
    config: PlatformConfig
    """The platform slice: Milvus and Redis settings and the platform namespace (where the app runs)."""
    cluster: ClusterOutputs
    """Where the stores run (the system pool) and what they wait for."""
    storage_class: str | None
    """StorageClass of the volumes; None uses the cluster's default."""
    namespaces: Sequence[pulumi.Resource]
    """The platform's namespaces: the client Secrets and Redis are created in them."""


class DataLayer(pulumi.ComponentResource):
    """Milvus (`VectorStore`) and Redis (`Cache`), each reachable only by the pods that need it."""

    outputs: DataOutputs
    vector_store: VectorStore
    """What waits for Milvus (the ingest Job, the app) depends on this."""
    cache: Cache
    """What waits for Redis (the app, the gateway) depends on this."""

    def __init__(self, name: str, args: DataLayerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:data:DataLayer", name, None, opts)
        platform = args.config
        # Only the app reaches Milvus (the ingest Job writes through the app's API), and only the gateway reaches
        # Redis (the app keeps its state on its own volume: see components/app/ogx_settings.SqliteStorage).
        milvus_clients = [kube.Peer(platform.namespace, kube.APP_POD_LABELS)]
        # The stores were created at the stack's root before this layer existed: the alias keeps their URNs, so
        # `pulumi up` on an existing stack moves them under the layer instead of replacing them.
        child = pulumi.ResourceOptions(
            parent=self, depends_on=list(args.cluster.ready), aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
        )
        self.vector_store = VectorStore(
            name,
            MilvusArgs(
                config=platform.milvus,
                placement=args.cluster.system,
                clients=milvus_clients,
                client_namespaces=[p.namespace for p in milvus_clients],
                storage_class=args.storage_class,
                depends_on=args.namespaces,
            ),
            opts=child,
        )
        self.cache = Cache(
            name,
            RedisArgs(
                config=platform.redis,
                namespace=platform.namespace,
                placement=args.cluster.system,
                clients=[kube.Peer(platform.namespace, kube.GATEWAY_POD_LABELS)],
                storage_class=args.storage_class,
                depends_on=args.namespaces,
            ),
            opts=child,
        )
        self.outputs = DataOutputs(milvus=self.vector_store.outputs, redis=self.cache.outputs)
        self.register_outputs(self.outputs.as_dict())
