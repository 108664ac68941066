"""Refresh the catalog's prices from the providers' public price lists.

    python -m stacks.prices refresh                      # show what would change (needs a network)
    python -m stacks.prices refresh --write              # and rewrite stacks/catalog.yaml (comments kept)
    python -m stacks.prices refresh --offline DIR        # from saved price-list files instead of the network

Sources, per cloud (the catalog's region):
- aws: the AWS Price List bulk JSON offer files (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/
  current/<region>/index.json: AmazonEC2, AmazonEKS, AmazonVPC, AWSELB, AmazonS3), on-demand terms; and the Spot
  Instance Advisor's public data (savings over on-demand per instance type) for spot prices. The EC2 file is
  gigabytes: it is saved to a temporary file and read twice with ijson (a streaming JSON parser) rather than
  loaded into memory.
- gcp: the Cloud Billing Catalog API (https://cloudbilling.googleapis.com/v1/services/<service>/skus). It needs an
  API key: set GOOGLE_API_KEY; it is sent as the X-Goog-Api-Key header, never in the URL. A machine type's price
  is vCPUs x its family's core SKU + GiB x its RAM SKU (+ GPUs x the GPU SKU), on-demand and spot.

Each catalog price is found by a selector below (attributes of an AWS product, a description pattern of a GCP
SKU). A price no selector finds is reported and left as it is, never guessed. Offline, DIR holds the same
formats: DIR/aws/<offer>.json, DIR/aws/spot-advisor-data.json and DIR/gcp/<service id>*.json (SKU list pages);
tests/stacks/price_samples/ is a small saved sample of each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
import yaml

from stacks import catalog
from stacks.catalog import Cloud

CATALOG = Path(catalog.__file__).with_name("catalog.yaml")
AWS_OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
AWS_SPOT_ADVISOR_URL = "https://spot-bio.s3.amazonaws.com/spot-advisor-data.json"
GCP_SKUS_URL = "https://cloudbilling.googleapis.com/v1/services/{service}/skus?currencyCode=USD&pageSize=5000"
GCP_API_KEY_ENV = "GOOGLE_API_KEY"


# --- what to look for ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsSelector:
    """An AWS product: its offer, product family and attributes (`usagetype` matched by suffix: regions prefix it)."""

    offer: str
    family: str
    attributes: tuple[tuple[str, str], ...] = ()
    usagetype_suffix: str = ""

    def matches(self, product: dict[str, Any]) -> bool:
        attrs = product.get("attributes") or {}
        return (
            product.get("productFamily") == self.family
            and all(attrs.get(k) == v for k, v in self.attributes)
            and str(attrs.get("usagetype", "")).endswith(self.usagetype_suffix)
        )


AWS_PRICES: dict[str, AwsSelector] = {
    "control_plane_hour": AwsSelector("AmazonEKS", "Compute", usagetype_suffix="AmazonEKS-Hours:perCluster"),
    "nat_gateway_hour": AwsSelector("AmazonEC2", "NAT Gateway", usagetype_suffix="NatGateway-Hours"),
    "nat_gb": AwsSelector("AmazonEC2", "NAT Gateway", usagetype_suffix="NatGateway-Bytes"),
    "public_ipv4_hour": AwsSelector("AmazonVPC", "VPC Public IPv4 Address", usagetype_suffix="PublicIPv4:InUseAddress"),
    "load_balancer_hour": AwsSelector("AWSELB", "Load Balancer-Network", usagetype_suffix="LoadBalancerUsage"),
    "load_balancer_gb": AwsSelector("AWSELB", "Load Balancer-Network", usagetype_suffix="LCUUsage"),
    "block_storage_gb_month": AwsSelector("AmazonEC2", "Storage", (("volumeApiName", "gp3"),)),
    "object_storage_gb_month": AwsSelector(
        "AmazonS3", "Storage", (("volumeType", "Standard"),), usagetype_suffix="TimedStorage-ByteHrs"
    ),
}
"""Catalog price key -> the AWS product that prices it."""


def aws_instance_selector(instance_type: str) -> AwsSelector:
    """On-demand Linux, shared tenancy, no pre-installed software, capacity in use (what EKS nodes run as)."""
    attributes = (
        ("instanceType", instance_type),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
        ("licenseModel", "No License required"),
    )
    return AwsSelector("AmazonEC2", "Compute Instance", attributes)


GCP_SERVICES = {
    "compute": "6F81-5844-456A",
    "gke": "CCD8-9BF1-090E",
    "networking": "E505-1604-58F8",
    "storage": "95FF-2EF5-5EA1",
}
"""Cloud Billing Catalog service ids."""

GCP_PRICES: dict[str, tuple[str, str]] = {
    "control_plane_hour": ("gke", r"^Regional Kubernetes Clusters$"),
    "nat_vm_hour": ("networking", r"^Cloud NAT Gateway: Uptime charge"),
    "nat_gb": ("networking", r"^Cloud NAT Gateway: Data processing charge"),
    "public_ipv4_hour": ("compute", r"^External IP Charge on a Standard VM"),
    "load_balancer_hour": ("networking", r"Internal Application Load Balancer Forwarding Rule"),
    "load_balancer_proxy_hour": ("networking", r"Internal Application Load Balancer Proxy Instance"),
    "load_balancer_gb": ("networking", r"Internal Application Load Balancer Inbound Data Processing"),
    "block_storage_gb_month": ("compute", r"^Balanced PD Capacity"),
    "object_storage_gb_month": ("storage", r"^Standard Storage "),
}
"""Catalog price key -> (service, SKU description pattern), on-demand, offered in the catalog's region."""

