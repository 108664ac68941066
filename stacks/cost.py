"""The monthly cost of a whole stack, from its config and the catalog's dated list prices.

`estimate` prices what the stack creates: every node pool at its minimum and its maximum size (instances at
on-demand or spot prices, plus each node's root disk), the control plane, NAT, the inference gateway's load
balancer, the model bucket and the persistent volumes. Usage-dependent charges are priced at the catalog's
stated assumptions; what is not priced is listed. The result is a range, min..max: the pools at minNodes, then
at maxNodes. `budget_excess` compares the maximum with `monthlyBudgetUsd`; preflight and the policy pack both
call it, so they refuse the same stack with the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stacks import catalog, memory
from stacks.catalog import CloudPrices, PriceKey
from stacks.config import StackConfig
from stacks.config.cluster import NodePool
from stacks.models import FALLBACK_WEIGHTS_GB, model_entries, model_shape
from stacks.serving_modes import router_choice

HOURS_PER_MONTH = 730
"""Hours in an average month (8,760 / 12), as the providers' calculators count."""

# Persistent volumes as the data and app layers render them (tests/infra/test_cost_matches_plan.py checks these
# numbers against the rendered Helm values and PersistentVolumeClaims).
MILVUS_ETCD_GB = 10
"""Each etcd member's volume (1 member standalone, 3 distributed)."""
MILVUS_ETCD_MEMBERS = {"standalone": 1, "distributed": 3}
MINIO_DRIVES = {"standalone": 1, "distributed": 4}
"""MinIO volumes of `storageGb` each: one standalone, the chart's 4 replicas x 1 drive distributed."""
RAG_APP_DATA_GB = 10
"""The RAG app's (OGX) volume, rendered only with one replica (several replicas use emptyDirs)."""
REDIS_REPLICAS = 1

NOT_PRICED = (
    "data transfer between zones and to the internet",
    "control-plane and workload logs and metrics (CloudWatch / Cloud Logging, Managed Prometheus)",
    "KMS keys and requests",
    "bucket requests and old object versions",
    "container registry storage",
)


class UnpricedStack(ValueError):
    """The stack names an instance type the catalog has no price for (preflight reports it)."""


@dataclass(frozen=True)
class CostLine:
    """One priced item: its monthly cost with the pools at their minimum and at their maximum size."""

    item: str
    detail: str
    min_usd: float
    max_usd: float

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "detail": self.detail, "min": round(self.min_usd, 4), "max": round(self.max_usd, 4)}


@dataclass(frozen=True)
class CostEstimate:
    cloud: str
    region: str
    lines: tuple[CostLine, ...]
    assumptions: tuple[str, ...]
    prices: str
    """Which price list: the cloud, region and the dates of the prices used."""
    not_priced: tuple[str, ...] = field(default=NOT_PRICED)

    @property
    def min_usd(self) -> float:
        return sum(line.min_usd for line in self.lines)

    @property
    def max_usd(self) -> float:
        return sum(line.max_usd for line in self.lines)

    @property
    def range(self) -> str:
        """`$1,234..$5,678/month`, whole dollars."""
        return f"{usd(self.min_usd)}..{usd(self.max_usd)}/month"

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "hoursPerMonth": HOURS_PER_MONTH,
            "monthly": {"min": round(self.min_usd, 4), "max": round(self.max_usd, 4)},
            "lines": [line.as_dict() for line in self.lines],
            "assumptions": list(self.assumptions),
            "prices": self.prices,
            "notPriced": list(self.not_priced),
        }

    def table(self) -> list[str]:
        """The lines behind the range, for a terminal."""
        width = max(len(line.item) for line in self.lines)
        out = [f"monthly cost ({self.prices}): {self.range}"]
        out += [
            f"  {line.item:<{width}}  {usd(line.min_usd):>9} .. {usd(line.max_usd):>9}  {line.detail}"
            for line in self.lines
        ]
        out += [f"  assumed: {a}" for a in self.assumptions]
        out.append(f"  not priced: {'; '.join(self.not_priced)}")
        return out


def usd(amount: float) -> str:
    return f"${amount:,.0f}"


def _rate(prices: CloudPrices, key: PriceKey) -> float:
    return prices.price(key).usd


