"""The stack cost estimate (stacks/cost.py) against a hand calculation from the catalog, and its rules: spot,
NAT strategies, load balancers, the budget check, stacks the catalog cannot price."""

from pathlib import Path

import pytest
import yaml

from stacks import cost
from stacks.load import validated
from stacks.preflight import run as preflight
from tests.renderkit import stack_values

CATALOG = yaml.safe_load((Path(cost.__file__).with_name("catalog.yaml")).read_text())
H = 730  # hours a month


def _config(stack: str, **changes):
    return validated({**stack_values(stack), **changes})


def _prices(cloud: str) -> dict[str, float]:
    return {key: p["usd"] for key, p in CATALOG["clouds"][cloud]["prices"].items()}


def _hourly(cloud: str, instance: str) -> float:
    return CATALOG["clouds"][cloud]["instances"][instance]["price_per_hour_usd"]


def dev_by_hand() -> tuple[float, float]:
    """dev's monthly (min, max), calculated by hand from catalog.yaml."""
    p, assumed = _prices("aws"), CATALOG["assumptions"]
    disk = 200 * p["block_storage_gb_month"]  # each node's 200 GB gp3 root volume
    system_node = _hourly("aws", "m7i.xlarge") * H + disk  # 0.2016 x 730 + 16 = 163.168
    spot = 1 - CATALOG["clouds"]["aws"]["spot"]["discount"]
    gpu_node = _hourly("aws", "g6.xlarge") * spot * H + disk  # 0.8048 x 0.4 x 730 + 16 = 251.0016
    eks = p["control_plane_hour"] * H  # 73
    nat = (p["nat_gateway_hour"] + p["public_ipv4_hour"]) * H + assumed["nat_gb_per_month"] * p["nat_gb"]  # one NAT: 41
    # the prefetch Job copies the hub models into the bucket: the chat model in W4A16, 8.03B parameters of which
    # 0.525B embeddings stay 16-bit: 7.505 x (0.5 + 2/128) + 0.525 x 2 = 4.92 GB; MiniLM (22.7M params, bf16) 0.045 GB
    stored = 7.505 * (0.5 + 2 / 128) + 0.525 * 2 + 0.0227 * 2
    reports = assumed["benchmark_reports_gb"]  # the benchmark Job uploads its runs: 1 GB
    bucket = (assumed["bucket_gb"] + stored + reports) * p["object_storage_gb_month"]  # 55.97 GB S3: 1.29
    # MinIO 50 + etcd 10 + Milvus standalone 10 + Redis 8 + the app's (OGX) 10 = 88 GB gp3
    volumes = (50 + 10 + 10 + 8 + 10) * p["block_storage_gb_month"]  # 7.04
    fixed = eks + nat + bucket + volumes
    low = 2 * system_node + 0 * gpu_node + fixed  # systemPool minNodes 2, gpu-l4 minNodes 0
    high = 3 * system_node + 2 * gpu_node + fixed  # maxNodes 3 and 2
    return low, high


def test_dev_monthly_range_is_the_hand_calculation_from_the_catalog():
    low, high = dev_by_hand()
    p = _prices("aws")
    gpu_node = (
        _hourly("aws", "g6.xlarge") * (1 - CATALOG["clouds"]["aws"]["spot"]["discount"]) * H
        + 200 * p["block_storage_gb_month"]
    )
    estimate = cost.estimate(_config("dev"))
    assert estimate.min_usd == pytest.approx(low) and estimate.max_usd == pytest.approx(high)
    assert (round(low, 2), round(high, 2)) == (448.66, 1113.83)  # at the 2025-09-01 prices
    assert estimate.range == "$449..$1,114/month"
    lines = {line.item: line for line in estimate.lines}
    assert lines["pool gpu-l4"].max_usd == pytest.approx(2 * gpu_node)
    assert "spot" in lines["pool gpu-l4"].detail and "on-demand" in lines["pool system"].detail
    assert "load balancer" not in lines  # vllm mode: a ClusterIP Service, no load balancer


