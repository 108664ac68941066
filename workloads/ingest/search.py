"""Query helper: ask the RAG app's search (the app embeds the question) and show the nearest chunks."""

from __future__ import annotations

import textwrap
from typing import Protocol

from workloads.ingest.records import SearchHit


class Searcher(Protocol):
    def search(self, query: str, k: int) -> list[SearchHit]: ...


class SearchError(Exception):
    """A question that cannot be asked; the message is one line for the user."""


def search(question: str, store: Searcher, k: int) -> list[SearchHit]:
    if not question.strip():
        raise SearchError("the search question is empty")
    return store.search(question, k)


def format_hits(hits: list[SearchHit], width: int = 100, max_chars: int = 400) -> str:
    if not hits:
        return "no results: the vector store is empty (run `python -m workloads.ingest ingest` first)"
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
