"""Grafana dashboards as code: a dashboard is a title, a few template variables and a short list of panels, each a
unit and (PromQL, legend) pairs; `render` turns it into the dashboard JSON Grafana's sidecar loads (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SIDECAR_LABEL = {"grafana_dashboard": "1"}
"""The label Grafana's dashboard sidecar watches ConfigMaps for."""
FOLDER_ANNOTATION = {"grafana_folder": "LeanRAG"}
"""The folder the sidecar files the dashboards in (its `folderAnnotation` setting, when set to grafana_folder)."""
RATE = "$__rate_interval"
"""Grafana's rate window: at least four scrape intervals."""
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    targets: tuple[tuple[str, str], ...]
    """(PromQL, legend) pairs."""
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    tags: tuple[str, ...]
    panels: tuple[Panel, ...]
    constants: dict[str, str] = field(default_factory=dict)
    """Hidden variables (name -> value), e.g. the namespace the queries are scoped to."""
    queries: tuple[dict[str, Any], ...] = ()
    """Query variables (label_values), in Grafana's variable shape."""


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value variable filled from `label_values(...)` with an All option."""
    return {
        "name": name,
        "type": "query",
        "label": label,
        "multi": True,
        "includeAll": True,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "current": {"text": "All", "value": "$__all"},
    }


def quantiles(
    metric: str, selector: str, by: Sequence[str] = (), qs: Sequence[float] = (0.5, 0.95, 0.99)
) -> tuple[tuple[str, str], ...]:
    """histogram_quantile targets of a histogram `metric` (without `_bucket`), grouped by `by`."""
    group = ", ".join(["le", *by])
    legend = " ".join(f"{{{{{b}}}}}" for b in by)
    return tuple(
        (
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
            f"p{int(q * 100)} {legend}".strip(),
        )
        for q in qs
    )


def _panel(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }


def render(board: Dashboard) -> dict[str, Any]:
    variables: list[dict[str, Any]] = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
    ]
    variables += [{"name": n, "type": "constant", "query": v, "hide": 2} for n, v in board.constants.items()]
    variables += list(board.queries)
    return {
        "uid": board.uid,
        "title": board.title,
        "tags": list(board.tags),
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": variables},
        "panels": [_panel(p, i) for i, p in enumerate(board.panels)],
    }


def to_json(board: Dashboard) -> str:
    return json.dumps(render(board), indent=1, sort_keys=True)
