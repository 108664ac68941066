"""Prometheus metrics of the moderation service (prometheus_client, one registry per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "moderation_requests", "Requests to /v1/moderations by HTTP status", ["status"], registry=self.registry
        )
        self.inputs = Counter("moderation_inputs", "Texts classified, by verdict", ["flagged"], registry=self.registry)
        self.categories = Counter(
            "moderation_flagged_categories", "Flagged texts by category", ["category"], registry=self.registry
        )
        self.upstream_errors = Counter(
            "moderation_upstream_errors",
            "Safety model calls that failed (the request failed closed), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "moderation_upstream_seconds",
            "Seconds per safety model call",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "moderation_request_seconds",
            "Seconds per /v1/moderations request",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