GCP_GPU_SKUS = {
    "T4": "Nvidia Tesla T4 GPU",
    "L4": "Nvidia L4 GPU",
    "A100-40GB": "Nvidia Tesla A100 GPU",
    "A100-80GB": "Nvidia Tesla A100 80GB GPU",
    "H100": "Nvidia H100 80GB GPU",
}
"""Catalog GPU -> the start of its GCP SKU description."""


# --- results -------------------------------------------------------------------------------------------------


@dataclass
class CloudUpdate:
    """New prices for one cloud of the catalog."""

    cloud: Cloud
    instances: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    """Instance type -> (on-demand, spot or None) per hour."""
    instance_date: str | None = None
    prices: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Catalog price key -> (USD, date)."""
    missing: list[str] = field(default_factory=list)
    """What no selector found (left unchanged)."""


# --- AWS -----------------------------------------------------------------------------------------------------


def _aws_products(path: Path, selectors: list[AwsSelector]) -> dict[AwsSelector, list[str]]:
    """SKUs of the products each selector matches (first pass over the offer file)."""
    found: dict[AwsSelector, list[str]] = {s: [] for s in selectors}
    with path.open("rb") as f:
        for sku, product in ijson.kvitems(f, "products"):
            for selector in selectors:
                if selector.matches(product):
                    found[selector].append(sku)
    return found


def _aws_on_demand(path: Path, skus: set[str]) -> dict[str, float]:
    """SKU -> on-demand USD of its first tier (second pass: terms.OnDemand)."""
    prices: dict[str, float] = {}
    with path.open("rb") as f:
        for sku, terms in ijson.kvitems(f, "terms.OnDemand"):
            if sku not in skus:
                continue
            for term in terms.values():
                dimensions = sorted(term["priceDimensions"].values(), key=lambda d: float(d.get("beginRange", 0)))
                usd = float(dimensions[0]["pricePerUnit"]["USD"])
                prices[sku] = usd if sku not in prices else min(prices[sku], usd)
    return prices


def _aws_publication_date(path: Path) -> str:
    with path.open("rb") as f:
        for key, value in ijson.kvitems(f, ""):
            if key == "publicationDate":
                return str(value)[:10]
            if key == "products":
                break
    return ""


def aws_update(offers: dict[str, Path], spot_advisor: Path | None, region: str) -> CloudUpdate:
    """New AWS prices from saved offer files (offer name -> path) and the Spot Instance Advisor's data."""
    update = CloudUpdate("aws")
    instance_selectors = {name: aws_instance_selector(name) for name in catalog.instances("aws")}
    wanted = [*AWS_PRICES.values(), *instance_selectors.values()]
    chosen: dict[AwsSelector, float] = {}
    dates: dict[str, str] = {}
    for offer, path in offers.items():
        selectors = [s for s in wanted if s.offer == offer]
        if not selectors:
            continue
        matches = _aws_products(path, selectors)
        prices = _aws_on_demand(path, {sku for skus in matches.values() for sku in skus})
        dates[offer] = _aws_publication_date(path)
        for selector, skus in matches.items():
            known = [prices[s] for s in skus if s in prices and prices[s] > 0]
            if known:
                chosen[selector] = min(known)
    savings = _spot_savings(spot_advisor, region) if spot_advisor else {}
    for name, selector in instance_selectors.items():
        if selector in chosen:
            on_demand = chosen[selector]
            spot = round(on_demand * (1 - savings[name] / 100), 4) if name in savings else None
            if spot is None:
                update.missing.append(f"spot price of {name}")
            update.instances[name] = (on_demand, spot)
        elif selector.offer in offers:
            update.missing.append(f"instance {name}")
    update.instance_date = dates.get("AmazonEC2") or None
    for key, selector in AWS_PRICES.items():
        if selector in chosen:
            update.prices[key] = (chosen[selector], dates[selector.offer])
        elif selector.offer in offers:
            update.missing.append(key)
    return update