def prod_by_hand() -> tuple[float, float]:
    """prod's monthly (min, max), calculated by hand from catalog.yaml."""
    p, assumed = _prices("gcp"), CATALOG["assumptions"]
    disk = 200 * p["block_storage_gb_month"]  # pd-balanced: 20
    system_node = _hourly("gcp", "n2-standard-8") * H + disk  # 0.3885 x 730 + 20 = 303.605
    gpu_node = _hourly("gcp", "g2-standard-8") * H + disk  # 0.8536 x 730 + 20 = 643.128
    gke = p["control_plane_hour"] * H  # regional cluster: no free-tier credit

    def cloud_nat(vms: int) -> float:  # per VM-hour up to 32 VMs, one external IP, 100 GB processed
        vm_hours = min(vms * p["nat_vm_hour"], p["nat_gateway_hour"]) * H
        return vm_hours + p["public_ipv4_hour"] * H + assumed["nat_gb_per_month"] * p["nat_gb"]

    # llm-d on GKE: gke-l7-rilb, a forwarding rule and one proxy instance, 100 GB processed
    lb = (p["load_balancer_hour"] + p["load_balancer_proxy_hour"]) * H + 100 * p["load_balancer_gb"]  # 37.3
    # prefetched: Llama 3.1 8B in FP8 (7.505 x 1 + 0.525 x 2 = 8.555 GB), Llama Guard 3 1B in bf16 (1.5 x 2 = 3 GB),
    # MiniLM (0.045 GB)
    stored = 7.505 + 0.525 * 2 + 1.5 * 2 + 0.0227 * 2
    reports = assumed["benchmark_reports_gb"]  # the benchmark Job uploads its runs: 1 GB
    bucket = (assumed["bucket_gb"] + stored + reports) * p["object_storage_gb_month"]  # 62.6 GB: 1.25
    # Milvus distributed: 4 MinIO drives x 200 GB + 3 etcd x 10 GB; Redis 8 GB; the app has 2 replicas: no PVC
    volumes = (4 * 200 + 3 * 10 + 8) * p["block_storage_gb_month"]  # 83.8
    low = 3 * system_node + 1 * gpu_node + gke + cloud_nat(3 + 1) + lb + bucket + volumes
    high = 6 * system_node + 6 * gpu_node + gke + cloud_nat(6 + 6) + lb + bucket + volumes
    return low, high


def test_prod_monthly_range_is_the_hand_calculation_from_the_catalog():
    low, high = prod_by_hand()
    estimate = cost.estimate(_config("prod"))
    assert estimate.min_usd == pytest.approx(low) and estimate.max_usd == pytest.approx(high)
    assert (round(low, 2), round(high, 2)) == (1761.53, 5896.16)  # at the 2025-09-01 prices
    assert "free tier" in next(line.detail for line in estimate.lines if line.item == "control plane")


def test_nat_gateways_follow_the_aws_strategy_and_cloud_nat_caps_at_32_vms():
    one_per_zone = _config("dev", cluster={**stack_values("dev")["cluster"], "aws": {"singleNatGateway": False}})
    assert cost.nat_gateways(_config("dev")) == 1 and cost.nat_gateways(one_per_zone) == 3
    nat = {line.item: line for line in cost.estimate(one_per_zone).lines}["NAT"]
    p = _prices("aws")
    assert nat.max_usd == pytest.approx(3 * (p["nat_gateway_hour"] + p["public_ipv4_hour"]) * H + 100 * p["nat_gb"])
    big = {
        **stack_values("prod")["cluster"],
        "gpuPools": [{"name": "gpu-l4", "instanceType": "g2-standard-8", "maxNodes": 40}],
    }
    nat = {line.item: line for line in cost.estimate(_config("prod", cluster=big)).lines}["NAT"]
    g = _prices("gcp")
    assert nat.max_usd == pytest.approx(g["nat_gateway_hour"] * H + g["public_ipv4_hour"] * H + 100 * g["nat_gb"])


