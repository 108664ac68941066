"""The stack's Grafana dashboards, each a short panel list over the series in `catalog` (pure).

- vLLM model servers: latency (TTFT, inter-token), throughput, queue, KV cache, prefix-cache hits, replicas
  (what the autoscaler did), requests through the endpoint pickers, GPU utilisation and memory (DCGM);
- the gateway (LiteLLM): requests by model and status, latency, cache hit ratio, guardrail blocks, failures,
  fallbacks to the CPU tier, tokens;
- the RAG app (OGX): request rate, errors and mean latency per route, vector store search latency and volume,
  inserts (ingest through the app's API), model latency, the embedding and reranker servers (text-embeddings-
  inference: requests, failures, latency, queue), and the moderation path (Llama Guard verdicts by category,
  latency, fail-closed errors).

OGX 1.5.0's request and inference duration histograms use OpenTelemetry's default bucket bounds (0, 5, 10, 25 ...
10000, meant for milliseconds) on values in seconds, so every request under 5 s falls into one bucket; their
panels show the mean (sum / count) instead of quantiles. Its vector search histogram has second-scale buckets.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.monitoring.grafana import RATE, Dashboard, Panel, quantiles, query_variable


@dataclass(frozen=True)
class Scope:
    """The namespaces the dashboards' queries are scoped to."""

    serving: str
    platform: str


# --- vLLM --------------------------------------------------------------------------------------------------
VLLM_UID = "leanrag-vllm"
_SEL = 'namespace="$namespace",model_name=~"$model"'


def vllm(scope: Scope) -> Dashboard:
    ns = scope.serving
    panels = (
        Panel(
            "Time to first token",
            "s",
            quantiles("vllm:time_to_first_token_seconds", _SEL, ("model_name",)),
            "Queueing plus prefill: what a user waits before the first token.",
        ),
        Panel(
            "Inter-token latency",
            "s",
            quantiles("vllm:inter_token_latency_seconds", _SEL, ("model_name",)),
            "Time between streamed tokens (decode speed per sequence).",
        ),
        Panel(
            "Token throughput",
            "tokens/s (short)",
            (
                (
                    f"sum by (model_name) (rate(vllm:generation_tokens_total{{{_SEL}}}[{RATE}]))",
                    "generated {{model_name}}",
                ),
                (f"sum by (model_name) (rate(vllm:prompt_tokens_total{{{_SEL}}}[{RATE}]))", "prompt {{model_name}}"),
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
                    f"sum by (model_name) (rate(vllm:prefix_cache_hits_total{{{_SEL}}}[{RATE}]))"
                    f" / sum by (model_name) (rate(vllm:prefix_cache_queries_total{{{_SEL}}}[{RATE}]))",
                    "{{model_name}}",
                ),
            ),
            "Share of prompt tokens served from cached prefixes (shared RAG system prompts).",
        ),
        Panel(
            "Replicas",
            "short",
            (
                (
                    'sum by (deployment) (kube_deployment_status_replicas_available{namespace="$namespace",'
                    'deployment=~"$model"})',
                    "ready {{deployment}}",
                ),
                (
                    "sum by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{namespace="
                    '"$namespace",horizontalpodautoscaler=~"keda-hpa-($model)"})',
                    "wanted {{horizontalpodautoscaler}}",
                ),
            ),
            "Ready replicas, and what KEDA's HPA asks for (autoscaling on).",
        ),
        Panel(
            "Requests through the endpoint pickers",
            "reqps",
            (
                (
                    f"sum by (model_name) (rate(llm_d_epp_request_total{{{_SEL}}}[{RATE}]))",
                    "{{model_name}}",
                ),
                (
                    f"sum by (model_name) (rate(llm_d_epp_request_error_total{{{_SEL}}}[{RATE}]))",
                    "errors {{model_name}}",
                ),
            ),
            "llm-d mode: what the gateway routed per model; it wakes a model scaled to zero.",
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
    model = query_variable("model", "Model", f'label_values(vllm:num_requests_running{{namespace="{ns}"}}, model_name)')
    return Dashboard(
        VLLM_UID,
        "LeanRAG / vLLM model servers",
        ("leanrag", "vllm", "llm"),
        panels,
        constants={"namespace": ns},
        queries=(model,),
    )


# --- gateway ------------------------------------------------------------------------------------------------
GATEWAY_UID = "leanrag-gateway"
_GW = 'namespace="$namespace"'


def _rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{RATE}]))"