def _spot_savings(path: Path, region: str) -> dict[str, float]:
    """Instance type -> the Spot Instance Advisor's savings over on-demand, in percent (Linux)."""
    data = json.loads(path.read_text())
    linux = data.get("spot_advisor", {}).get(region, {}).get("Linux", {})
    return {name: float(v["s"]) for name, v in linux.items() if "s" in v}


# --- GCP -----------------------------------------------------------------------------------------------------


def _unit_price(sku: dict[str, Any]) -> float | None:
    """USD per usage unit of the SKU's current price: its first tier that is not free."""
    for info in sku.get("pricingInfo", [])[:1]:
        for rate in sorted(info["pricingExpression"]["tieredRates"], key=lambda r: r.get("startUsageAmount", 0)):
            price = rate["unitPrice"]
            usd = int(price.get("units") or 0) + price.get("nanos", 0) / 1e9
            if usd > 0:
                return usd
    return None


def _effective_date(sku: dict[str, Any]) -> str:
    return str((sku.get("pricingInfo") or [{}])[0].get("effectiveTime", ""))[:10]


def _gcp_find(skus: list[dict[str, Any]], pattern: str, region: str, usage: str = "OnDemand") -> dict[str, Any] | None:
    regex = re.compile(pattern)
    for sku in skus:
        category = sku.get("category") or {}
        if (
            regex.search(sku.get("description", ""))
            and region in sku.get("serviceRegions", [])
            and category.get("usageType", "OnDemand") == usage
            and _unit_price(sku) is not None
        ):
            return sku
    return None


def _machine_family(instance_type: str) -> str:
    return instance_type.split("-", 1)[0].upper()


def gcp_update(skus: dict[str, list[dict[str, Any]]], region: str) -> CloudUpdate:
    """New GCP prices from SKU lists (service key -> SKUs)."""
    update = CloudUpdate("gcp")
    compute = skus.get("compute", [])
    dates: list[str] = []

    def machine(instance: catalog.InstanceSpec, usage: str) -> float | None:
        family = _machine_family(instance.name)
        prefix = "Spot Preemptible " if usage == "Preemptible" else ""
        core = _gcp_find(compute, rf"^{prefix}{family} Instance Core running in ", region, usage)
        ram = _gcp_find(compute, rf"^{prefix}{family} Instance Ram running in ", region, usage)
        parts = [core, ram]
        total = (
            (_unit_price(core) or 0) * instance.vcpus + (_unit_price(ram) or 0) * instance.memory_gb
            if core and ram
            else None
        )
        if total is not None and instance.gpu:
            spot = " attached to Spot Preemptible VMs" if usage == "Preemptible" else ""
            gpu = _gcp_find(
                compute, rf"^{re.escape(GCP_GPU_SKUS.get(instance.gpu, instance.gpu))}{spot} running in ", region, usage
            )
            parts.append(gpu)
            total = total + (_unit_price(gpu) or 0) * instance.gpu_count if gpu else None
        if total is not None:
            dates.extend(_effective_date(p) for p in parts if p)
        return round(total, 4) if total is not None else None

    if compute:
        for name, instance in catalog.instances("gcp").items():
            on_demand = machine(instance, "OnDemand")
            if on_demand is None:
                update.missing.append(f"instance {name}")
                continue
            spot = machine(instance, "Preemptible")
            if spot is None:
                update.missing.append(f"spot price of {name}")
            update.instances[name] = (on_demand, spot)
        update.instance_date = max(dates) if dates else None
    for key, (service, pattern) in GCP_PRICES.items():
        if service not in skus:
            continue
        sku = _gcp_find(skus[service], pattern, region)
        if sku is None:
            update.missing.append(key)
            continue
        usd = _unit_price(sku)
        assert usd is not None
        update.prices[key] = (usd, _effective_date(sku))
    return update


