"""Preflight of where the stack runs: the cloud, its region and API endpoint, and the node pools."""

from __future__ import annotations

import ipaddress
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
            "`pulumi config set --path leanrag:cluster.gcp.project <project id>` (the one `gcloud config get-value "
            "project` prints; the provider's gcp:project is not read by the program)",
        )


EGRESS_IP_COMMAND = "curl -s https://checkip.amazonaws.com"
"""Prints the caller's public egress IP (AWS's service; any "what is my IP" service does)."""
DOCUMENTATION_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
"""RFC 5737 / RFC 3849 ranges: examples in docs and stack files, never anyone's real address."""
_ENDPOINT = "cluster.apiEndpoint"


def _allow_your_ip(index: int) -> str:
    return (
        f"find your egress IP with `{EGRESS_IP_COMMAND}`, then `pulumi config set --path "
        f"'{NAMESPACE}:{_ENDPOINT}.allowedCidrs[{index}]' <that IP>/32` (add your VPN and CI runners' ranges too)"
    )


def check_api_endpoint(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """The Kubernetes API must be reachable by whoever deploys, and never by the whole internet."""
    if cfg.cloud == "existing":
        return
    ep = cfg.cluster.api_endpoint
    for i, cidr in enumerate(ep.allowed_cidrs):
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError as e:
            yield Problem(
                f"{_ENDPOINT}.allowedCidrs[{i}]", f"{cidr!r} is not a CIDR ({e})", "write it as 203.0.113.7/32"
            )
            continue
        if net.prefixlen == 0:
            yield Problem(
                f"{_ENDPOINT}.allowedCidrs[{i}]",
                f"{cidr} opens the Kubernetes API to the whole internet",
                "list only your own networks: " + _allow_your_ip(i),
            )
    if ep.access == "public":
        if not ep.allowed_cidrs:
            yield Problem(
                f"{_ENDPOINT}.allowedCidrs",
                "the API endpoint is public but lists no network that may reach it, so nobody could deploy",
                _allow_your_ip(0)
                + (
                    f"; or set {_ENDPOINT}: {{access: private, wayIn: dnsEndpoint}} (Google IAM, from any network)"
                    if cfg.cloud == "gcp"
                    else f"; or set {_ENDPOINT}: {{access: private, wayIn: inVpc}} and deploy from inside the VPC"
                ),
            )
        if ep.way_in is not None:
            yield Problem(
                f"{_ENDPOINT}.wayIn",
                "wayIn applies to access: private (a public endpoint is reached from allowedCidrs)",
                f"remove wayIn, or set {_ENDPOINT}.access: private",
            )
        return
    if ep.allowed_cidrs:
        yield Problem(
            f"{_ENDPOINT}.allowedCidrs",
            "allowedCidrs applies to access: public (a private endpoint has no public address)",
            f"remove allowedCidrs, or set {_ENDPOINT}.access: public",
        )
    if ep.way_in == "dnsEndpoint" and cfg.cloud != "gcp":
        yield Problem(
            f"{_ENDPOINT}.wayIn",
            "dnsEndpoint is GKE's IAM-authorised control plane address; EKS has none",
            "use wayIn: inVpc (a runner or agent inside the VPC), or access: public with your CIDRs: "
            + _allow_your_ip(0),
        )


def example_cidrs(cfg: StackConfig) -> list[str]:
    """allowedCidrs that lie in documentation ranges (the stack files' placeholders): nobody deploys from them."""
    if cfg.cloud == "existing" or cfg.cluster.api_endpoint.access != "public":
        return []
    out = []
    for cidr in cfg.cluster.api_endpoint.allowed_cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if any(net.version == doc.version and net.subnet_of(doc) for doc in DOCUMENTATION_NETS):  # type: ignore[arg-type]
            out.append(cidr)
    return out


def unreachable_endpoint(cfg: StackConfig) -> Problem | None:
    """A public API endpoint whose allowedCidrs are all examples (the stack files ship a documentation address
    as a placeholder): nobody could reach the API once the cluster exists. Not a preflight problem, so the
    example stacks still plan offline: the program warns in previews and refuses `pulumi up` (infra/assemble.py)."""
    examples = example_cidrs(cfg)
    if not examples or len(examples) < len(cfg.cluster.api_endpoint.allowed_cidrs):
        return None
    return Problem(
        f"{_ENDPOINT}.allowedCidrs",
        f"lists only example addresses ({', '.join(examples)}: documentation ranges no one deploys from), so the "
        "Kubernetes API would be unreachable once the cluster exists",
        _allow_your_ip(0),
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