def _monthly(hourly: float) -> float:
    return hourly * HOURS_PER_MONTH


def node_price(cfg: StackConfig, pool: NodePool) -> tuple[float, str]:
    """(hourly price of one node, how it was priced). Spot: the instance's refreshed spot price, else
    on-demand x (1 - the cloud's spot discount)."""
    assert cfg.cloud != "existing"
    spec = catalog.instance(cfg.cloud, pool.instance_type)
    if not pool.spot:
        return spec.price_per_hour_usd, f"${spec.price_per_hour_usd:g}/h on-demand"
    if spec.spot_price_per_hour_usd is not None:
        return spec.spot_price_per_hour_usd, f"${spec.spot_price_per_hour_usd:g}/h spot ({spec.price_date})"
    spot = catalog.cloud(cfg.cloud).spot
    hourly = spec.price_per_hour_usd * (1 - spot.discount)
    return hourly, f"${hourly:.4g}/h spot (on-demand ${spec.price_per_hour_usd:g} - {spot.discount:.0%}, {spot.date})"


def _disk(cfg: StackConfig) -> str:
    return "gp3" if cfg.cloud == "aws" else "pd-balanced"


def _pool_line(cfg: StackConfig, prices: CloudPrices, pool: NodePool) -> CostLine:
    hourly, how = node_price(cfg, pool)
    per_node = _monthly(hourly) + pool.disk_gb * _rate(prices, "block_storage_gb_month")
    return CostLine(
        f"pool {pool.name}",
        f"{pool.min_nodes}..{pool.max_nodes} x {pool.instance_type} at {how}, {pool.disk_gb} GB {_disk(cfg)} each",
        pool.min_nodes * per_node,
        pool.max_nodes * per_node,
    )


def _control_plane_line(cfg: StackConfig, prices: CloudPrices) -> CostLine:
    price = prices.price("control_plane_hour")
    monthly = _monthly(price.usd)
    if cfg.cloud == "aws":
        return CostLine("control plane", f"EKS at ${price.usd:g}/cluster-hour", monthly, monthly)
    credit = f"${price.free_tier_monthly_usd:.2f}/month " if price.free_tier_monthly_usd else ""
    return CostLine(
        "control plane",
        f"GKE management fee ${price.usd:g}/cluster-hour; regional cluster: the free tier ({credit}credit) "
        "covers zonal and Autopilot clusters only",
        monthly,
        monthly,
    )


def nat_gateways(cfg: StackConfig) -> int:
    """NAT gateways the AWS VPC creates: one, or one per zone (cluster.aws.singleNatGateway)."""
    return 1 if cfg.cluster.aws.single_nat_gateway else len(cfg.effective_zones())


def _nat_line(cfg: StackConfig, prices: CloudPrices) -> CostLine:
    gb = catalog.assumptions().nat_gb_per_month
    data = gb * _rate(prices, "nat_gb")
    address = _monthly(_rate(prices, "public_ipv4_hour"))
    if cfg.cloud == "aws":
        n = nat_gateways(cfg)
        monthly = n * (_monthly(_rate(prices, "nat_gateway_hour")) + address) + data
        return CostLine(
            "NAT",
            f"{n} NAT gateway(s) with an Elastic IP each at ${_rate(prices, 'nat_gateway_hour'):g}/h "
            f"+ ${_rate(prices, 'public_ipv4_hour'):g}/h, {gb:g} GB processed",
            monthly,
            monthly,
        )
    pools = [cfg.cluster.system_pool, *cfg.cluster.gpu_pools]
    vm_rate, cap = _rate(prices, "nat_vm_hour"), _rate(prices, "nat_gateway_hour")

    def cloud_nat(vms: int) -> float:
        return _monthly(min(vms * vm_rate, cap)) + address + data

    low, high = sum(p.min_nodes for p in pools), sum(p.max_nodes for p in pools)
    return CostLine(
        "NAT",
        f"Cloud NAT for {low}..{high} VMs at ${vm_rate:g}/VM-hour (at most ${cap:g}/h), one external IP, "
        f"{gb:g} GB processed",
        cloud_nat(low),
        cloud_nat(high),
    )


def gateway_class(cfg: StackConfig) -> str | None:
    """The GatewayClass of the router's Gateway (llm-d and kserve modes with a gateway router); None without one."""
    if cfg.serving.mode == "vllm":
        return None
    return router_choice(cfg.serving, cfg.cloud).class_name


