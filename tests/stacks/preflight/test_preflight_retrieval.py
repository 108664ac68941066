"""Preflight of platform.app.retrieval: rerank needs a served reranker, the budget fits the chat models' windows;
a stack without a reranker passes with rerank off (the default)."""

from __future__ import annotations

import copy
from typing import Any

from stacks.load import parse
from stacks.preflight import PreflightError

BASE: dict[str, Any] = {
    "cloud": "existing",
    "cluster": {"systemPool": {"name": "system", "instanceType": "kind-node"}},
    "serving": {"cpuTier": {"enabled": True}},
}


def problems(retrieval: dict[str, Any] | None = None, reranker: dict[str, Any] | None = None) -> dict[str, str]:
    raw = copy.deepcopy(BASE)
    if retrieval is not None:
        raw["platform"] = {"app": {"retrieval": retrieval}}
    if reranker is not None:
        raw["serving"]["reranker"] = reranker
    try:
        parse(raw)
    except PreflightError as e:
        return {p.path: f"{p.message} | {p.fix}" for p in e.problems}
    return {}


def test_a_stack_without_a_reranker_passes_with_the_defaults() -> None:
    cfg = parse(copy.deepcopy(BASE))
    assert cfg.platform.app.retrieval.rerank is False and cfg.platform.app.retrieval.hybrid == "bm25"
    assert problems({"hybrid": "off", "contextTokens": 1024}) == {}


def test_rerank_without_a_reranker_model_is_refused_with_the_fix() -> None:
    found = problems({"rerank": True})
    assert list(found) == ["platform.app.retrieval.rerank"]
    assert "serves no reranker model" in found["platform.app.retrieval.rerank"]
    assert "serving.reranker.enabled: true" in found["platform.app.retrieval.rerank"]
    assert problems({"rerank": True}, reranker={"enabled": True}) == {}


def test_a_reranker_model_that_is_not_served_is_named() -> None:
    found = problems({"rerank": True, "rerankerModel": "bge-reranker"}, reranker={"enabled": True})
    assert list(found) == ["platform.app.retrieval.rerankerModel"]
    assert "served rerankers: ms-marco-minilm-l6" in found["platform.app.retrieval.rerankerModel"]
    assert problems({"rerank": True, "rerankerModel": "ms-marco-minilm-l6"}, reranker={"enabled": True}) == {}


def test_budget_and_candidate_problems_are_reported_together() -> None:
    found = problems({"contextTokens": 3800, "candidates": 10, "rerankTopN": 20})
    assert set(found) == {"platform.app.retrieval.contextTokens", "platform.app.retrieval.rerankTopN"}
    assert "4096-token window of serving.cpuTier" in found["platform.app.retrieval.contextTokens"]
    assert "at most 3584" in found["platform.app.retrieval.contextTokens"]


def test_unknown_hybrid_mode_is_a_config_error() -> None:
    found = problems({"hybrid": "sparse"})
    assert list(found) == ["platform.app.retrieval.hybrid"], found
