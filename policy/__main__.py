"""The Lean RAG cluster policy pack. Run with:

    pulumi preview --policy-pack policy/            (from the repo root, any stack)

Rules live in policy/rules.py as plain functions; this file only adapts them to pulumi-policy.
PolicyPack(...) starts the analyzer server and blocks, so nothing imports this module.
"""

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # rules use stacks/catalog

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import rules

DEFAULT_BUDGET_USD = 5000


def _resource_policy(
    name: str, description: str, rule: Callable[[rules.Resource], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation) -> None:
        name_of = args.urn.rsplit("::", 1)[-1]
        for message in rule(rules.Resource(args.resource_type, name_of, dict(args.props))):
            report_violation(message)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _stack(args: StackValidationArgs) -> list[rules.Resource]:
    return [rules.Resource(r.resource_type, r.urn.rsplit("::", 1)[-1], dict(r.props)) for r in args.resources]


def _validate_node_role(args: StackValidationArgs, report_violation) -> None:
    for message in rules.node_role_least_privilege(_stack(args)):
        report_violation(message)


def _validate_cost(args: StackValidationArgs, report_violation) -> None:
    budget = float(args.get_config().get("monthlyBudgetUsd", DEFAULT_BUDGET_USD))
    for message in rules.gpu_cost_cap(_stack(args), budget):
        report_violation(message)


PolicyPack(
    name="leanrag-cluster",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(_resource_policy(name, desc, rule) for name, (desc, rule) in rules.RESOURCE_RULES.items()),
        StackValidationPolicy(
            name="node-role-least-privilege",
            description="Node roles carry only the three EKS worker policies",
            validate=_validate_node_role,
        ),
        StackValidationPolicy(
            name="gpu-cost-cap",
            description="GPU pools at max size stay under the monthly budget",
            validate=_validate_cost,
            config_schema=PolicyConfigSchema(
                properties={"monthlyBudgetUsd": {"type": "number", "default": DEFAULT_BUDGET_USD}}
            ),
        ),
    ],
)
