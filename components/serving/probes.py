"""Health probes and the shutdown sequence of a model server: pure functions.

- startup: vLLM opens /health only after the weights are loaded and the engine is warm, so the startup probe's
  budget grows with the weights (GB / load rate) plus a fixed engine warm-up margin, never below a minimum;
- liveness and readiness on /health: unauthenticated in vLLM and llama-server (the /v1 routes need the API
  key, so a probe there would fail on 401 and take every replica out of service);
- shutdown: preStop sleeps while the endpoints controllers and gateways drop the pod, then SIGTERM starts
  vLLM's drain (--shutdown-timeout); the grace period covers both plus a margin.
"""

from __future__ import annotations

import math
from typing import Any

STARTUP_PERIOD_S = 10
ENGINE_WARMUP_S = 240
"""torch.compile, CUDA graph capture and KV-cache profiling after the weights are in GPU memory: 1-3 minutes
for 1-70B models on one node; a round upper figure."""
MIN_STARTUP_BUDGET_S = 300
GRACE_MARGIN_S = 10
"""Extra seconds after preStop + drain before the kubelet sends SIGKILL (process exit, log flush)."""


def startup_budget_s(weights_gb: float, load_rate_gbps: float) -> int:
    """Seconds a model server may take to become healthy: weights / rate + warm-up, at least the minimum."""
    if load_rate_gbps <= 0:
        raise ValueError(f"load rate must be positive, got {load_rate_gbps}")
    return max(MIN_STARTUP_BUDGET_S, math.ceil(weights_gb / load_rate_gbps) + ENGINE_WARMUP_S)


def http_get(path: str, port: str) -> dict[str, Any]:
    return {"path": path, "port": port, "scheme": "HTTP"}


def startup_probe(budget_s: int, port: str = "http", path: str = "/health") -> dict[str, Any]:
    return {
        "httpGet": http_get(path, port),
        "periodSeconds": STARTUP_PERIOD_S,
        "timeoutSeconds": 5,
        "failureThreshold": math.ceil(budget_s / STARTUP_PERIOD_S),
    }


def liveness_probe(port: str = "http", path: str = "/health") -> dict[str, Any]:
    """Restart only on repeated failure: a restart reloads the whole model."""
    return {"httpGet": http_get(path, port), "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6}


def readiness_probe(port: str = "http", path: str = "/health") -> dict[str, Any]:
    """Fast: leaves the Service endpoints quickly when the engine stops answering."""
    return {"httpGet": http_get(path, port), "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 2}


def pre_stop(seconds: int) -> dict[str, Any]:
    """The kubelet's built-in sleep action: no shell needed in the image (on by default since 1.30)."""
    return {"preStop": {"sleep": {"seconds": seconds}}}


def termination_grace_s(pre_stop_s: int, shutdown_timeout_s: int) -> int:
    return pre_stop_s + shutdown_timeout_s + GRACE_MARGIN_S