def test_a_refreshed_spot_price_wins_over_the_discount(monkeypatch):
    from stacks import catalog

    spec = catalog.instance("aws", "g6.xlarge").model_copy(update={"spot_price_per_hour_usd": 0.5})
    monkeypatch.setitem(catalog.instances("aws"), "g6.xlarge", spec)
    hourly, how = cost.node_price(_config("dev"), _config("dev").cluster.gpu_pools[0])
    assert hourly == 0.5 and "spot" in how


def test_the_bucket_holds_what_the_quantize_and_prefetch_jobs_write():
    serving = stack_values("dev")["serving"]
    model = {**serving["models"][0], "quantizeFrom": "meta-llama/Llama-3.1-8B-Instruct"}
    model.pop("shape")
    cfg = _config("dev", serving={**serving, "models": [model]})
    # the quantize Job's W4A16 artifact: (8.03 - 0.525) x (0.5 + 2/128) + 0.525 x 2 = 4.92 GB; MiniLM prefetched
    assert cost.stored_models(cfg) == [
        ("llama-3-1-8b", pytest.approx(7.505 * (0.5 + 2 / 128) + 1.05)),
        ("all-minilm-l6-v2", pytest.approx(0.0454)),
    ]
    no_prefetch = _config("dev", serving={**serving, "models": [model], "prefetch": {"enabled": False}})
    assert [name for name, _ in cost.stored_models(no_prefetch)] == ["llama-3-1-8b"]  # quantized only
    # dev runs the benchmark Job, which uploads its runs to the bucket: 1 GB assumed (catalog.yaml)
    assert cost.bucket_gb(cfg) == pytest.approx(50 + 7.505 * (0.5 + 2 / 128) + 1.05 + 0.0454 + 1)
    jobs = stack_values("dev")["jobs"]
    no_reports = _config("dev", serving={**serving, "models": [model]}, jobs={**jobs, "benchmark": {"enabled": False}})
    assert cost.bucket_gb(no_reports) == pytest.approx(50 + 7.505 * (0.5 + 2 / 128) + 1.05 + 0.0454)
    kept_in_the_pod = _config(
        "dev", serving={**serving, "models": [model]}, jobs={**jobs, "benchmark": {"enabled": True, "upload": False}}
    )
    assert cost.benchmark_reports_gb(kept_in_the_pod) == 0


def test_an_external_gateway_class_is_priced_as_its_load_balancer():
    serving = {**stack_values("prod")["serving"], "inferenceGateway": {"className": "istio"}}
    lines = {line.item: line for line in cost.estimate(_config("prod", serving=serving)).lines}
    assert "istio creates" in lines["load balancer"].detail
    p = _prices("gcp")
    assert lines["load balancer"].max_usd == pytest.approx(p["load_balancer_hour"] * H + 100 * p["load_balancer_gb"])


def test_budget_excess_names_the_total_the_top_lines_and_the_budget():
    assert cost.budget_excess(_config("dev")) is None
    excess = cost.budget_excess(_config("dev", monthlyBudgetUsd=1000))
    assert excess.message.startswith(
        "the stack costs up to $1,114/month at maxNodes (pool gpu-l4 $502, pool system $490"
    )
    assert excess.message.endswith("over the budget of $1,000")
    (problem,) = [
        p
        for p in preflight(_config("dev", monthlyBudgetUsd=1000), frozenset({"hfToken"}))
        if p.path == "monthlyBudgetUsd"
    ]
    assert problem.message == excess.message and problem.fix == excess.fix


def test_existing_clusters_and_unknown_instance_types_are_not_priced():
    assert cost.estimate(validated(stack_values("local"))) is None
    cluster = {
        **stack_values("dev")["cluster"],
        "gpuPools": [{"name": "gpu-l4", "instanceType": "g9.mega", "maxNodes": 1}],
    }
    with pytest.raises(cost.UnpricedStack, match=r"g9\.mega"):
        cost.estimate(_config("dev", cluster=cluster))
    assert cost.budget_excess(_config("dev", cluster=cluster, monthlyBudgetUsd=1)) is None  # the pool check reports it
