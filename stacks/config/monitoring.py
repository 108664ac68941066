"""Metrics for autoscaling and dashboards: which Prometheus the stack uses, and the Grafana dashboards it ships."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from stacks.config.base import ConfigModel, DnsLabel
from stacks.config.platform import Resources

PrometheusProvider = Literal["install", "external", "operator", "none"]
"""install: the stack installs Prometheus (pinned chart) and scrapes its own pods. external: you run a Prometheus
that scrapes pods by their prometheus.io/* annotations. operator: you run the Prometheus operator
(kube-prometheus-stack); the stack renders PodMonitors for it. none: no metrics (autoscaling and dashboards off)."""

DURATION = re.compile(r"[1-9][0-9]*(ms|s|m|h|d|w|y)")
"""A Prometheus duration as retention takes it: a number and one unit, e.g. 15d."""


class PrometheusConfig(ConfigModel):
    """The Prometheus that scrapes the stack's pods, which KEDA queries and Grafana reads."""

    provider: PrometheusProvider | None = None
    """Which Prometheus: install (the stack's own), external (yours, scraping by annotations), operator (yours,
    through PodMonitors) or none. Unset: install when serving.autoscaling.enabled or monitoring.dashboards is
    on, else none."""
    url: str | None = None
    """external and operator only: the query URL of your Prometheus (http://<service>.<namespace>.svc:9090),
    which KEDA's triggers query. With install the stack's own Prometheus is used."""
    retention: str = "15d"
    """install: how long samples are kept (a Prometheus duration, e.g. 15d or 72h); the volume also caps
    them at 85% of its size."""
    storage_gb: int = Field(default=20, ge=1)
    """install: size of Prometheus's volume (a PersistentVolumeClaim)."""
    scrape_interval_s: int = Field(default=15, ge=5, le=300)
    """install: how often every target is scraped (KEDA's polling cannot see changes faster than this)."""
    resources: Resources = Resources(cpu="500m", memory="2Gi")
    """install: the Prometheus server's requests (memory limit = request unless set)."""
    query_from: list[DnsLabel] = Field(default_factory=lambda: ["keda"])
    """install: namespaces whose pods may query Prometheus (NetworkPolicy): KEDA's operator. Pods of
    monitoring.namespace (Grafana) are always admitted."""
    pod_monitor_labels: dict[str, str] = Field(default_factory=dict)
    """operator only: labels your Prometheus selects PodMonitors by, e.g. {release: kube-prometheus-stack}."""

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not DURATION.fullmatch(value):
            raise ValueError(f"{value!r} is not a Prometheus duration: use a number and a unit, e.g. 15d or 72h")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s:]+(:[0-9]{1,5})?(/\S*)?", value):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://prometheus-operated.monitoring.svc:9090")
        return value


class MonitoringConfig(ConfigModel):
    namespace: DnsLabel = "monitoring"
    """Namespace of Prometheus (installed there, or yours): its pods may scrape the stack's pods
    (NetworkPolicies), and the dashboards' ConfigMaps go there for the Grafana sidecar."""
    prometheus: PrometheusConfig = PrometheusConfig()
    dashboards: bool = True
    """Ship Grafana dashboards (vLLM, gateway, RAG app) as ConfigMaps labelled grafana_dashboard: "1" for the
    Grafana sidecar; needs a Prometheus."""
