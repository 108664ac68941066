"""The price refresh (python -m stacks.prices) on saved samples of each public price list format: the AWS Price
List bulk JSON offers, the Spot Instance Advisor data and Cloud Billing Catalog SKU pages. Decoys in the samples
(Windows, dedicated, reserved terms, other regions, commitments, volume tiers) must not be picked."""

from pathlib import Path

import pytest
import yaml

from stacks import catalog, prices

SAMPLES = Path(__file__).with_name("price_samples")
CATALOG = Path(catalog.__file__).with_name("catalog.yaml")


def _aws() -> prices.CloudUpdate:
    offers = {p.stem: p for p in (SAMPLES / "aws").glob("*.json") if p.stem != "spot-advisor-data"}
    return prices.aws_update(offers, SAMPLES / "aws" / "spot-advisor-data.json", "us-east-1")


def test_aws_offers_give_on_demand_linux_prices_and_the_advisors_spot_savings():
    update = _aws()
    on_demand, spot = update.instances["g6.xlarge"]
    assert on_demand == 0.8048  # not Windows 0.9888, dedicated 0.8853, SQL 1.2848 or the reserved term 0.507
    assert spot == round(0.8048 * (1 - 0.61), 4)  # the advisor's 61% saving in us-east-1 (not us-west-2's 70%)
    assert update.instances["m7i.large"] == (0.1008, None)  # no advisor entry: no spot price
    assert update.prices == {
        "control_plane_hour": (0.10, "2025-11-20"),  # perCluster, not extendedSupport
        "nat_gateway_hour": (0.045, "2025-11-20"),
        "nat_gb": (0.045, "2025-11-20"),
        "public_ipv4_hour": (0.005, "2025-11-20"),  # in use, not idle
        "load_balancer_hour": (0.0225, "2025-11-20"),  # a Network LB, not an Application LB
        "load_balancer_gb": (0.006, "2025-11-20"),
        "block_storage_gb_month": (0.08, "2025-11-20"),  # gp3, not gp2
        "object_storage_gb_month": (0.023, "2025-11-20"),  # the first 50 TB tier of Standard
    }
    assert update.instance_date == "2025-11-20"
    assert "instance p5.48xlarge" in update.missing and "spot price of m7i.large" in update.missing


def test_gcp_skus_price_a_machine_type_from_its_family_and_gpu():
    skus = prices.offline_sources(SAMPLES, "gcp", "us-central1")
    on_demand, spot = skus.instances["g2-standard-8"]
    assert on_demand == round(8 * 0.024988 + 32 * 0.002927 + 0.56004, 4) == 0.8536  # cores + GiB + one L4
    assert spot == round(8 * 0.009995 + 32 * 0.001171 + 0.22402, 4)  # the Spot Preemptible SKUs
    assert skus.instances["n2-standard-8"] == (round(8 * 0.031611 + 32 * 0.004237, 4), None)
    assert skus.prices["control_plane_hour"] == (0.10, "2025-11-18")  # regional clusters
    assert skus.prices["block_storage_gb_month"][0] == 0.10  # Iowa, not Belgium
    assert skus.prices["object_storage_gb_month"][0] == 0.02  # Standard, not Nearline
    assert skus.prices["nat_vm_hour"][0] == 0.0014 and skus.prices["load_balancer_proxy_hour"][0] == 0.025
    assert "instance a3-highgpu-8g" in skus.missing and "spot price of n2-standard-8" in skus.missing


def test_refresh_rewrites_only_the_prices_and_dates_and_keeps_the_comments(tmp_path, capsys):
    copy = tmp_path / "catalog.yaml"
    copy.write_text(
        CATALOG.read_text().replace(
            "g2-standard-8:  {vcpus: 8,  memory_gb: 32,   price_per_hour_usd: 0.8536",
            "g2-standard-8:  {vcpus: 8,  memory_gb: 32,   price_per_hour_usd: 0.9999",
        )
    )
    before = copy.read_text()
    args = ["refresh", "--offline", str(SAMPLES), "--catalog", str(copy), "--write"]
    assert prices.main(args) == 0
    out = capsys.readouterr().out
    after = copy.read_text()
    assert "gcp g2-standard-8 price_per_hour_usd: 0.9999 -> 0.8536" in out
    assert "not found (unchanged): aws: instance p5.48xlarge" in out and f"wrote {copy}" in out
    old_lines, new_lines = before.splitlines(), after.splitlines()
    assert len(old_lines) == len(new_lines)
    assert [a for a in old_lines if a.lstrip().startswith("#")] == [b for b in new_lines if b.lstrip().startswith("#")]
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed and all("price" in a or "usd" in a for a, _ in changed)
    raw = yaml.safe_load(after)
    catalog.validate(raw)
    gcp = raw["clouds"]["gcp"]
    assert gcp["instances"]["g2-standard-8"]["spot_price_per_hour_usd"] == 0.3415
    # not every instance was in the sample: the refreshed ones carry their own date, the section keeps its own
    assert gcp["price_date"] == "2025-09-01" and gcp["instances"]["g2-standard-8"]["price_date"] == "2025-11-18"
    assert "price_date" not in gcp["instances"]["a3-highgpu-8g"]
    assert raw["clouds"]["aws"]["prices"]["control_plane_hour"] == {
        **yaml.safe_load(before)["clouds"]["aws"]["prices"]["control_plane_hour"],
        "date": "2025-11-20",
    }
    assert "usd: 0.10," in after  # an unchanged number keeps its spelling
    assert prices.main(args) == 0 and "no price changed" in capsys.readouterr().out  # idempotent


def test_gcp_needs_an_api_key_and_never_puts_it_in_a_url(monkeypatch, tmp_path):
    monkeypatch.delenv(prices.GCP_API_KEY_ENV, raising=False)
    with pytest.raises(SystemExit, match="set GOOGLE_API_KEY"):
        prices.online_sources("gcp", "us-central1", tmp_path)
    assert "key=" not in prices.GCP_SKUS_URL


def test_a_missing_offline_folder_is_a_clear_error(tmp_path, capsys):
    assert prices.main(["refresh", "--offline", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().out
