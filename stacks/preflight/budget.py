"""Preflight of the GPU spend: every GPU pool at its maximum size stays under the monthly budget."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.cost import HOURS_PER_MONTH, monthly_gpu_cost_usd
from stacks.preflight.problem import Problem


def check_budget(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    if cfg.cloud == "existing":
        return
    cost = monthly_gpu_cost_usd(cfg.cloud, [(p.instance_type, p.max_nodes) for p in cfg.cluster.gpu_pools])
    if cost > cfg.monthly_budget_usd:
        yield Problem(
            "monthlyBudgetUsd",
            f"GPU pools at maxNodes cost ${cost:,.0f}/month "
            f"({HOURS_PER_MONTH} h), over the budget of ${cfg.monthly_budget_usd:,.0f}",
            "lower gpuPools[].maxNodes, use smaller/spot instances, or raise monthlyBudgetUsd",
        )