# --- rewriting catalog.yaml ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _set_field(line: str, key: str, value: str) -> str:
    """`key: value` inside a flow mapping line, replaced (unless it is the same number) or added before the
    closing brace."""
    pattern = re.compile(rf"(\b{re.escape(key)}: )(\"[^\"]*\"|[^,}}]+)")
    found = pattern.search(line)
    if found is None:
        return re.sub(r"\s*}\s*$", f", {key}: {value}}}", line.rstrip()) + "\n"
    old = found.group(2).strip()
    if not value.startswith('"') and re.fullmatch(r"[\d.]+", old) and float(old) == float(value):
        return line
    return line[: found.start(2)] + value + line[found.start(2) + len(old) :]


def apply(text: str, update: CloudUpdate) -> str:
    """catalog.yaml with `update`'s prices and dates, every other line (and comment) as it was. The cloud's
    price_date moves only when every instance was refreshed; otherwise the refreshed ones get their own."""
    every_instance = not any(m.startswith("instance ") for m in update.missing)
    out, cloud, section = [], None, None
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        name = stripped.split(":", 1)[0]
        if indent == 2 and stripped.endswith(":"):
            cloud, section = name, None
        elif indent == 4 and stripped.endswith(":"):
            section = name
        elif indent == 0 and stripped:
            cloud = section = None
        if cloud == update.cloud:
            if indent == 4 and name == "price_date" and update.instance_date and every_instance:
                line = re.sub(r'"[^"]*"', f'"{update.instance_date}"', line, count=1)
            elif indent == 6 and section == "instances" and name in update.instances:
                on_demand, spot = update.instances[name]
                line = _set_field(line, "price_per_hour_usd", _number(on_demand))
                if spot is not None:
                    line = _set_field(line, "spot_price_per_hour_usd", _number(spot))
                if update.instance_date and not every_instance:  # the others keep the section's date
                    line = _set_field(line, "price_date", f'"{update.instance_date}"')
            elif indent == 6 and section == "prices" and name in update.prices:
                usd, date = update.prices[name]
                line = _set_field(_set_field(line, "usd", _number(usd)), "date", f'"{date}"')
        out.append(line)
    return "".join(out)


def changes(before: str, after: str) -> list[str]:
    """Readable `what: old -> new` lines between two catalog texts."""
    old, new = yaml.safe_load(before)["clouds"], yaml.safe_load(after)["clouds"]
    out = []
    for cloud in new:
        for key, value in new[cloud].get("prices", {}).items():
            was = old[cloud]["prices"].get(key, {})
            if (was.get("usd"), was.get("date")) != (value["usd"], value["date"]):
                out.append(f"{cloud} {key}: {was.get('usd')} ({was.get('date')}) -> {value['usd']} ({value['date']})")
        for name, spec in new[cloud]["instances"].items():
            was = old[cloud]["instances"].get(name, {})
            for field_name in ("price_per_hour_usd", "spot_price_per_hour_usd"):
                if was.get(field_name) != spec.get(field_name):
                    out.append(f"{cloud} {name} {field_name}: {was.get(field_name)} -> {spec.get(field_name)}")
        if old[cloud]["price_date"] != new[cloud]["price_date"]:
            out.append(f"{cloud} price_date: {old[cloud]['price_date']} -> {new[cloud]['price_date']}")
    return out


# --- sources ---------------------------------------------------------------------------------------------------


def _download(url: str, dest: Path, headers: dict[str, str] | None = None) -> Path:
    print(f"  downloading {url} ...", file=sys.stderr, flush=True)
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=120) as response, dest.open("wb") as f:
        shutil.copyfileobj(response, f, length=1 << 20)
    return dest


