"""The query path, stage by stage: what the RAG app asks and what the retrieval benchmark measures (issue 15).

    dense      the app's own search, POST /v1/vector_stores/{id}/search with search_mode "vector"
    hybrid     dense fused with a keyword ranking by reciprocal rank (RRF). Two keyword sides exist:
               "bm25": a BM25 index (bm25s) over the store's chunks *with their title and heading path*
               (records.contextual_text), fused here; "ogx": OGX's own search_mode "hybrid" (Milvus's BM25
               function over the stored clean text, fused inside OGX). The benchmark measures both.
    rerank     a cross-encoder scores (question, chunk) pairs of the top candidates and reorders them:
               sentence-transformers CrossEncoder from a local folder, or a Cohere/vLLM-style POST /v1/rerank
               (the cluster's `role: reranker` model served by vLLM or text-embeddings-inference)
    dedup      one passage per document, for callers that want documents
    context    the prompt's context: passages most relevant first, each with its citation, up to a token
               budget counted with the serving model's tokenizer

Libraries: bm25s (sparse-matrix BM25, fast at 10k+ chunks; its scores match rank_bm25's Lucene variant),
sentence-transformers (CrossEncoder), tokenizers / transformers (the chat model's tokenizer, also from GGUF),
httpx (the app and the reranker endpoint).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from workloads.ingest.app_client import AppClient
from workloads.ingest.records import HEADING_SEPARATOR, SearchHit, chunk_id, contextual_text

log = logging.getLogger(__name__)

RRF_K = 60  # the usual constant (Cormack et al. 2009); OGX's default impact_factor too
HybridMode = Literal["off", "bm25", "ogx"]


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk: ``text`` is the clean stored chunk (what is cited), the rest is where it comes from."""

    chunk_id: str
    source: str
    title: str
    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    score: float = 0.0

    @property
    def contextual(self) -> str:
        return contextual_text(self.title, self.headings, self.text)

    def citation(self) -> str:
        where = self.source + (f", page {self.page}" if self.page is not None else "")
        section = HEADING_SEPARATOR.join(self.headings)
        return f"{where} ({section})" if section else where


def passage_from_attributes(attrs: dict[str, Any], text: str, score: float, fallback_id: str = "") -> Passage:
    """A passage from the chunk metadata the ingest job stores (sinks/ogx.py)."""
    headings = str(attrs.get("headings") or "")
    doc_hash, index = str(attrs.get("doc_hash") or ""), attrs.get("chunk_index")
    page = attrs.get("page")
    return Passage(
        chunk_id=chunk_id(doc_hash, int(index)) if doc_hash and index is not None else fallback_id,
        source=str(attrs.get("source") or attrs.get("document_id") or ""),
        title=str(attrs.get("title") or ""),
        text=text,
        headings=tuple(headings.split(HEADING_SEPARATOR)) if headings else (),
        page=int(page) if page is not None else None,
        score=score,
    )


# ---------------------------------------------------------------------------------------------- first stage


class AppSearch:
    """The app's own search (OGX): dense ("vector") or OGX's hybrid."""

    def __init__(self, client: AppClient, store_id: str) -> None:
        self.client = client
        self.store_id = store_id

    def search(self, query: str, n: int, mode: str = "vector") -> list[Passage]:
        passages = []
        for item in self.client.search(self.store_id, query, min(n, 50), mode=mode):
            text = "".join(str(c.get("text") or "") for c in item.get("content") or [])
            attrs = item.get("attributes") or {}
            passages.append(
                passage_from_attributes(attrs, text, float(item.get("score") or 0.0), str(item.get("file_id") or ""))
            )
        return passages


_TOKEN = re.compile(r"[\w]+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(text)]


class KeywordIndex:
    """BM25 (bm25s) over passages' contextual text: title, heading path and chunk, so a question that names a
    page's subject finds its chunks even when the chunk itself does not repeat it."""

    def __init__(self, passages: Sequence[Passage], contextual: bool = True) -> None:
        import bm25s

        self.passages = list(passages)
        self._bm25 = bm25s.BM25()
        texts = [p.contextual if contextual else p.text for p in self.passages]
        self._bm25.index([_tokens(t) for t in texts], show_progress=False)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], contextual: bool = True) -> KeywordIndex:
        """From the ingest job's export rows (``AppVectorStoreSink.chunks()``)."""
        return cls(
            [
                Passage(
                    chunk_id=str(r["id"]),
                    source=str(r.get("source") or ""),
                    title=str(r.get("title") or ""),
                    text=str(r.get("text") or ""),
                    headings=tuple(r.get("headings") or ()),
                    page=r.get("page"),
                )
                for r in rows
            ],
            contextual,
        )

    def search(self, query: str, n: int) -> list[Passage]:
        import numpy as np

        terms = [t for t in _tokens(query) if t in self._bm25.vocab_dict]
        if not terms or not self.passages:
            return []
        scores = self._bm25.get_scores(terms)
        order = np.argsort(-scores, kind="stable")[:n]
        return [replace(self.passages[i], score=float(scores[i])) for i in order if scores[i] > 0]


