"""How a model server starts and stops: its probes and shutdown sequence (pure functions).

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

from components import kube

HEALTH_PATH = "/health"
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


def model_server_probes(startup_budget: int, pre_stop_s: int, port: str = "http") -> dict[str, Any]:
    """The startup, liveness and readiness probes and the preStop lifecycle of a model server container:
    startup within the budget; liveness restarts only on repeated failure (a restart reloads the whole model);
    readiness leaves the Service endpoints quickly when the engine stops answering."""
    return {
        "startupProbe": kube.http_probe(
            HEALTH_PATH, port, STARTUP_PERIOD_S, math.ceil(startup_budget / STARTUP_PERIOD_S), timeout_s=5
        ),
        "livenessProbe": kube.http_probe(HEALTH_PATH, port, 10, 6, timeout_s=5),
        "readinessProbe": kube.http_probe(HEALTH_PATH, port, 5, 2, timeout_s=3),
        "lifecycle": kube.pre_stop_sleep(pre_stop_s),
    }


def termination_grace_s(pre_stop_s: int, shutdown_timeout_s: int) -> int:
    return pre_stop_s + shutdown_timeout_s + GRACE_MARGIN_S