def _load_balancer_line(cfg: StackConfig, prices: CloudPrices) -> CostLine | None:
    klass = gateway_class(cfg)
    if klass is None:
        return None
    assumed = catalog.assumptions()
    data = assumed.load_balancer_gb_per_month * _rate(prices, "load_balancer_gb")
    hourly = _rate(prices, "load_balancer_hour")
    if klass.startswith("gke-l7-") and cfg.cloud == "gcp":  # elsewhere preflight refuses it; price what would run
        regional = "rilb" in klass or "regional" in klass
        proxies = assumed.load_balancer_proxy_instances if regional else 0
        hourly += proxies * _rate(prices, "load_balancer_proxy_hour")
        scope = "internal" if "rilb" in klass else "external"
        what = f"{scope} Application LB ({klass}): forwarding rule" + (
            f" + {proxies} proxy instance(s)" if proxies else ""
        )
    else:
        what = f"the Service of type LoadBalancer that {klass} creates for the Gateway, priced as" + (
            " an NLB" if cfg.cloud == "aws" else " a forwarding rule"
        )
    monthly = _monthly(hourly) + data
    detail = f"{what} at ${hourly:g}/h, {assumed.load_balancer_gb_per_month:g} GB processed"
    return CostLine("load balancer", detail, monthly, monthly)


def stored_models(cfg: StackConfig) -> list[tuple[str, float]]:
    """(served name, GB) of the weights the stack's own Jobs write to its model store: the quantize Job's
    artifacts (quantizeFrom) and the prefetch Job's copies of hub models (no artifactUri, prefetch enabled)."""
    prefetch = cfg.serving.prefetch.enabled
    stored = []
    for _, model in model_entries(cfg):
        if model.quantize_from or (prefetch and model.artifact_uri is None):
            shape = model_shape(model)
            stored.append((model.name, memory.weights_gb(shape, model.precision) if shape else FALLBACK_WEIGHTS_GB))
    return stored


def benchmark_reports_gb(cfg: StackConfig) -> float:
    """GB of benchmark runs the benchmark Job uploads to the bucket (the catalog's assumption); 0 without it."""
    benchmark = cfg.jobs.benchmark
    return catalog.assumptions().benchmark_reports_gb if benchmark.enabled and benchmark.upload else 0.0


def bucket_gb(cfg: StackConfig) -> float:
    """The model store's assumed size: the catalog's baseline, the weights the stack's Jobs write to it (quantized
    artifacts, prefetched hub models) and the benchmark Job's reports."""
    return catalog.assumptions().bucket_gb + sum(gb for _, gb in stored_models(cfg)) + benchmark_reports_gb(cfg)


def _bucket_line(cfg: StackConfig, prices: CloudPrices) -> CostLine:
    gb = bucket_gb(cfg)
    monthly = gb * _rate(prices, "object_storage_gb_month")
    kind = "S3" if cfg.cloud == "aws" else "Cloud Storage"
    weights = sum(gb for _, gb in stored_models(cfg))
    reports = benchmark_reports_gb(cfg)
    parts = [f"assumed {catalog.assumptions().bucket_gb:g} GB", f"{weights:.1f} GB of quantized and prefetched weights"]
    parts += [f"{reports:g} GB of benchmark reports"] if reports else []
    return CostLine("model bucket", f"{kind} at {gb:.1f} GB ({' + '.join(parts)})", monthly, monthly)


def persistent_volumes(cfg: StackConfig) -> list[tuple[str, int, int]]:
    """(what, volumes, GB each) of every PersistentVolumeClaim the stack creates or its charts create."""
    platform = cfg.platform
    milvus = platform.milvus
    volumes = [
        ("Milvus MinIO", MINIO_DRIVES[milvus.mode], milvus.storage_gb),
        ("Milvus etcd", MILVUS_ETCD_MEMBERS[milvus.mode], MILVUS_ETCD_GB),
    ]
    if milvus.mode == "standalone":
        volumes.append(("Milvus standalone", 1, milvus.local_disk_gb))
    volumes.append(("Redis", REDIS_REPLICAS, platform.redis.storage_gb))
    if platform.app.replicas == 1:
        volumes.append(("RAG app (OGX)", 1, RAG_APP_DATA_GB))
    return volumes


