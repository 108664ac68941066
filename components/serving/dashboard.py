"""A Grafana dashboard for the model servers, generated from a short panel list (pure functions).

Latency (TTFT, inter-token), throughput, queue, KV-cache usage and prefix-cache hits from vLLM's
Prometheus metrics; GPU utilisation and memory from NVIDIA's DCGM exporter. Shipped as a ConfigMap labelled
grafana_dashboard: "1" for the Grafana sidecar to load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SIDECAR_LABEL = {"grafana_dashboard": "1"}
UID = "leanrag-vllm"
_SEL = 'namespace="$namespace",model_name=~"$model"'
_RATE = "$__rate_interval"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    targets: tuple[tuple[str, str], ...]
    """(PromQL, legend) pairs."""
    description: str = ""


def _quantiles(metric: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            f"histogram_quantile({q}, sum by (le, model_name) (rate({metric}_bucket{{{_SEL}}}[{_RATE}])))",
            f"p{int(q * 100)} {{{{model_name}}}}",
        )
        for q in (0.5, 0.95, 0.99)
    )


PANELS: tuple[Panel, ...] = (
    Panel(
        "Time to first token",
        "s",
        _quantiles("vllm:time_to_first_token_seconds"),
        "Queueing plus prefill: what a user waits before the first token.",
    ),
    Panel(
        "Inter-token latency",
        "s",
        _quantiles("vllm:inter_token_latency_seconds"),
        "Time between streamed tokens (decode speed per sequence).",
    ),
    Panel(
        "Token throughput",
        "tokens/s (short)",
        (
            (
                f"sum by (model_name) (rate(vllm:generation_tokens_total{{{_SEL}}}[{_RATE}]))",
                "generated {{model_name}}",
            ),
            (f"sum by (model_name) (rate(vllm:prompt_tokens_total{{{_SEL}}}[{_RATE}]))", "prompt {{model_name}}"),
        ),
    ),
    Panel(
        "Queue length",
        "short",
        (
            (f"sum by (model_name) (vllm:num_requests_waiting{{{_SEL}}})", "waiting {{model_name}}"),
            (f"sum by (model_name) (vllm:num_requests_running{{{_SEL}}})", "running {{model_name}}"),
        ),
        "Waiting requests drive the autoscaler.",
    ),
    Panel(
        "KV-cache usage",
        "percentunit",
        ((f"vllm:kv_cache_usage_perc{{{_SEL}}}", "{{pod}}"),),
        "Near 100% vLLM preempts sequences; the autoscaler adds replicas first.",
    ),
    Panel(
        "Prefix-cache hit rate",
        "percentunit",
        (
            (
                f"sum by (model_name) (rate(vllm:prefix_cache_hits_total{{{_SEL}}}[{_RATE}]))"
                f" / sum by (model_name) (rate(vllm:prefix_cache_queries_total{{{_SEL}}}[{_RATE}]))",
                "{{model_name}}",
            ),
        ),
        "Share of prompt tokens served from cached prefixes (shared RAG system prompts).",
    ),
    Panel(
        "GPU utilisation (DCGM)",
        "percent",
        (("avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{Hostname}} GPU {{gpu}}"),),
        "From the DCGM exporter on the GPU nodes.",
    ),
    Panel(
        "GPU memory used (DCGM)",
        "decmbytes",
        (("avg by (Hostname, gpu) (DCGM_FI_DEV_FB_USED)", "{{Hostname}} GPU {{gpu}}"),),
    ),
)


def _panel(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }


def _variables(namespace: str) -> list[dict[str, Any]]:
    return [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        {"name": "namespace", "type": "constant", "query": namespace, "hide": 2},
        {
            "name": "model",
            "type": "query",
            "label": "Model",
            "multi": True,
            "includeAll": True,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {
                "query": f'label_values(vllm:num_requests_running{{namespace="{namespace}"}}, model_name)',
                "refId": "models",
            },
            "refresh": 2,
            "current": {"text": "All", "value": "$__all"},
        },
    ]


def dashboard(namespace: str) -> dict[str, Any]:
    return {
        "uid": UID,
        "title": "LeanRAG / vLLM model servers",
        "tags": ["leanrag", "vllm", "llm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": _variables(namespace)},
        "panels": [_panel(p, i) for i, p in enumerate(PANELS)],
    }


def dashboard_json(namespace: str) -> str:
    return json.dumps(dashboard(namespace), indent=1, sort_keys=True)