def rrf(rankings: Sequence[Sequence[Passage]], k: int = RRF_K, n: int | None = None) -> list[Passage]:
    """Reciprocal rank fusion: score(chunk) = sum over rankings of 1 / (k + rank). Ties keep first-seen order.
    The passage kept is the first ranking's copy (its text is the stored text either way)."""
    scores: dict[str, float] = {}
    first: dict[str, Passage] = {}
    for ranking in rankings:
        for rank, passage in enumerate(ranking, start=1):
            scores[passage.chunk_id] = scores.get(passage.chunk_id, 0.0) + 1.0 / (k + rank)
            first.setdefault(passage.chunk_id, passage)
    order = sorted(first, key=lambda cid: -scores[cid])  # sorted() is stable: ties stay in first-seen order
    fused = [replace(first[cid], score=scores[cid]) for cid in order]
    return fused[:n] if n is not None else fused


# ---------------------------------------------------------------------------------------------- rerank


class Reranker(Protocol):
    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local folder (offline: no hub download)."""

    def __init__(self, path: str | Path, max_length: int = 512) -> None:
        from workloads.ingest.torch_compat import hide_broken_torchvision

        hide_broken_torchvision()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(path), max_length=max_length, local_files_only=True, device="cpu")

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        return [float(s) for s in self.model.predict([(query, t) for t in texts], batch_size=32)]


RerankApi = Literal["cohere", "tei"]


class HttpReranker:
    """A served reranker. ``api`` "cohere": POST {url}/rerank in the Cohere/Jina shape that vLLM (/v1/rerank) and
    LiteLLM serve: {model, query, documents, top_n} -> results[{index, relevance_score}]. ``api`` "tei":
    text-embeddings-inference's own shape, {query, texts} -> [{index, score}]. ``endpoint`` is the full URL to
    POST to (the stack output ``reranker.rerankUrl``); without it, {url}/rerank."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 30.0,
        *,
        api: RerankApi = "cohere",
        endpoint: str | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model, self.api = model, api
        self.endpoint = endpoint or f"{url.rstrip('/')}/rerank"
        self._http = httpx.Client(headers=headers, timeout=timeout_s)

    @classmethod
    def at(cls, endpoint: str, model: str, api: RerankApi = "cohere", api_key: str = "") -> HttpReranker:
        """The reranker whose rerank URL is ``endpoint`` (what the stack renders: INGEST_RERANKER_URL)."""
        return cls(endpoint.rsplit("/", 1)[0], model, api_key, api=api, endpoint=endpoint)

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        body: dict[str, Any] = (
            {"query": query, "texts": list(texts), "truncate": True}
            if self.api == "tei"
            else {"model": self.model, "query": query, "documents": list(texts), "top_n": len(texts)}
        )
        response = self._http.post(self.endpoint, json=body)
        response.raise_for_status()
        data = response.json()
        results = data["results"] if isinstance(data, dict) else data  # TEI answers a bare list
        scores = [float("-inf")] * len(texts)
        for r in results:
            scores[int(r["index"])] = float(r.get("relevance_score", r.get("score", 0.0)))
        return scores


def rerank(query: str, passages: Sequence[Passage], reranker: Reranker, top_n: int) -> list[Passage]:
    """Score the first ``top_n`` passages with the cross-encoder (on their contextual text) and put them in its
    order; the rest follow unchanged."""
    head, tail = list(passages[:top_n]), list(passages[top_n:])
    scores = reranker.score(query, [p.contextual for p in head])
    ranked = sorted(zip(scores, range(len(head)), head, strict=True), key=lambda t: (-t[0], t[1]))
    return [replace(p, score=s) for s, _, p in ranked] + tail


def dedup_by_document(passages: Iterable[Passage]) -> list[Passage]:
    """The best passage of each document, in rank order."""
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.source not in seen:
            seen.add(p.source)
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------- context


class TokenCounter(Protocol):
    def count(self, text: str) -> int: ...
    def truncate(self, text: str, tokens: int) -> str: ...


class HfTokenCounter:
    """The serving model's tokenizer: a tokenizer.json (``tokenizers``), a Hugging Face folder, or a GGUF file
    (transformers reads the tokenizer out of it; needs the ``gguf`` package)."""

    def __init__(self, encode: Callable[[str], list[tuple[int, int]]]) -> None:
        self._encode = encode  # text -> token offsets (start, end)

    @classmethod
    def load(cls, path: str | Path) -> HfTokenCounter:
        path = Path(path)
        if path.suffix == ".json":
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(path))
            return cls(lambda text: list(tok.encode(text, add_special_tokens=False).offsets))
        from workloads.ingest.torch_compat import hide_broken_torchvision

        hide_broken_torchvision()
        from transformers import AutoTokenizer

        if path.suffix == ".gguf":
            hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        else:
            hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return cls(lambda text: list(hf(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]))

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def truncate(self, text: str, tokens: int) -> str:
        offsets = self._encode(text)
        return text if len(offsets) <= tokens else text[: offsets[tokens - 1][1]] if tokens > 0 else ""