def _gcp_pages(service: str, api_key: str) -> Iterator[dict[str, Any]]:
    token = ""
    while True:
        url = GCP_SKUS_URL.format(service=service) + (f"&pageToken={token}" if token else "")
        request = urllib.request.Request(url, headers={"X-Goog-Api-Key": api_key})
        with urllib.request.urlopen(request, timeout=120) as response:
            page = json.load(response)
        yield page
        token = page.get("nextPageToken", "")
        if not token:
            return


def _skus_of(pages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [sku for page in pages for sku in page.get("skus", [])]


def offline_sources(folder: Path, cloud: Cloud, region: str) -> CloudUpdate:
    if cloud == "aws":
        offers = {p.stem: p for p in (folder / "aws").glob("*.json") if p.stem != "spot-advisor-data"}
        advisor = folder / "aws" / "spot-advisor-data.json"
        return aws_update(offers, advisor if advisor.exists() else None, region)
    skus = {
        key: _skus_of(json.loads(p.read_text()) for p in sorted((folder / "gcp").glob(f"{service}*.json")))
        for key, service in GCP_SERVICES.items()
    }
    return gcp_update({k: v for k, v in skus.items() if v}, region)


def online_sources(cloud: Cloud, region: str, workdir: Path) -> CloudUpdate:
    if cloud == "aws":
        offers = {
            offer: _download(AWS_OFFER_URL.format(offer=offer, region=region), workdir / f"{offer}.json")
            for offer in sorted({s.offer for s in AWS_PRICES.values()} | {"AmazonEC2"})
        }
        advisor = _download(AWS_SPOT_ADVISOR_URL, workdir / "spot-advisor-data.json")
        return aws_update(offers, advisor, region)
    api_key = os.environ.get(GCP_API_KEY_ENV, "")
    if not api_key:
        raise SystemExit(
            f"error: gcp: set {GCP_API_KEY_ENV} to an API key with the Cloud Billing API enabled (sent as a header, "
            "never in the URL), or pass --cloud aws"
        )
    print("  reading the Cloud Billing Catalog ...", file=sys.stderr, flush=True)
    return gcp_update({key: _skus_of(_gcp_pages(service, api_key)) for key, service in GCP_SERVICES.items()}, region)


def refresh(clouds: list[Cloud], source: Callable[[Cloud, str], CloudUpdate], text: str) -> tuple[str, list[str]]:
    """The catalog text with every cloud's prices refreshed, and what could not be found."""
    missing = []
    for cloud in clouds:
        update = source(cloud, catalog.cloud(cloud).region)
        text = apply(text, update)
        missing += [f"{cloud}: {m}" for m in update.missing]
    catalog.validate(yaml.safe_load(text))  # still a valid catalog
    return text, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.prices", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("refresh", help="reload the catalog's prices from the providers' price lists")
    cmd.add_argument("--cloud", action="append", choices=["aws", "gcp"], help="only this cloud (repeatable)")
    cmd.add_argument("--offline", type=Path, metavar="DIR", help="read saved price-list files from DIR")
    cmd.add_argument("--write", action="store_true", help=f"rewrite {CATALOG.name} (default: show the changes)")
    cmd.add_argument("--catalog", type=Path, default=CATALOG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    clouds: list[Cloud] = args.cloud or ["aws", "gcp"]
    if args.offline and not args.offline.is_dir():
        print(f"error: --offline {args.offline}: not a folder (expected {args.offline}/aws, {args.offline}/gcp)")
        return 2
    before = args.catalog.read_text()
    with tempfile.TemporaryDirectory(prefix="leanrag-prices-") as workdir:

        def source(cloud: Cloud, region: str) -> CloudUpdate:
            if args.offline:
                return offline_sources(args.offline, cloud, region)
            return online_sources(cloud, region, Path(workdir))

        after, missing = refresh(clouds, source, before)
    for line in changes(before, after) or ["no price changed"]:
        print(line)
    for line in missing:
        print(f"not found (unchanged): {line}")
    if args.write and after != before:
        args.catalog.write_text(after)
        print(f"wrote {args.catalog}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
