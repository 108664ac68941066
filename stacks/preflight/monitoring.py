"""Preflight of monitoring: a Prometheus exists wherever autoscaling or dashboards need one, and each key is used
by the provider it belongs to."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.monitoring import prometheus_provider
from stacks.preflight.platform import check_resources
from stacks.preflight.problem import Problem

_EXAMPLE_URL = "http://prometheus-operated.monitoring.svc:9090"


def check_monitoring(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    prom = cfg.monitoring.prometheus
    provider = prometheus_provider(cfg)
    if provider == "none":
        if cfg.serving.autoscaling.enabled:
            yield Problem(
                "monitoring.prometheus.provider",
                "serving.autoscaling.enabled needs Prometheus (KEDA's triggers query it), but provider is none",
                "remove provider (the stack then installs Prometheus), or set provider: external or operator "
                f"with url: {_EXAMPLE_URL}, or turn serving.autoscaling off",
            )
        if cfg.monitoring.dashboards:
            yield Problem(
                "monitoring.dashboards",
                "the dashboards read Prometheus, but monitoring.prometheus.provider is none",
                "set monitoring.dashboards: false, or remove provider (the stack then installs Prometheus)",
            )
    if provider in ("external", "operator") and prom.url is None:
        yield Problem(
            "monitoring.prometheus.url",
            f"provider {provider} uses your Prometheus, and the stack needs its query URL (KEDA's triggers, the "
            "prometheusUrl output)",
            f"set url, e.g. {_EXAMPLE_URL}, or remove provider to install one",
        )
    if provider in ("install", "none") and prom.url is not None:
        yield Problem(
            "monitoring.prometheus.url",
            f"url is only read with provider external or operator; with {provider} it would be ignored",
            "remove url, or set provider: external (or operator) to use the Prometheus at that URL",
        )
    if prom.pod_monitor_labels and provider != "operator":
        yield Problem(
            "monitoring.prometheus.podMonitorLabels",
            f"PodMonitors are rendered only for the Prometheus operator, and provider is {provider}",
            "remove podMonitorLabels, or set provider: operator",
        )
    if provider == "install":
        yield from check_resources("monitoring.prometheus.resources", prom.resources)
