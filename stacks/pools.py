"""What a node pool offers, resolved from the catalog (or declared, for clusters the stack does not create)."""

from __future__ import annotations

from dataclasses import dataclass

from stacks import catalog
from stacks.catalog import GpuSpec, InstanceSpec
from stacks.config import StackConfig
from stacks.config.cluster import NodePool


@dataclass(frozen=True)
class PoolHardware:
    """What one node of a pool offers."""

    gpu: GpuSpec | None
    gpu_count: int


def pool_instance(cfg: StackConfig, pool: NodePool) -> InstanceSpec | None:
    """The catalog entry of the pool's instance type (aws, gcp); None on `existing` or for an unknown type."""
    if cfg.cloud == "existing":
        return None
    return catalog.instances(cfg.cloud).get(pool.instance_type)


def pool_hardware(cfg: StackConfig, pool: NodePool) -> PoolHardware | None:
    """None when the pool's instance type is unknown (preflight reports it)."""
    if cfg.cloud == "existing":
        if pool.gpu is None or pool.gpu not in catalog.gpus():
            return PoolHardware(gpu=None, gpu_count=0)
        return PoolHardware(gpu=catalog.gpu(pool.gpu), gpu_count=pool.gpu_count)
    spec = pool_instance(cfg, pool)
    if spec is None:
        return None
    return PoolHardware(gpu=catalog.gpu(spec.gpu) if spec.gpu else None, gpu_count=spec.gpu_count)