def gateway(scope: Scope) -> Dashboard:
    panels = (
        Panel(
            "Requests by model and status",
            "reqps",
            (
                (
                    _rate("litellm_proxy_total_requests_metric_total", _GW, "requested_model, status_code"),
                    "{{requested_model}} {{status_code}}",
                ),
            ),
            "Every request the gateway answered, cache hits and refusals included.",
        ),
        Panel(
            "Request latency",
            "s",
            quantiles("litellm_request_total_latency_metric", _GW, ("requested_model",), (0.5, 0.95)),
            "End to end through the gateway (cache, guardrails, the model server).",
        ),
        Panel(
            "Cache hit ratio",
            "percentunit",
            (
                (
                    f"{_rate('litellm_cache_hits_metric_total', _GW, 'model')}"
                    f" / {_rate('litellm_requests_metric_total', _GW, 'model')}",
                    "{{model}}",
                ),
            ),
            "Share of model calls answered from the exact-match cache in Redis.",
        ),
        Panel(
            "Cache hits",
            "reqps",
            ((_rate("litellm_cache_hits_metric_total", _GW, "model"), "{{model}}"),),
        ),
        Panel(
            "Guardrail blocks",
            "reqps",
            (
                (
                    _rate("litellm_guardrail_requests_total", f'{_GW},status="error"', "guardrail_name"),
                    "{{guardrail_name}}",
                ),
            ),
            "Requests refused by a guardrail (PII, prompt injection, moderation) before the model saw them.",
        ),
        Panel(
            "Failed requests",
            "reqps",
            (
                (
                    _rate("litellm_proxy_failed_requests_metric_total", _GW, "requested_model, exception_status"),
                    "{{requested_model}} {{exception_status}}",
                ),
            ),
        ),
        Panel(
            "Model server latency",
            "s",
            quantiles("litellm_llm_api_latency_metric", _GW, ("model",), (0.5, 0.95)),
            "Time the upstream model server took (cache hits excluded).",
        ),
        Panel(
            "Fallbacks to the CPU tier",
            "reqps",
            (
                (
                    _rate("litellm_deployment_successful_fallbacks_total", _GW, "requested_model, fallback_model"),
                    "{{requested_model}} -> {{fallback_model}}",
                ),
            ),
        ),
        Panel(
            "Tokens",
            "short",
            ((_rate("litellm_total_tokens_metric_total", _GW, "model"), "{{model}}"),),
            "Prompt plus completion tokens per second, by model.",
        ),
    )
    return Dashboard(
        GATEWAY_UID,
        "LeanRAG / Gateway (LiteLLM)",
        ("leanrag", "litellm", "gateway"),
        panels,
        constants={"namespace": scope.platform},
    )


# --- RAG app ------------------------------------------------------------------------------------------------
APP_UID = "leanrag-rag-app"
_APP = 'namespace="$namespace"'
_MOD = 'namespace=~"$stack_namespaces"'


def _mean(metric: str, selector: str, by: str) -> str:
    return f"{_rate(f'{metric}_sum', selector, by)} / {_rate(f'{metric}_count', selector, by)}"


def rag_app(scope: Scope) -> Dashboard:
    panels = (
        Panel(
            "Requests per route",
            "reqps",
            ((_rate("ogx_requests_total", _APP, "api, method"), "{{method}}"),),
        ),
        Panel(
            "Errors per route",
            "reqps",
            (
                (
                    _rate("ogx_requests_total", f'{_APP},status_code!~"2.."', "method, status_code"),
                    "{{method}} {{status_code}}",
                ),
            ),
        ),
        Panel(
            "Mean latency per route",
            "s",
            ((_mean("ogx_request_duration_seconds", _APP, "method"), "{{method}}"),),
            "Mean, not quantiles: OGX's request histogram has millisecond-style buckets on seconds.",
        ),
        Panel(
            "Requests in flight",
            "short",
            ((f"sum by (api) (ogx_concurrent_requests{{{_APP}}})", "{{api}}"),),
        ),
        Panel(
            "Vector store search latency",
            "s",
            quantiles("ogx_vector_io_retrieval_duration_seconds", _APP, (), (0.5, 0.95, 0.99)),
            "Embedding the query plus the Milvus search, as OGX measures it.",
        ),
        Panel(
            "Vector store searches and chunks",
            "short",
            (
                (_rate("ogx_vector_io_queries_total", _APP, "search_mode"), "searches {{search_mode}}"),
                (_rate("ogx_vector_io_documents_retrieved_total", _APP, "search_mode"), "chunks {{search_mode}}"),
                (_rate("ogx_vector_io_inserts_total", _APP, "operation"), "inserts {{operation}}"),
            ),
            "Per second; inserts come from the ingest Job through the app's API.",
        ),
        Panel(
            "Model call latency (mean)",
            "s",
            ((_mean("ogx_inference_duration_seconds", _APP, "model"), "{{model}}"),),
        ),
        Panel(
            "Embedding and reranker requests (TEI)",
            "reqps",
            (
                (_rate("te_request_count", _MOD, "app"), "{{app}}"),
                (_rate("te_request_failure", _MOD, "app, err"), "failed {{app}} {{err}}"),
            ),
            "text-embeddings-inference on the system pool: the app's query embeddings (through the gateway), the "
            "ingest Job's document embeddings, and reranking.",
        ),
        Panel(
            "Embedding latency and queue (TEI)",
            "s",
            (
                *quantiles("te_request_duration", _MOD, ("app",), (0.5, 0.95)),
                (_mean("te_request_queue_duration", _MOD, "app"), "mean queue {{app}}"),
            ),
            "Whole request (tokenize, queue, inference); a growing queue share means the server needs more CPU or "
            "replicas.",
        ),
        Panel(
            "Moderation verdicts",
            "short",
            (
                (_rate("moderation_inputs_total", _MOD, "flagged"), "flagged={{flagged}}"),
                (_rate("moderation_flagged_categories_total", _MOD, "category"), "{{category}}"),
            ),
            "Texts Llama Guard classified per second, and the hazard categories it flagged.",
        ),
        Panel(
            "Moderation latency",
            "s",
            quantiles("moderation_request_seconds", _MOD, (), (0.5, 0.95)),
            "One /v1/moderations call: the request's text, or a batch of the streamed answer.",
        ),
        Panel(
            "Moderation failures (fail closed)",
            "reqps",
            ((_rate("moderation_upstream_errors_total", _MOD, "kind"), "{{kind}}"),),
            "Safety-model calls that failed: each blocked its request.",
        ),
    )
    return Dashboard(
        APP_UID,
        "LeanRAG / RAG app (OGX)",
        ("leanrag", "ogx", "rag"),
        panels,
        constants={"namespace": scope.platform, "stack_namespaces": f"{scope.platform}|{scope.serving}"},
    )


DASHBOARDS = {"vllm": vllm, "gateway": gateway, "rag-app": rag_app}
"""ConfigMap name prefix and JSON file name -> dashboard builder."""
