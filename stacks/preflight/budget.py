"""Preflight of the spend: the whole stack at maxNodes stays within monthlyBudgetUsd (stacks/cost.py)."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.cost import budget_excess
from stacks.preflight.problem import Problem


def check_budget(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    excess = budget_excess(cfg)
    if excess is not None:
        yield Problem("monthlyBudgetUsd", excess.message, excess.fix)
