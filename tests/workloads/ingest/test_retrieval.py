"""The query path's stages (workloads/ingest/retrieval.py) on hand-built passages, a real BM25 index, a real
(tiny, locally built) cross-encoder served in-process and over HTTP, and SmolLM2's own tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workloads.ingest.retrieval import (
    CrossEncoderReranker,
    HfTokenCounter,
    HttpReranker,
    KeywordIndex,
    Passage,
    build_context,
    dedup_by_document,
    rerank,
    rrf,
)


def _p(cid: str, source: str = "a.md", text: str = "", title: str = "", headings: tuple[str, ...] = ()) -> Passage:
    return Passage(chunk_id=cid, source=source, title=title, text=text or f"text of {cid}", headings=headings)


def test_rrf_orders_by_summed_reciprocal_ranks() -> None:
    dense = [_p("a"), _p("b"), _p("c")]
    keyword = [_p("c"), _p("d"), _p("a")]
    fused = rrf([dense, keyword], k=60)
    # a: 1/61 + 1/63, c: 1/63 + 1/61 (tie: a seen first), b: 1/62, d: 1/62 (tie: b seen first)
    assert [p.chunk_id for p in fused] == ["a", "c", "b", "d"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63)
    assert [p.chunk_id for p in rrf([dense, keyword], k=1)] == ["a", "c", "b", "d"]
    assert [p.chunk_id for p in rrf([[_p("x")], [_p("y"), _p("x")]], n=1)] == ["x"]  # in both lists beats top of one


def test_dedup_keeps_the_best_passage_of_each_document_in_rank_order() -> None:
    ranked = [_p("1", "a.md"), _p("2", "b.md"), _p("3", "a.md"), _p("4", "c.md"), _p("5", "b.md")]
    assert [(p.chunk_id, p.source) for p in dedup_by_document(ranked)] == [("1", "a.md"), ("2", "b.md"), ("4", "c.md")]


def test_keyword_index_finds_a_chunk_by_its_title_only_with_contextual_text() -> None:
    passages = [
        _p("v1", "vacuum.html", "Reclaims storage occupied by dead tuples.", title="VACUUM", headings=("Description",)),
        _p("d1", "dump.html", "Extracts a database into a script file.", title="pg_dump", headings=("Description",)),
        _p("r1", "restore.html", "Restores a database from an archive.", title="pg_restore"),
    ]
    contextual = KeywordIndex(passages, contextual=True)
    plain = KeywordIndex(passages, contextual=False)
    assert contextual.search("what does vacuum do", 3)[0].chunk_id == "v1"
    assert plain.search("what does vacuum do", 3) == []  # the word is only in the title
    assert [p.chunk_id for p in plain.search("restores archive", 3)] == ["r1"]


def test_context_stays_within_the_token_budget_most_relevant_first_with_citations(
    smollm2_tokens: HfTokenCounter,
) -> None:
    passages = [
        Passage("h:1", "vacuum.html", "VACUUM", "VACUUM reclaims storage. " * 10, ("VACUUM", "Description"), None),
        Passage("h:2", "guide.pdf", "Guide", "Autovacuum runs in the background. " * 5, ("Maintenance",), 4),
        Passage("h:3", "dump.html", "pg_dump", "pg_dump writes a script. " * 80, (), None),
        Passage("h:4", "notes.md", "Notes", "Short note on freezing.", (), None),
    ]
    for budget in (40, 120, 200, 400, 2000):
        ctx = build_context(passages, budget, smollm2_tokens)
        assert ctx.tokens == smollm2_tokens.count(ctx.text) <= budget, budget
        assert ctx.used and ctx.used[0].chunk_id == "h:1"  # the most relevant first, cut to fit if need be
        for n, p in enumerate(ctx.used, start=1):
            assert f"[{n}] {p.citation()}" in ctx.text and ctx.citations[n - 1] == f"[{n}] {p.citation()}"
    small = build_context(passages, 200, smollm2_tokens)
    assert [p.chunk_id for p in small.used] == ["h:1", "h:2", "h:4"]  # pg_dump's block does not fit; a later one does
    assert "[2] guide.pdf, page 4 (Maintenance)" in small.text
    assert [p.chunk_id for p in build_context(passages, 2000, smollm2_tokens).used] == ["h:1", "h:2", "h:3", "h:4"]


# --------------------------------------------------------------------- rerank


def test_rerank_orders_the_top_candidates_by_the_cross_encoders_scores(tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    passages = [_p(str(i), text=f"passage number {i} about topic {i * 7}") for i in range(6)]
    scores = reranker.score("which topic", [p.contextual for p in passages[:4]])
    ranked = rerank("which topic", passages, reranker, top_n=4)
    expected = [passages[i].chunk_id for i in sorted(range(4), key=lambda i: -scores[i])]
    assert [p.chunk_id for p in ranked[:4]] == expected
    assert [p.chunk_id for p in ranked[4:]] == ["4", "5"]  # beyond top_n: first-stage order, untouched
    assert [p.score for p in ranked[:4]] == sorted(scores, reverse=True)


def test_http_reranker_speaks_the_rerank_api(
    tiny_cross_encoder: Path, rerank_endpoint: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = rerank_endpoint
    texts = ["alpha beta", "gamma delta", "epsilon"]
    remote = HttpReranker(url, "ms-marco-minilm-l6", api_key="k-123").score("greek letters", texts)
    local = CrossEncoderReranker(tiny_cross_encoder).score("greek letters", texts)
    assert remote == pytest.approx(local, rel=1e-5)  # scores put back in input order
    assert seen == [
        {
            "path": "/v1/rerank",
            "auth": "Bearer k-123",
            "model": "ms-marco-minilm-l6",
            "query": "greek letters",
            "documents": texts,
            "top_n": 3,
        }
    ]
