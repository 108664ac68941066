"""The generated Grafana dashboard: the panels operators need, valid JSON, loaded by the Grafana sidecar."""

from __future__ import annotations

import json

from components.serving.dashboard import SIDECAR_LABEL, UID, dashboard, dashboard_json
from tests.renderkit import dev, obj, objects_of, run_variant, stack_values


def exprs(board: dict) -> dict[str, str]:
    return {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in board["panels"]}


def test_panels_cover_latency_throughput_queue_cache_and_gpu():
    panels = exprs(dashboard("serving"))
    assert "vllm:time_to_first_token_seconds_bucket" in panels["Time to first token"]
    assert "vllm:inter_token_latency_seconds_bucket" in panels["Inter-token latency"]
    assert "vllm:generation_tokens_total" in panels["Token throughput"]
    assert "vllm:num_requests_waiting" in panels["Queue length"]
    assert "vllm:kv_cache_usage_perc" in panels["KV-cache usage"]
    assert "DCGM_FI_DEV_GPU_UTIL" in panels["GPU utilisation (DCGM)"]
    assert "histogram_quantile(0.95" in panels["Time to first token"]


def test_panels_are_laid_out_without_overlap_and_have_unique_ids():
    board = dashboard("serving")
    cells = {(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]}
    assert len(cells) == len(board["panels"]) == len({p["id"] for p in board["panels"]})
    refs = [t["refId"] for p in board["panels"] for t in p["targets"]]
    assert all(len(r) == 1 for r in refs)


def test_queries_are_scoped_to_the_serving_namespace_and_chosen_models():
    board = dashboard("inference")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["namespace"]["query"] == "inference"
    assert 'namespace="inference"' in variables["model"]["query"]["query"]
    for title, expr in exprs(board).items():
        if "DCGM" not in title:
            assert 'namespace="$namespace"' in expr and 'model_name=~"$model"' in expr, title


def test_the_dashboard_ships_as_a_sidecar_configmap():
    cm = obj(dev(), "ConfigMap", "vllm-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == SIDECAR_LABEL["grafana_dashboard"] == "1"
    board = json.loads(cm["data"]["vllm.json"])
    assert board["uid"] == UID and board == json.loads(dashboard_json("serving"))


def test_the_dashboard_can_be_turned_off():
    vals = stack_values("dev")
    vals["serving"]["grafanaDashboard"] = False
    assert not [c for c in objects_of(run_variant(vals), "ConfigMap") if c["metadata"]["name"] == "vllm-dashboard"]
