"""The Lean RAG cluster policy pack's policies: the rules of policy/rules.py adapted to pulumi-policy.

The cost policy reads the stack's own config, which the engine hands every policy pack (the PULUMI_CONFIG
environment variable, decoded by `pulumi.runtime.get_config_env`): the budget is the stack's
`monthlyBudgetUsd` (its schema default when unset), never a second number kept here, and the estimate is
`stacks.cost`'s, the one preflight checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import rules
from stacks.config import StackConfig
from stacks.load import validated, values_from_engine
from stacks.preflight import PreflightError


def stack_config(engine_config: Mapping[str, str] | None = None) -> StackConfig:
    """The stack's config as the program sees it (shape-validated; PreflightError names what is wrong)."""
    config = pulumi.runtime.get_config_env() if engine_config is None else engine_config
    return validated(values_from_engine(config))


def _resource_policy(
    name: str, description: str, rule: Callable[[rules.Resource], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        name_of = args.urn.rsplit("::", 1)[-1]
        for message in rule(rules.Resource(args.resource_type, name_of, dict(args.props))):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _stack(args: StackValidationArgs) -> list[rules.Resource]:
    return [rules.Resource(r.resource_type, r.urn.rsplit("::", 1)[-1], dict(r.props)) for r in args.resources]


def validate_node_role(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for message in rules.node_role_least_privilege(_stack(args)):
        report_violation(message, None)


def validate_cost(
    args: StackValidationArgs, report_violation: ReportViolation, engine_config: Mapping[str, Any] | None = None
) -> None:
    """The stack's cost at maxNodes within its monthlyBudgetUsd, and every declared pool priced."""
    try:
        cfg = stack_config(engine_config)
    except PreflightError as e:
        report_violation(f"the stack config cannot be read, so its cost cannot be checked:\n{e}", None)
        return
    for message in rules.pools_priced(_stack(args), cfg) + rules.stack_cost_cap(cfg):
        report_violation(message, None)


POLICIES: list[Any] = [
    *(_resource_policy(name, desc, rule) for name, (desc, rule) in rules.RESOURCE_RULES.items()),
    StackValidationPolicy(
        name="node-role-least-privilege",
        description="Node roles carry only the three EKS worker policies",
        validate=validate_node_role,
    ),
    StackValidationPolicy(
        name="stack-cost-cap",
        description="The whole stack at maxNodes stays within the stack's monthlyBudgetUsd (stacks/cost.py)",
        validate=validate_cost,
    ),
]
