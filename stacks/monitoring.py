"""Which Prometheus a stack uses, resolved once from its config (pure)."""

from __future__ import annotations

from stacks.config import StackConfig
from stacks.config.monitoring import PrometheusProvider


def prometheus_provider(cfg: StackConfig) -> PrometheusProvider:
    """monitoring.prometheus.provider, or when unset: install if autoscaling or the dashboards need metrics."""
    configured = cfg.monitoring.prometheus.provider
    if configured is not None:
        return configured
    return "install" if cfg.serving.autoscaling.enabled or cfg.monitoring.dashboards else "none"
