"""The monitoring layer: the Prometheus that autoscaling and dashboards read (installed, or yours), and the
Grafana dashboards (vLLM, gateway, RAG app) as code."""

from components.monitoring.dashboards import Scope
from components.monitoring.layer import Monitoring, MonitoringArgs, MonitoringOutputs

__all__ = ["Monitoring", "MonitoringArgs", "MonitoringOutputs", "Scope"]
