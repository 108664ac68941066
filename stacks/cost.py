"""GPU spend from the catalog's on-demand prices."""

from __future__ import annotations

from collections.abc import Iterable

from stacks import catalog
from stacks.catalog import Cloud

HOURS_PER_MONTH = 730


def monthly_gpu_cost_usd(cloud: Cloud, pools: Iterable[tuple[str, int]]) -> float:
    """Cost of running every GPU pool at its maximum size for a month; unknown types count as 0."""
    total = 0.0
    for instance_type, max_nodes in pools:
        spec = catalog.instances(cloud).get(instance_type)
        if spec is not None and spec.gpu:
            total += spec.price_per_hour_usd * max_nodes * HOURS_PER_MONTH
    return total
