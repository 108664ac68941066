"""The RAG app's query path with the stack's retrieval settings (platform.app.retrieval, rendered into the ingest
Job's environment): first stage (dense or hybrid), rerank when a reranker is configured and on, then the prompt's
context filled up to a token budget counted with the chat model's tokenizer, with citations.

`search` and `evaluate` rank with it (`searcher`); `context` (`context_results`) also builds the context, which is
what the local demo sends to the chat model (local/demo/ask.py). The stages themselves are in retrieval.py.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from workloads.ingest.retrieval import (
    HttpReranker,
    HybridMode,
    RerankApi,
    RetrievalSettings,
    Retriever,
    RetrieverSearch,
    TokenCounter,
    build_context,
)
from workloads.ingest.search import Searcher, SearchError
from workloads.ingest.sinks.ogx import AppVectorStoreSink

NO_RERANKER = (
    "rerank off: the stack serves no reranker model (serving.reranker / a serving.models[] entry with role: "
    "reranker, then platform.app.retrieval.rerank: true); retrieval is one stage"
)


@dataclass(frozen=True)
class QuerySettings:
    """The query path's settings, as the ingest Job's environment (or flags) give them."""

    hybrid: HybridMode = "bm25"
    rerank: bool = False
    reranker_url: str | None = None
    """The reranker's rerank endpoint (stack output reranker.rerankUrl); None when the stack serves none."""
    reranker_model: str | None = None
    reranker_api: RerankApi = "cohere"
    reranker_api_key: str = field(default="", repr=False)
    candidates: int = 50
    rerank_top_n: int = 20
    context_tokens: int = 2048

    def retrieval(self) -> RetrievalSettings:
        return RetrievalSettings(
            hybrid=self.hybrid, rerank=self.rerank, candidates=self.candidates, rerank_top_n=self.rerank_top_n
        )

    def reranker(self) -> HttpReranker | None:
        if not self.rerank or self.reranker_url is None or self.reranker_model is None:
            return None
        return HttpReranker.at(self.reranker_url, self.reranker_model, self.reranker_api, self.reranker_api_key)

    def first_stage(self) -> str:
        return {"off": "dense", "bm25": "hybrid bm25 (dense + BM25, RRF)", "ogx": "hybrid ogx (OGX's own)"}[self.hybrid]

    def rerank_line(self) -> str:
        """What the rerank stage does, said once at start-up."""
        if self.rerank:
            return (
                f"rerank on: {self.reranker_model} at {self.reranker_url} ({self.reranker_api} API) scores the top "
                f"{self.rerank_top_n} of {self.candidates} candidates"
            )
        if self.reranker_url is None:
            return f"{NO_RERANKER}: {self.first_stage()}"
        return (
            "rerank off (--rerank off / INGEST_RERANK: platform.app.retrieval.rerank is false); retrieval is one "
            f"stage: {self.first_stage()}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "hybrid": self.hybrid,
            "rerank": self.rerank,
            "reranker_model": self.reranker_model if self.rerank else None,
            "reranker_url": self.reranker_url if self.rerank else None,
            "candidates": self.candidates,
            "rerank_top_n": self.rerank_top_n if self.rerank else None,
            "context_tokens": self.context_tokens,
        }


def announce(settings: QuerySettings, stream: TextIO | None = None) -> None:
    """The rerank stage's state, once per run (not per question)."""
    print(settings.rerank_line(), file=stream or sys.stderr, flush=True)


def searcher(settings: QuerySettings, store: AppVectorStoreSink) -> Searcher:
    """What `search` and `evaluate` rank with: the app's plain dense search when no stage is added, else the
    Retriever with the stack's settings."""
    if settings.hybrid == "off" and not settings.rerank:
        return store
    return RetrieverSearch(store, settings.retrieval(), settings.reranker())


def retriever(settings: QuerySettings, store: AppVectorStoreSink) -> Retriever:
    return RetrieverSearch(store, settings.retrieval(), settings.reranker()).retriever


def context_results(
    questions: list[str],
    path: Retriever,
    budget: int,
    counter: TokenCounter,
    *,
    documents: bool = False,
) -> list[dict[str, Any]]:
    """For each question: the passages that went into its context (numbered as cited), the context text, its
    token count (never above ``budget``) and the seconds per stage."""
    out = []
    for question in questions:
        if not question.strip():
            raise SearchError("a question is empty")
        retrieved = path.retrieve(question, documents=documents)
        started = time.perf_counter()
        context = build_context(retrieved.passages, budget, counter)
        seconds = {**retrieved.seconds, "context": time.perf_counter() - started}
        out.append(
            {
                "question": question,
                "passages": [
                    {
                        "n": n,
                        "source": p.source,
                        "title": p.title,
                        "page": p.page,
                        "headings": list(p.headings),
                        "chunk_id": p.chunk_id,
                        "score": p.score,
                        "citation": p.citation(),
                        "text": p.text,
                    }
                    for n, p in enumerate(context.used, start=1)
                ],
                "candidates": len(retrieved.passages),
                "context": context.text,
                "citations": context.citations,
                "tokens": context.tokens,
                "budget": budget,
                "seconds": {k: round(v, 4) for k, v in seconds.items()},
            }
        )
    return out
