"""Preflight: every problem in a stack's configuration, found before any resource is declared.

Pure functions over `StackConfig` and the catalog, one module per concern. Each check yields `Problem`s that
name the config key path and the fix; `run` collects all of them so a user sees every mistake at once.
A new rule goes into the module of its concern (or a new one) and into `CHECKS`.
"""

from __future__ import annotations

from stacks.config import StackConfig
from stacks.preflight.access import check_clients, check_exposure
from stacks.preflight.budget import check_budget
from stacks.preflight.cluster import check_api_endpoint, check_cloud, check_pools
from stacks.preflight.jobs import check_images, check_ingest_embedding, check_jobs
from stacks.preflight.models import check_engine_settings, check_model_sources, check_models
from stacks.preflight.moderation import check_moderation
from stacks.preflight.monitoring import check_monitoring
from stacks.preflight.platform import check_platform
from stacks.preflight.pooling import check_app_embedding, check_cpu_pooling_models, check_retrieval
from stacks.preflight.problem import Check, PreflightError, Problem
from stacks.preflight.serving import check_serving_mode
from stacks.preflight.serving_modes import check_disaggregation, check_kserve, check_kv_offload, check_router
from stacks.preflight.weights import check_weights

CHECKS: list[Check] = [
    check_cloud,
    check_api_endpoint,
    check_pools,
    check_models,
    check_model_sources,
    check_weights,
    check_engine_settings,
    check_cpu_pooling_models,
    check_app_embedding,
    check_retrieval,
    check_serving_mode,
    check_router,
    check_kserve,
    check_disaggregation,
    check_kv_offload,
    check_budget,
    check_platform,
    check_moderation,
    check_exposure,
    check_clients,
    check_jobs,
    check_ingest_embedding,
    check_images,
    check_monitoring,
]
"""Every rule, in the order their problems are listed."""


def run(cfg: StackConfig, secrets_present: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem in `cfg`; `secrets_present` names the secret keys that are set (values never needed)."""
    secrets = frozenset(secrets_present)
    return [p for check in CHECKS for p in check(cfg, secrets)]


__all__ = ["CHECKS", "Check", "PreflightError", "Problem", "run"]