@dataclass
class Context:
    text: str  # what goes into the prompt
    citations: list[str]  # "[n] source (headings)" for each passage used, n as in the text
    tokens: int  # tokens of ``text`` by the counter
    used: list[Passage] = field(default_factory=list)


def build_context(passages: Sequence[Passage], budget: int, counter: TokenCounter) -> Context:
    """Passages most relevant first, each as "[n] citation\\ntext", separated by a blank line, while the whole
    stays within ``budget`` tokens. A passage that does not fit is skipped (a smaller later one may); the first
    passage is cut to fit rather than leave the context empty. The count is of the joined text, so the budget
    holds exactly."""
    blocks: list[str] = []
    used: list[Passage] = []
    tokens = 0
    for p in passages:
        n = len(blocks) + 1
        block = f"[{n}] {p.citation()}\n{p.text}"
        candidate = "\n\n".join([*blocks, block])
        size = counter.count(candidate)
        if size > budget:
            if blocks:
                continue
            header = f"[{n}] {p.citation()}\n"
            room = budget - counter.count(header)
            if room <= 8:
                continue
            block = header + counter.truncate(p.text, room)
            while counter.count(block) > budget and room > 0:  # tokens may merge across the join
                room -= 1
                block = header + counter.truncate(p.text, room)
            candidate, size = block, counter.count(block)
            if size > budget:
                continue
        blocks.append(block)
        used.append(p)
        tokens = size
    citations = [f"[{i}] {p.citation()}" for i, p in enumerate(used, start=1)]
    return Context("\n\n".join(blocks), citations, tokens, used)


# ---------------------------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class RetrievalSettings:
    hybrid: HybridMode = "bm25"
    rerank: bool = False
    candidates: int = 50  # first-stage passages fused and (with rerank) scored
    rerank_top_n: int = 20  # how many of them the cross-encoder scores
    rrf_k: int = RRF_K


@dataclass
class Retrieved:
    passages: list[Passage]
    seconds: dict[str, float]  # per stage


class Retriever:
    """The query path the app and the benchmark share."""

    def __init__(
        self,
        app: AppSearch,
        settings: RetrievalSettings,
        keyword: KeywordIndex | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        if settings.hybrid == "bm25" and keyword is None:
            raise ValueError("hybrid 'bm25' needs a KeywordIndex over the store's chunks")
        if settings.rerank and reranker is None:
            raise ValueError("rerank is on but no reranker is given")
        self.app, self.settings, self.keyword, self.reranker = app, settings, keyword, reranker

    def retrieve(self, query: str, *, documents: bool = False) -> Retrieved:
        s = self.settings
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        if s.hybrid == "ogx":
            passages = self.app.search(query, s.candidates, mode="hybrid")
            seconds["first"] = time.perf_counter() - started
        else:
            passages = self.app.search(query, s.candidates, mode="vector")
            seconds["dense"] = time.perf_counter() - started
            if s.hybrid == "bm25":
                assert self.keyword is not None
                t = time.perf_counter()
                passages = rrf([passages, self.keyword.search(query, s.candidates)], k=s.rrf_k, n=s.candidates)
                seconds["keyword+fusion"] = time.perf_counter() - t
        if s.rerank and self.reranker is not None:
            t = time.perf_counter()
            passages = rerank(query, passages, self.reranker, s.rerank_top_n)
            seconds["rerank"] = time.perf_counter() - t
        if documents:
            passages = dedup_by_document(passages)
        seconds["total"] = time.perf_counter() - started
        return Retrieved(passages, seconds)


class RetrieverSearch:
    """The ``search.Searcher`` the CLI's search and evaluate use: the store's search through these stages."""

    def __init__(self, sink: Any, settings: RetrievalSettings, reranker: Reranker | None = None) -> None:
        from workloads.ingest.sinks.ogx import AppVectorStoreSink

        assert isinstance(sink, AppVectorStoreSink) and sink.store_id is not None
        keyword = KeywordIndex.from_rows(sink.chunks()) if settings.hybrid == "bm25" else None
        self.retriever = Retriever(AppSearch(sink.client, sink.store_id), settings, keyword, reranker)

    def search(self, query: str, k: int) -> list[SearchHit]:
        passages = self.retriever.retrieve(query).passages[:k]
        return [
            SearchHit(
                rank=n,
                score=p.score,
                source=p.source,
                title=p.title,
                text=p.text,
                headings=p.headings,
                page=p.page,
                chunk_id=p.chunk_id,
            )
            for n, p in enumerate(passages, start=1)
        ]
