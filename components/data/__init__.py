"""The data layer: Milvus (vectors) and Redis (the gateway's caches), with generated credentials."""

from components.data.layer import DataLayer, DataLayerArgs, DataOutputs
from components.data.milvus import MilvusOutputs
from components.data.redis import RedisOutputs

__all__ = ["DataLayer", "DataLayerArgs", "DataOutputs", "MilvusOutputs", "RedisOutputs"]
