"""The scrape contract between the pods that expose Prometheus metrics and the Prometheus that scrapes them.

A pod that serves metrics carries the `prometheus.io/*` annotations below (the de facto convention that
annotation-based scrape configs, the Prometheus community chart's included, read); the stack's Prometheus
(components/monitoring) keeps exactly the annotated pods of the namespaces it watches and scrapes the annotated
port and path. A pod whose metrics port differs from its API port declares it as a container port named
`metrics`, and its NetworkPolicy admits the scraper on that port only.
"""

from __future__ import annotations

from typing import Any

SCRAPE = "prometheus.io/scrape"
PORT = "prometheus.io/port"
PATH = "prometheus.io/path"
METRICS_PORT_NAME = "metrics"


def scrape_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    """Pod annotations that ask Prometheus to scrape `path` on `port`."""
    return {SCRAPE: "true", PORT: str(port), PATH: path}


def metrics_container_port(port: int) -> dict[str, Any]:
    """The container port of a metrics endpoint of its own (not the API port)."""
    return {"name": METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"}
