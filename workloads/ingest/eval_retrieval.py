"""Retrieval benchmark (issue 15): per corpus, per stage, with and without contextual chunks.

Ingests each corpus into the RAG app (the ingest job's own path, one store per variant), then asks every
labelled question through ``retrieval.Retriever`` (the app's search, then the stages) and prints recall@1,
recall@5, MRR@5 and the query latency p50/p95 per stage. A hit is the right *document*: the ranking is
deduplicated by document (``dedup_by_document``) and a question counts as found at the first rank whose
document is one of its ``source`` / ``sources``.

    python -m workloads.ingest.eval_retrieval --app-url http://127.0.0.1:8321 \\
        --corpus bundled=corpus/docs:corpus/questions.yaml \\
        --corpus postgresql=corpora/postgresql/docs:corpora/postgresql/questions.yaml [--reranker DIR|URL]

The API key is read from INGEST_APP_API_KEY. scripts/retrieval_benchmark.py starts a local app and runs this.

``--pad-to N`` measures latency at scale: after ingesting a corpus, it copies the store's chunks (text, metadata and
vectors) under other document names until the store holds N chunks, and the BM25 index holds the copies too. The
copies are exact duplicates of the right passages under wrong names, so the quality columns of those rows mean
nothing; they print as "-" and only the latency counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workloads.ingest.app_client import AppClient, AppSettings
from workloads.ingest.embed import DEFAULT_MODEL
from workloads.ingest.ingest import run_ingest
from workloads.ingest.produce import ChunkProducer, ProducerSettings
from workloads.ingest.retrieval import (
    AppSearch,
    CrossEncoderReranker,
    HttpReranker,
    KeywordIndex,
    Reranker,
    RetrievalSettings,
    Retriever,
)
from workloads.ingest.sinks.ogx import AppVectorStoreSink, export_row

log = logging.getLogger(__name__)

DEFAULT_CORPORA = [
    "bundled=corpus/docs:corpus/questions.yaml",
    "postgresql=corpora/postgresql/docs:corpora/postgresql/questions.yaml",
]


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    sources: tuple[str, ...]


def load_labelled(path: Path) -> list[LabelledQuestion]:
    """Questions with ``source`` or ``sources`` (the corpora's format, checked by tests/corpora)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["questions"]:
        sources = item.get("sources") or [item["source"]]
        out.append(LabelledQuestion(str(item["question"]), tuple(str(s) for s in sources)))
    return out


@dataclass
class StageResult:
    corpus: str
    contextual: bool
    stage: str
    ranks: list[int | None] = field(default_factory=list)  # rank of the first right document, None if not in 5
    seconds: list[float] = field(default_factory=list)
    local_seconds: list[float] = field(default_factory=list)  # the stages after the app's search (BM25, rerank)
    chunks: int | None = None  # chunks in the store; set when padded (the quality figures then mean nothing)

    def row(self) -> dict[str, Any]:
        n = len(self.ranks)
        lat = sorted(self.seconds)
        padded = self.chunks is not None
        return {
            "corpus": self.corpus,
            "contextual": self.contextual,
            "stage": self.stage,
            "questions": n,
            "chunks": self.chunks,
            "recall@1": None if padded else sum(r == 1 for r in self.ranks) / n,
            "recall@5": None if padded else sum(r is not None for r in self.ranks) / n,
            "mrr@5": None if padded else sum(1 / r for r in self.ranks if r) / n,
            "p50_ms": 1000 * statistics.median(lat),
            "p95_ms": _p95_ms(self.seconds),
            "local_p95_ms": _p95_ms(self.local_seconds),
        }


def _p95_ms(seconds: list[float]) -> float:
    ordered = sorted(seconds) or [0.0]
    return 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


STAGES: dict[str, RetrievalSettings] = {
    "dense": RetrievalSettings(hybrid="off"),
    "hybrid (OGX)": RetrievalSettings(hybrid="ogx"),
    "hybrid (BM25+RRF)": RetrievalSettings(hybrid="bm25"),
    "hybrid (BM25+RRF) + rerank": RetrievalSettings(hybrid="bm25", rerank=True),
}


def ingest_variant(client: AppClient, name: str, docs: Path, contextual: bool) -> AppVectorStoreSink:
    producer = ChunkProducer(ProducerSettings(DEFAULT_MODEL, contextual_chunks=contextual, log_level="WARNING"))
    sink = AppVectorStoreSink(client, name)
    started = time.monotonic()
    summary = run_ingest(docs, producer, sink)
    log.info(
        "%s: %d documents, %d chunks (%d written) in %.0f s",
        name,
        summary.documents,
        summary.chunks_total,
        summary.chunks_written,
        time.monotonic() - started,
    )
    return sink


class PadError(ValueError):
    """--pad-to cannot be done (the message is one line for the user)."""


def pad_store(
    sink: AppVectorStoreSink, originals: list[dict[str, Any]], target: int, batch: int = 500
) -> list[dict[str, Any]]:
    """Copy the store's chunks (`originals`, as `stored_chunks()` returns them) under other document names
    ("pad<n>/<source>") until it holds `target` chunks; returns the copies as export rows (for the BM25 index).
    Nothing is copied when it holds that many already."""
    assert sink.store_id is not None
    if not originals:
        raise PadError(f"--pad-to: the store {sink.name!r} holds no chunks to copy; ingest documents first")
    copies: list[dict[str, Any]] = []
    pending: list[bytes] = []
    while len(originals) + len(copies) < target:
        n = len(copies) // len(originals) + 1
        row = originals[len(copies) % len(originals)]
        meta = dict(row.get("metadata") or {})
        name = f"pad{n}/{meta.get('source')}"
        meta |= {"document_id": name, "source": name, "doc_hash": f"pad{n}-{meta.get('doc_hash')}"}
        cid = f"pad{n}-{row.get('chunk_id')}"
        copy = row | {"chunk_id": cid, "metadata": meta}
        copy["chunk_metadata"] = dict(row.get("chunk_metadata") or {}) | {
            "chunk_id": cid,
            "document_id": name,
            "source": name,
        }
        copies.append(export_row(copy))
        pending.append(json.dumps(copy, ensure_ascii=False).encode("utf-8"))
        if len(pending) >= batch:
            sink.client.insert_chunks(sink.store_id, pending)
            pending = []
    if pending:
        sink.client.insert_chunks(sink.store_id, pending)
    log.info("padded the store to %d chunks (%d copies)", len(originals) + len(copies), len(copies))
    return copies


def evaluate_store(
    corpus: str,
    contextual: bool,
    sink: AppVectorStoreSink,
    questions: list[LabelledQuestion],
    reranker: Reranker | None,
    k: int = 5,
    pad_to: int | None = None,
) -> list[StageResult]:
    assert sink.store_id is not None
    app = AppSearch(sink.client, sink.store_id)
    stored = list(sink.stored_chunks())
    rows = [export_row(row) for row in stored]
    if pad_to is not None:
        rows += pad_store(sink, stored, pad_to)
    keyword = KeywordIndex.from_rows(rows, contextual=contextual)
    results = []
    for stage, settings in STAGES.items():
        if settings.rerank and reranker is None:
            continue
        retriever = Retriever(app, settings, keyword, reranker)
        result = StageResult(corpus, contextual, stage, chunks=len(rows) if pad_to is not None else None)
        for q in questions:
            got = retriever.retrieve(q.question, documents=True)
            docs = [p.source for p in got.passages[:k]]
            result.ranks.append(next((i for i, d in enumerate(docs, start=1) if d in q.sources), None))
            result.seconds.append(got.seconds["total"])
            result.local_seconds.append(got.seconds.get("keyword+fusion", 0.0) + got.seconds.get("rerank", 0.0))
        row = result.row()
        log.info("%s %s %s: %s", corpus, "ctx" if contextual else "plain", stage, row)
        results.append(result)
    return results


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| corpus | contextual chunks | stage | questions | recall@1 | recall@5 | MRR@5 | p50 ms | p95 ms "
        "| p95 ms after the app's search |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        corpus = r["corpus"] if r.get("chunks") is None else f"{r['corpus']} padded to {r['chunks']:,} chunks"
        quality = " | ".join("-" if r[m] is None else f"{r[m]:.3f}" for m in ("recall@1", "recall@5", "mrr@5"))
        lines.append(
            f"| {corpus} | {'yes' if r['contextual'] else 'no'} | {r['stage']} | {r['questions']} | {quality} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['local_p95_ms']:.1f} |"
        )
    return "\n".join(lines)


def load_reranker(spec: str | None, model: str | None) -> Reranker | None:
    if not spec:
        return None
    if spec.startswith(("http://", "https://")):
        return HttpReranker(spec, model or "reranker", os.environ.get("RERANKER_API_KEY", ""))
    return CrossEncoderReranker(spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workloads.ingest.eval_retrieval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--app-url", default=os.environ.get("INGEST_APP_URL", "http://127.0.0.1:8321"))
    parser.add_argument("--corpus", action="append", help="NAME=DOCS:QUESTIONS (repeatable; default: both corpora)")
    parser.add_argument("--contextual", choices=["both", "on", "off"], default="both")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each corpus")
    parser.add_argument("--reranker", help="a local cross-encoder folder or a rerank endpoint URL (.../v1)")
    parser.add_argument("--reranker-model", help="served model name at --reranker URL")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument(
        "--pad-to", type=int, default=None, help="copy each store's chunks until it holds N (latency at scale)"
    )
    args = parser.parse_args(argv)
    if args.pad_to is not None and args.pad_to < 1:
        parser.error("--pad-to must be a positive number of chunks")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    corpora = []
    for spec in args.corpus or DEFAULT_CORPORA:
        name, _, paths = spec.partition("=")
        docs, _, questions = paths.partition(":")
        if not (name and Path(docs).is_dir() and Path(questions).is_file()):
            print(f"error: --corpus {spec!r}: expected NAME=DOCS_FOLDER:QUESTIONS_YAML", file=sys.stderr)
            return 2
        corpora.append((name, Path(docs), Path(questions)))
    variants = {"both": [False, True], "on": [True], "off": [False]}[args.contextual]
    reranker = load_reranker(args.reranker, args.reranker_model)
    client = AppClient(AppSettings(url=args.app_url, api_key=os.environ.get("INGEST_APP_API_KEY", "")))
    rows: list[dict[str, Any]] = []
    try:
        for name, docs, qfile in corpora:
            questions = load_labelled(qfile)[: args.limit]
            for contextual in variants:
                store = f"eval-{name}-{'ctx' if contextual else 'plain'}"
                sink = ingest_variant(client, store, docs, contextual)
                rows += [
                    r.row() for r in evaluate_store(name, contextual, sink, questions, reranker, pad_to=args.pad_to)
                ]
    except PadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print(render(rows))
    if reranker is None:
        print("\n(no reranker given: the rerank stage was not run)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
