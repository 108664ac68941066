"""The generated Grafana dashboards (vLLM, gateway, RAG app): the panels operators need, valid JSON whose every
query parses as PromQL and names series the scraped components expose (components/monitoring/catalog.py), loaded
by the Grafana sidecar from ConfigMaps in the monitoring namespace."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
import pytest

from components.monitoring import catalog
from components.monitoring.dashboards import APP_UID, DASHBOARDS, GATEWAY_UID, VLLM_UID, Scope, gateway, rag_app, vllm
from components.monitoring.grafana import SIDECAR_LABEL, render, to_json
from tests.renderkit import dev, find, of_kind, prod, run_variant, stack_values

SCOPE = Scope(serving="serving", platform="rag")
BOARDS = {name: render(build(SCOPE)) for name, build in DASHBOARDS.items()}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": "ns", "$model": "m", "$stack_namespaces": "a|b"}


def exprs(board: dict) -> dict[str, str]:
    return {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in board["panels"]}


def promql(expr: str) -> Any:
    """The query as Prometheus would parse it once Grafana has put in its variables."""
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return promql_parser.parse(expr)


def selectors_and_groupings(expr: Any) -> tuple[list[Any], set[str]]:
    """Every vector selector of a parsed query, and every label it groups by (by/without, on/ignoring)."""
    found: list[Any] = []
    grouped: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector)
        elif isinstance(node, promql_parser.AggregateExpr):
            if node.modifier is not None:
                grouped.update(node.modifier.labels)
            visit(node.expr)
        elif isinstance(node, promql_parser.BinaryExpr):
            if node.modifier is not None and node.modifier.matching is not None:
                grouped.update(node.modifier.matching.labels)
            visit(node.lhs)
            visit(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg)
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
            visit(node.expr)

    visit(expr)
    return found, grouped


# --- the vLLM dashboard (moved here from the serving layer with the dashboards) ----------------------------------


def test_panels_cover_latency_throughput_queue_cache_and_gpu():
    panels = exprs(render(vllm(SCOPE)))
    assert "vllm:time_to_first_token_seconds_bucket" in panels["Time to first token"]
    assert "vllm:inter_token_latency_seconds_bucket" in panels["Inter-token latency"]
    assert "vllm:generation_tokens_total" in panels["Token throughput"]
    assert "vllm:num_requests_waiting" in panels["Queue length"]
    assert "vllm:kv_cache_usage_perc" in panels["KV-cache usage"]
    assert "DCGM_FI_DEV_GPU_UTIL" in panels["GPU utilisation (DCGM)"]
    assert "histogram_quantile(0.95" in panels["Time to first token"]
    assert "kube_horizontalpodautoscaler_status_desired_replicas" in panels["Replicas"]
    assert "llm_d_epp_request_total" in panels["Requests through the endpoint pickers"]


def test_queries_are_scoped_to_the_serving_namespace_and_chosen_models():
    board = render(vllm(Scope(serving="inference", platform="rag")))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["namespace"]["query"] == "inference"
    assert 'namespace="inference"' in variables["model"]["query"]["query"]
    for title, expr in exprs(board).items():
        if "DCGM" not in title:
            assert 'namespace="$namespace"' in expr, title
            assert '=~"$model"' in expr or '=~"keda-hpa-($model)"' in expr, title


# --- the gateway and RAG app dashboards -------------------------------------------------------------------------


def test_gateway_panels_cover_requests_latency_cache_guardrails_and_fallbacks():
    panels = exprs(render(gateway(SCOPE)))
    assert "litellm_proxy_total_requests_metric_total" in panels["Requests by model and status"]
    assert "litellm_request_total_latency_metric_bucket" in panels["Request latency"]
    ratio = panels["Cache hit ratio"]
    assert "litellm_cache_hits_metric_total" in ratio and "/" in ratio and "litellm_requests_metric_total" in ratio
    assert 'litellm_guardrail_requests_total{namespace="$namespace",status="error"}' in panels["Guardrail blocks"]
    assert "litellm_deployment_successful_fallbacks_total" in panels["Fallbacks to the CPU tier"]
    for expr in panels.values():
        assert 'namespace="$namespace"' in expr


def test_app_panels_cover_routes_vector_search_and_moderation():
    panels = exprs(render(rag_app(SCOPE)))
    assert "sum by (api, method) (rate(ogx_requests_total" in panels["Requests per route"]
    assert "ogx_request_duration_seconds_sum" in panels["Mean latency per route"]
    assert (
        "histogram_quantile(0.95, sum by (le) (rate(ogx_vector_io_retrieval_duration_seconds_bucket"
        in (panels["Vector store search latency"])
    )
    assert "ogx_vector_io_inserts_total" in panels["Vector store searches and chunks"]
    assert "moderation_flagged_categories_total" in panels["Moderation verdicts"]
    assert "moderation_upstream_errors_total" in panels["Moderation failures (fail closed)"]
    assert 'te_request_count{namespace=~"$stack_namespaces"}' in panels["Embedding and reranker requests (TEI)"]
    assert (
        "histogram_quantile(0.95, sum by (le, app) (rate(te_request_duration_bucket"
        in (panels["Embedding latency and queue (TEI)"])
    )
    variables = {v["name"]: v["query"] for v in render(rag_app(SCOPE))["templating"]["list"]}
    assert variables["namespace"] == "rag" and variables["stack_namespaces"] == "rag|serving"


# --- every dashboard: shape, datasource, PromQL ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BOARDS))
def test_panels_are_laid_out_without_overlap_and_have_unique_ids(name):
    board = BOARDS[name]
    cells = {(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]}
    assert len(cells) == len(board["panels"]) == len({p["id"] for p in board["panels"]})
    for p in board["panels"]:
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)) and all(len(r) == 1 for r in refs)


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_panel_and_target_reads_the_prometheus_datasource(name):
    board = BOARDS[name]
    assert board["templating"]["list"][0] == {
        "name": "datasource",
        "type": "datasource",
        "query": "prometheus",
        "label": "Prometheus",
    }
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"] and target["legendFormat"]


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_query_parses_and_names_known_series_and_labels(name):
    for panel in BOARDS[name]["panels"]:
        for target in panel["targets"]:
            selectors, grouped = selectors_and_groupings(promql(target["expr"]))
            assert selectors, target["expr"]
            used: set[str] = set()
            for selector in selectors:
                labels = catalog.labels_of(selector.name)
                assert labels is not None, f"{panel['title']}: {selector.name} is not in the catalog"
                matched = {m.name for m in selector.matchers.matchers}
                assert matched <= labels, f"{panel['title']}: {selector.name} has no label {matched - labels}"
                used |= labels
            assert grouped <= used | {"le"}, f"{panel['title']}: grouped by unknown labels {grouped - used}"
            for legend_label in re.findall(r"{{(\w+)}}", target["legendFormat"]):
                assert legend_label in grouped or not grouped, f"{panel['title']}: legend {legend_label}"


def test_the_parser_rejects_broken_queries():
    """The checks above can fail: the parser rejects what Prometheus would, the catalog misses what no one exports."""
    with pytest.raises(ValueError):
        promql("sum(rate(vllm:prompt_tokens_total[5m])")
    with pytest.raises(ValueError):
        promql('sum by (model_name) (vllm:num_requests_waiting{namespace="x")')
    selectors, grouped = selectors_and_groupings(promql("sum by (pod) (rate(vllm:no_such_metric_total[5m]))"))
    assert [s.name for s in selectors] == ["vllm:no_such_metric_total"] and grouped == {"pod"}
    assert catalog.labels_of("vllm:no_such_metric_total") is None
    assert "finished_reason" not in (catalog.labels_of("vllm:num_requests_waiting") or set())


def test_uids_are_unique_and_stable():
    assert [b["uid"] for b in BOARDS.values()] == [VLLM_UID, GATEWAY_UID, APP_UID]
    assert len({b["title"] for b in BOARDS.values()}) == 3


# --- shipped as sidecar ConfigMaps ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_each_dashboard_ships_as_a_sidecar_configmap_in_the_monitoring_namespace(name):
    cm = find(dev(), "ConfigMap", f"{name}-dashboard", "monitoring")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == SIDECAR_LABEL["grafana_dashboard"] == "1"
    board = json.loads(cm["data"][f"{name}.json"])
    assert board == json.loads(to_json(DASHBOARDS[name](SCOPE)))
    assert dev().outputs["grafanaDashboards"] == [f"{n}-dashboard" for n in DASHBOARDS]


def test_the_dashboards_can_be_turned_off():
    vals = stack_values("dev")
    vals["monitoring"] = {"dashboards": False}
    run = run_variant(vals)
    assert not [c for c in of_kind(run, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert run.outputs["grafanaDashboards"] == []
    assert "prometheusUrl" in run.outputs and run.outputs["prometheusUrl"] is None  # nothing needs Prometheus


def test_prod_ships_the_same_dashboards():
    names = {c["metadata"]["name"] for c in of_kind(prod(), "ConfigMap", "monitoring")}
    assert {f"{n}-dashboard" for n in DASHBOARDS} <= names