def _volumes_line(cfg: StackConfig, prices: CloudPrices) -> CostLine:
    volumes = persistent_volumes(cfg)
    gb = sum(n * size for _, n, size in volumes)
    monthly = gb * _rate(prices, "block_storage_gb_month")
    parts = ", ".join(f"{what} {n} x {size}" if n > 1 else f"{what} {size}" for what, n, size in volumes)
    return CostLine("persistent volumes", f"{gb} GB {_disk(cfg)}: {parts} GB", monthly, monthly)


def _dates(cfg: StackConfig, prices: CloudPrices, pools: tuple[NodePool, ...]) -> str:
    assert cfg.cloud != "existing"
    instances = {catalog.instance(cfg.cloud, p.instance_type).price_date for p in pools}
    dates = {*instances, prices.spot.date, *(p.date for p in prices.prices.values())}
    return f"{cfg.cloud} {prices.region} list prices of {', '.join(sorted(dates))}"


def estimate(cfg: StackConfig) -> CostEstimate | None:
    """The stack's monthly cost range; None on an existing cluster (nothing the stack creates is billed)."""
    if cfg.cloud == "existing":
        return None
    pools = (cfg.cluster.system_pool, *cfg.cluster.gpu_pools)
    unknown = sorted({p.instance_type for p in pools} - set(catalog.instances(cfg.cloud)))
    if unknown:
        raise UnpricedStack(f"no {cfg.cloud} price for instance type(s) {', '.join(unknown)} in the catalog")
    prices = catalog.cloud(cfg.cloud)
    lines = [_pool_line(cfg, prices, p) for p in (cfg.cluster.system_pool, *cfg.cluster.gpu_pools)]
    lines += [_control_plane_line(cfg, prices), _nat_line(cfg, prices)]
    lb = _load_balancer_line(cfg, prices)
    lines += [lb] if lb else []
    lines += [_bucket_line(cfg, prices), _volumes_line(cfg, prices)]
    assumed = catalog.assumptions()
    assumptions = [
        f"{HOURS_PER_MONTH} hours a month; pools run at minNodes (min) or maxNodes (max) all month",
        f"{assumed.nat_gb_per_month:g} GB/month through NAT",
        f"model bucket {assumed.bucket_gb:g} GB besides the models' weights and the benchmark reports",
    ]
    if lb:
        assumptions.append(f"{assumed.load_balancer_gb_per_month:g} GB/month through the load balancer")
    if any(p.spot for p in cfg.cluster.gpu_pools) or cfg.cluster.system_pool.spot:
        assumptions.append(f"spot at the catalog's spot price or -{prices.spot.discount:.0%} ({prices.spot.source})")
    return CostEstimate(cfg.cloud, prices.region, tuple(lines), tuple(assumptions), _dates(cfg, prices, pools))


@dataclass(frozen=True)
class BudgetExcess:
    """The stack at maxNodes costs more than monthlyBudgetUsd."""

    estimate: CostEstimate
    budget_usd: float

    @property
    def message(self) -> str:
        top = sorted(self.estimate.lines, key=lambda line: -line.max_usd)[:3]
        parts = ", ".join(f"{line.item} {usd(line.max_usd)}" for line in top)
        return (
            f"the stack costs up to {usd(self.estimate.max_usd)}/month at maxNodes ({parts}, ...), "
            f"over the budget of {usd(self.budget_usd)}"
        )

    fix = (
        "lower cluster.systemPool/gpuPools[].maxNodes, use spot or smaller instances, or raise monthlyBudgetUsd "
        "(`python -m infra.plan <stack>` prints every line of the estimate)"
    )


def budget_excess(cfg: StackConfig) -> BudgetExcess | None:
    """The one budget check (preflight and the policy pack call it): the estimate's maximum against
    `monthlyBudgetUsd`; None when within budget or on an existing cluster."""
    try:
        cost = estimate(cfg)
    except UnpricedStack:
        return None  # preflight's pool check names the unknown type
    if cost is None or cost.max_usd <= cfg.monthly_budget_usd:
        return None
    return BudgetExcess(cost, cfg.monthly_budget_usd)
