"""KEDA ScaledObjects on LLM-aware signals (pure builders).

- queue: sum of vllm:num_requests_waiting over the model's replicas, AverageValue target per replica
  (desired = ceil(waiting / target));
- KV cache: average vllm:kv_cache_usage_perc, Value target (desired = ceil(current x usage / target)),
  so replicas are added before vLLM starts preempting sequences;
- scale from zero (minReplicas 0, llm-d mode only): with no pod there is no vLLM metric, so the endpoint
  picker's request counter for the model activates the first replica.
"""

from __future__ import annotations

from typing import Any

from stacks.config.serving import AutoscalingConfig, ModelConfig


def _selector(model: str, namespace: str) -> str:
    return f'model_name="{model}",namespace="{namespace}"'


def queue_query(model: str, namespace: str) -> str:
    return f"sum(vllm:num_requests_waiting{{{_selector(model, namespace)}}})"


def kv_cache_query(model: str, namespace: str) -> str:
    return f"avg(vllm:kv_cache_usage_perc{{{_selector(model, namespace)}}})"


def gateway_requests_query(model: str, namespace: str) -> str:
    """Requests the endpoint picker saw for the model (served or failed for lack of a replica)."""
    sel = _selector(model, namespace)
    return (
        f"(sum(rate(llm_d_epp_request_total{{{sel}}}[2m])) or vector(0))"
        f" + (sum(rate(llm_d_epp_request_error_total{{{sel}}}[2m])) or vector(0))"
    )


def _prometheus(
    name: str, server: str, query: str, threshold: str, metric_type: str, activation: str | None = None
) -> dict[str, Any]:
    metadata = {"serverAddress": server, "query": query, "threshold": threshold}
    if activation is not None:
        metadata["activationThreshold"] = activation
    return {"type": "prometheus", "name": name, "metricType": metric_type, "metadata": metadata}


def triggers(model: ModelConfig, namespace: str, cfg: AutoscalingConfig, server: str) -> list[dict[str, Any]]:
    """The model's triggers, each querying the Prometheus at `server` (the monitoring layer's query URL)."""
    out = [
        _prometheus("queue", server, queue_query(model.name, namespace), str(cfg.queue_target), "AverageValue"),
        _prometheus("kv-cache", server, kv_cache_query(model.name, namespace), str(cfg.kv_cache_target), "Value"),
    ]
    if model.min_replicas == 0:
        out.append(
            _prometheus(
                "gateway-requests",
                server,
                gateway_requests_query(model.name, namespace),
                "1",
                "AverageValue",
                activation="0",
            )
        )
    return out


def scaled_object_spec(
    deployment: str, model: ModelConfig, namespace: str, cfg: AutoscalingConfig, server: str
) -> dict[str, Any]:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicaCount": model.min_replicas,
        "maxReplicaCount": model.max_replicas,
        "pollingInterval": cfg.polling_interval_s,
        "cooldownPeriod": cfg.cooldown_s,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": cfg.cooldown_s,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                    },
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                    },
                }
            }
        },
        "triggers": triggers(model, namespace, cfg, server),
    }
