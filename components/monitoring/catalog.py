"""The series each scraped component exposes, as the dashboards and KEDA's triggers use them: sample names (with
the `_total`, `_bucket`, `_sum`, `_count` suffixes a scrape shows) and their labels.

The dashboards may only name series listed here (tests/components/monitoring check every query against this
catalog), and the catalog is checked against real scrapes where the component runs here:

| source      | checked against                                                                                 |
|-------------|-------------------------------------------------------------------------------------------------|
| litellm     | a real LiteLLM 1.103.7 proxy's metrics port (.venvs/gateway), after hits, misses, blocks, fallbacks |
| ogx         | a real OGX 1.5.0 server's metrics port (.venvs/ogx), after chat, vector store search and insert  |
| moderation  | the real moderation adapter (workloads/moderation) in front of the local safety stand-in         |
| tei         | text-embeddings-inference v1.9.3's sources (router/src/http/server.rs, core/src/{infer,queue}.rs;  |
|             | metrics-exporter-prometheus 0.15: counters keep their name, no `_total`): no TEI image runs here  |
| vllm        | vLLM's PrometheusStatLogger (vllm/v1/metrics/loggers.py, v0.21): no GPU here to run it           |
| epp         | llm-d router's endpoint picker metrics reference (llm_d_epp_*, router v0.10)                       |
| dcgm        | NVIDIA dcgm-exporter's default counters (etc/default-counters.csv)                              |
| ksm         | kube-state-metrics v2 (Deployment and HorizontalPodAutoscaler collectors)                        |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Labels = frozenset[str]
Series = Mapping[str, Labels]


def _histogram(name: str, labels: Iterable[str]) -> dict[str, Labels]:
    base = frozenset(labels)
    return {f"{name}_bucket": base | {"le"}, f"{name}_sum": base, f"{name}_count": base}


def _counters(names: Iterable[str], labels: Iterable[str]) -> dict[str, Labels]:
    return {n: frozenset(labels) for n in names}


SCRAPE_LABELS = frozenset({"namespace", "pod", "app", "component", "node", "job", "instance"})
"""Labels the stack's `leanrag-pods` scrape job adds to every series of an annotated pod
(components/monitoring/prometheus.py)."""

_VLLM = ("model_name", "engine")
VLLM: Series = {
    **_counters(("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"), _VLLM),
    **_counters(
        (
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:num_preemptions_total",
        ),
        _VLLM,
    ),
    "vllm:request_success_total": frozenset({*_VLLM, "finished_reason"}),
    **_histogram("vllm:time_to_first_token_seconds", _VLLM),
    **_histogram("vllm:inter_token_latency_seconds", _VLLM),
    **_histogram("vllm:e2e_request_latency_seconds", _VLLM),
}

EPP: Series = {
    "llm_d_epp_request_total": frozenset({"model_name", "target_model_name"}),
    "llm_d_epp_request_error_total": frozenset({"model_name", "target_model_name", "error_code"}),
    **_histogram("llm_d_epp_request_duration_seconds", ("model_name", "target_model_name")),
}

DCGM: Series = {
    name: frozenset({"gpu", "UUID", "device", "modelName", "Hostname", "namespace", "pod", "container"})
    for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE")
}

KSM: Series = {
    "kube_deployment_status_replicas_available": frozenset({"namespace", "deployment"}),
    "kube_deployment_spec_replicas": frozenset({"namespace", "deployment"}),
    "kube_horizontalpodautoscaler_status_desired_replicas": frozenset({"namespace", "horizontalpodautoscaler"}),
    "kube_horizontalpodautoscaler_status_current_replicas": frozenset({"namespace", "horizontalpodautoscaler"}),
}

_KEY = ("hashed_api_key", "api_key_alias", "team", "team_alias", "user", "end_user")
_DEPLOYMENT = ("model", "model_id", "api_provider")
LITELLM: Series = {
    "litellm_proxy_total_requests_metric_total": frozenset({*_KEY, "requested_model", "route", "status_code"}),
    "litellm_proxy_failed_requests_metric_total": frozenset(
        {*_KEY, "requested_model", "route", "exception_status", "exception_class"}
    ),
    "litellm_requests_metric_total": frozenset({*_KEY, *_DEPLOYMENT, "requested_model"}),
    "litellm_cache_hits_metric_total": frozenset({*_KEY, *_DEPLOYMENT}),
    "litellm_total_tokens_metric_total": frozenset({*_KEY, *_DEPLOYMENT, "requested_model"}),
    "litellm_guardrail_requests_total": frozenset({"guardrail_name", "status", "hook_type"}),
    "litellm_deployment_successful_fallbacks_total": frozenset({"requested_model", "fallback_model"}),
    **_histogram("litellm_request_total_latency_metric", (*_KEY, *_DEPLOYMENT, "requested_model")),
    **_histogram("litellm_llm_api_latency_metric", (*_KEY, *_DEPLOYMENT, "requested_model")),
}

_OGX_SCOPE = ("otel_scope_name", "otel_scope_version", "otel_scope_schema_url")
_VECTOR = ("operation", "provider", "vector_db")
OGX: Series = {
    "ogx_requests_total": frozenset({*_OGX_SCOPE, "api", "method", "status", "status_code"}),
    "ogx_concurrent_requests": frozenset({*_OGX_SCOPE, "api"}),
    **_histogram("ogx_request_duration_seconds", (*_OGX_SCOPE, "api", "method")),
    **_histogram("ogx_inference_duration_seconds", (*_OGX_SCOPE, "model", "provider", "stream")),
    "ogx_vector_io_queries_total": frozenset({*_OGX_SCOPE, *_VECTOR, "search_mode"}),
    "ogx_vector_io_documents_retrieved_total": frozenset({*_OGX_SCOPE, *_VECTOR, "search_mode"}),
    **_histogram("ogx_vector_io_retrieval_duration_seconds", (*_OGX_SCOPE, *_VECTOR, "search_mode")),
    "ogx_vector_io_inserts_total": frozenset({*_OGX_SCOPE, *_VECTOR}),
}

MODERATION: Series = {
    "moderation_requests_total": frozenset({"status"}),
    "moderation_inputs_total": frozenset({"flagged"}),
    "moderation_flagged_categories_total": frozenset({"category"}),
    "moderation_upstream_errors_total": frozenset({"kind"}),
    **_histogram("moderation_request_seconds", ()),
    **_histogram("moderation_upstream_seconds", ()),
}

TEI: Series = {
    "te_request_count": frozenset({"method"}),
    "te_request_success": frozenset({"method"}),
    "te_request_failure": frozenset({"err"}),
    "te_queue_size": frozenset(),
    **_histogram("te_request_duration", ()),
    **_histogram("te_request_queue_duration", ()),
    **_histogram("te_request_inference_duration", ()),
    **_histogram("te_batch_next_size", ()),
}
"""text-embeddings-inference: /metrics on its API port without the key (every /embed, /v1/embeddings and /rerank
request; durations in seconds)."""

SOURCES: Mapping[str, tuple[Series, bool]] = {
    "vllm": (VLLM, True),
    "epp": (EPP, True),
    "dcgm": (DCGM, False),
    "ksm": (KSM, False),
    "litellm": (LITELLM, True),
    "ogx": (OGX, True),
    "moderation": (MODERATION, True),
    "tei": (TEI, True),
}
"""Source -> (its series, whether the `leanrag-pods` job scrapes it, adding SCRAPE_LABELS)."""


def labels_of(series: str) -> Labels | None:
    """The labels a query may use on `series` (with the scrape job's target labels), or None when no scraped
    component exposes it."""
    for known, scraped in SOURCES.values():
        if series in known:
            return known[series] | (SCRAPE_LABELS if scraped else frozenset({"job", "instance", "node"}))
    return None
