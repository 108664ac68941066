"""Preflight of where the stack runs: the cloud, its region and API endpoint, and the node pools."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from stacks import catalog
from stacks.config import NAMESPACE, StackConfig
from stacks.config.cluster import NodePool
from stacks.preflight.problem import Problem


def check_cloud(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    if cfg.cloud in ("aws", "gcp") and not cfg.region:
        example = catalog.price_region(cfg.cloud)
        yield Problem(
            "region", f"a region is required for cloud {cfg.cloud}", f"pulumi config set {NAMESPACE}:region {example}"
        )
    elif cfg.cloud in ("aws", "gcp") and cfg.region not in catalog.regions(cfg.cloud):
        yield Problem(
            "region",
            f"{cfg.region!r} is not a {cfg.cloud} region",
            f"use one of: {', '.join(catalog.regions(cfg.cloud))} (stacks/catalog.yaml; its prices are "
            f"{catalog.price_region(cfg.cloud)} list prices)",
        )
    elif cfg.cloud in ("aws", "gcp"):
        for i, zone in enumerate(cfg.zones):
            if not zone.startswith(cfg.region):
                example = f"{cfg.region}-a" if cfg.cloud == "gcp" else f"{cfg.region}a"
                yield Problem(
                    f"zones[{i}]",
                    f"zone {zone!r} is not in region {cfg.region}",
                    f"use zones of {cfg.region} (e.g. {example}), or remove zones to use the region's first three",
                )
    if cfg.cloud == "gcp" and not cfg.cluster.gcp.project:
        yield Problem(
            "cluster.gcp.project",
            "a GCP project id is required for cloud gcp",
            "set cluster.gcp.project to your project id",
        )
    if not cfg.cluster.private_endpoint:
        cidrs = cfg.cluster.public_access_cidrs
        if not cidrs:
            yield Problem(
                "cluster.publicAccessCidrs",
                "the API endpoint is public but no CIDRs are allowed",
                "list your office/VPN CIDRs, or set cluster.privateEndpoint: true",
            )
        if any(c.endswith("/0") for c in cidrs):
            yield Problem(
                "cluster.publicAccessCidrs",
                "the public API endpoint is open to the whole internet",
                "replace 0.0.0.0/0 with your office/VPN CIDRs, or set cluster.privateEndpoint: true",
            )


def check_pools(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    pools = [("cluster.systemPool", cfg.cluster.system_pool)] + [
        (f"cluster.gpuPools[{i}]", p) for i, p in enumerate(cfg.cluster.gpu_pools)
    ]
    for name, n in Counter(p.name for _, p in pools).items():
        if n > 1:
            yield Problem("cluster.gpuPools", f"pool name {name!r} is used {n} times", "give every pool its own name")
    for path, pool in pools:
        is_gpu_pool = path != "cluster.systemPool"
        if cfg.cloud == "existing":
            if is_gpu_pool and (pool.gpu not in catalog.gpus() or pool.gpu_count < 1):
                yield Problem(
                    f"{path}.gpu",
                    f"GPU pool {pool.name!r} must declare its GPU and gpuCount",
                    f"set gpu to one of {', '.join(catalog.gpus())} and gpuCount >= 1",
                )
            continue
        yield from _check_instance(cfg, path, pool, is_gpu_pool)


def _check_instance(cfg: StackConfig, path: str, pool: NodePool, is_gpu_pool: bool) -> Iterator[Problem]:
    assert cfg.cloud != "existing"
    offered = catalog.instances(cfg.cloud)
    spec = offered.get(pool.instance_type)
    gpu_types = sorted(n for n, s in offered.items() if s.gpu)
    if spec is None:
        other = "gcp" if cfg.cloud == "aws" else "aws"
        elsewhere = catalog.instances(other).get(pool.instance_type)
        if elsewhere is not None and elsewhere.gpu and cfg.cloud not in catalog.clouds_offering(elsewhere.gpu):
            msg = f"{pool.instance_type} is a {other} type with GPU {elsewhere.gpu}, which {cfg.cloud} does not offer"
        elif elsewhere is not None:
            msg = f"{pool.instance_type} is a {other} instance type, not a {cfg.cloud} one"
        else:
            msg = f"unknown {cfg.cloud} instance type {pool.instance_type!r}"
        yield Problem(
            f"{path}.instanceType", msg, f"use one of: {', '.join(gpu_types if is_gpu_pool else sorted(offered))}"
        )
        return
    if pool.gpu is not None and pool.gpu != spec.gpu:
        where = catalog.clouds_offering(pool.gpu) if pool.gpu in catalog.gpus() else []
        why = (
            f"{pool.gpu} is not offered on {cfg.cloud}"
            if cfg.cloud not in where
            else (f"{pool.instance_type} has {spec.gpu or 'no GPU'}, not {pool.gpu}")
        )
        with_gpu = sorted(n for n, s in offered.items() if s.gpu == pool.gpu)
        fix = (
            f"use one of: {', '.join(with_gpu)}"
            if with_gpu
            else f"pick a GPU offered on {cfg.cloud}: " + ", ".join(sorted({s.gpu for s in offered.values() if s.gpu}))
        )
        yield Problem(f"{path}.gpu", why, fix)
    if is_gpu_pool and not spec.gpu:
        yield Problem(
            f"{path}.instanceType",
            f"{pool.instance_type} has no GPU but is listed as a GPU pool",
            f"use a GPU type ({', '.join(gpu_types)}) or move it to systemPool",
        )
