"""Query helper: embed a question with the ingest model and show the nearest chunks."""

from __future__ import annotations

import textwrap
from typing import Protocol

from workloads.ingest.records import SearchHit
from workloads.ingest.sinks import ChunkSink


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> list[float]: ...


def search(question: str, embedder: QueryEmbedder, sink: ChunkSink, k: int) -> list[SearchHit]:
    if not question.strip():
        raise SystemExit("error: the search question is empty")
    if k < 1:
        raise SystemExit(f"error: --k {k} must be at least 1")
    return sink.search(embedder.embed_query(question), k)


def format_hits(hits: list[SearchHit], width: int = 100, max_chars: int = 400) -> str:
    if not hits:
        return "no results: the collection is empty (run `python -m workloads.ingest ingest` first)"
    blocks = []
    for hit in hits:
        where = hit.source + (f", page {hit.page}" if hit.page is not None else "")
        section = " > ".join(hit.headings)
        header = f"{hit.rank}. [{hit.score:.3f}] {where}" + (f"  ({section})" if section else "")
        snippet = " ".join(hit.text.split())
        if len(snippet) > max_chars:
            snippet = snippet[: max_chars - 3] + "..."
        body = textwrap.fill(snippet, width=width, initial_indent="   ", subsequent_indent="   ")
        blocks.append(f"{header}\n{body}")
    return "\n\n".join(blocks)
