"""Command line: `python -m workloads.ingest {ingest,search,export,evaluate,context} ...` (interface: README.md).

Every setting is a flag with an environment fallback; secrets (the app's API key) come only from the
environment. Bad input never ends in a traceback: configuration problems are reported together, one line
each, and the exit status says what happened:

    0  done                       1  done, but some documents were skipped (listed), or recall below --min-recall
    2  nothing done: bad configuration, unreachable app, unusable corpus or store
    3  nothing done: --prune refused (it would empty or mostly empty the store)
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, get_args

from workloads.ingest.app_client import AppClient, AppError, AppSettings, KeyFileError, api_key_from
from workloads.ingest.convert import PdfModelsMissing
from workloads.ingest.convert_worker import WorkerError
from workloads.ingest.discover import CorpusError
from workloads.ingest.embed import DEFAULT_MODEL, ModelError
from workloads.ingest.evaluate import evaluate, load_questions
from workloads.ingest.ingest import IngestOptions, PruneRefused, run_ingest
from workloads.ingest.manifest import ManifestError
from workloads.ingest.produce import ChunkProducer, ProducerSettings
from workloads.ingest.query import QuerySettings, announce, context_results, retriever, searcher
from workloads.ingest.retrieval import HybridMode
from workloads.ingest.search import Searcher, SearchError, format_hits, search
from workloads.ingest.sinks.ogx import MAX_SEARCH_RESULTS, AppVectorStoreSink, StoreError
from workloads.ingest.summary import Summary

log = logging.getLogger("workloads.ingest")

DEFAULT_CORPUS = "corpus/docs"
DEFAULT_QUESTIONS = "corpus/questions.yaml"
DEFAULT_APP_URL = "http://127.0.0.1:8321"
DEFAULT_VECTOR_STORE = "docs"
DEFAULT_KEY_ENV = "INGEST_APP_API_KEY"
EXIT_SKIPPED, EXIT_ERROR, EXIT_PRUNE_REFUSED = 1, 2, 3

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Failures that stop a run with one line and exit status 2.
FATAL = (AppError, StoreError, CorpusError, ModelError, WorkerError, PdfModelsMissing, ManifestError, SearchError)


class ConfigError(Exception):
    """One or more settings are wrong; one problem per line."""


# ------------------------------------------------------------------------------------------ settings


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def _on_off(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ValueError(text)
    return value in ("on", "true", "1", "yes")


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low or (high is not None and value > high):
            raise ValueError(text)
        return value

    return parse


def _http_url(text: str) -> str:
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(text)
    return text


def _one_of(*values: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(text)
        return text

    return parse


HYBRID_MODES: tuple[str, ...] = get_args(HybridMode)

# (attribute, flag, environment variable, parser, default, what a valid value is)
_SETTINGS: list[tuple[str, str, str, Callable[[str], Any], Any, str]] = [
    ("app_url", "--app-url", "INGEST_APP_URL", str, DEFAULT_APP_URL, "a URL"),
    ("vector_store", "--vector-store", "INGEST_VECTOR_STORE", str, DEFAULT_VECTOR_STORE, "a name"),
    ("app_api_key_env", "--app-api-key-env", "INGEST_APP_API_KEY_ENV", str, DEFAULT_KEY_ENV, "a variable name"),
    ("app_timeout", "--app-timeout", "INGEST_APP_TIMEOUT", _positive_float, 120.0, "seconds > 0"),
    ("app_embedding_model", "--app-embedding-model", "INGEST_APP_EMBEDDING_MODEL", str, None, "a model id"),
    ("app_vector_provider", "--app-vector-provider", "INGEST_APP_VECTOR_PROVIDER", str, None, "a provider id"),
    ("embedding_model", "--embedding-model", "INGEST_EMBEDDING_MODEL", str, DEFAULT_MODEL, "a model"),
    ("chunk_tokens", "--chunk-tokens", "INGEST_CHUNK_TOKENS", _positive_int, None, "a positive integer"),
    ("contextual_chunks", "--contextual-chunks", "INGEST_CONTEXTUAL_CHUNKS", _on_off, True, "on or off"),
    ("max_file_mb", "--max-file-mb", "INGEST_MAX_FILE_MB", _positive_float, 50.0, "megabytes > 0"),
    ("max_file_seconds", "--max-file-seconds", "INGEST_MAX_FILE_SECONDS", _positive_float, 600.0, "seconds > 0"),
    ("convert_workers", "--convert-workers", "INGEST_CONVERT_WORKERS", _positive_int, 1, "a positive integer"),
    ("insert_batch", "--insert-batch", "INGEST_INSERT_BATCH", _positive_int, 256, "a positive integer"),
    ("max_prune_fraction", "--max-prune-fraction", "INGEST_MAX_PRUNE_FRACTION", _fraction, 0.5, "0 to 1"),
]
# The query path's settings (search, evaluate, context): the ingest Job renders them from platform.app.retrieval.
_RETRIEVAL: list[tuple[str, str, str, Callable[[str], Any], Any, str]] = [
    ("hybrid", "--hybrid", "INGEST_SEARCH_HYBRID", _one_of(*HYBRID_MODES), "bm25", "off, bm25 or ogx"),
    ("rerank", "--rerank", "INGEST_RERANK", _on_off, False, "on or off"),
    ("reranker_url", "--reranker-url", "INGEST_RERANKER_URL", _http_url, None, "an http(s) URL"),
    ("reranker_model", "--reranker-model", "INGEST_RERANKER_MODEL", str, None, "a served model name"),
    ("reranker_api", "--reranker-api", "INGEST_RERANKER_API", _one_of("cohere", "tei"), "cohere", "cohere or tei"),
    ("candidates", "--candidates", "INGEST_RETRIEVAL_CANDIDATES", _int_in(1, 50), 50, "an integer from 1 to 50"),
    ("rerank_top_n", "--rerank-top-n", "INGEST_RERANK_TOP_N", _int_in(1, 50), 20, "an integer from 1 to 50"),
    ("context_tokens", "--context-tokens", "INGEST_CONTEXT_TOKENS", _int_in(64), 2048, "an integer >= 64"),
    ("tokenizer", "--tokenizer", "INGEST_CONTEXT_TOKENIZER", str, None, "a path"),
]
RERANKER_KEY_ENV = "INGEST_RERANKER_API_KEY"
"""The reranker's Bearer key: this variable, else the file INGEST_RERANKER_API_KEY_FILE names (the cluster Job
mounts the serving API key there)."""
_PRODUCER_ONLY = {
    "embedding_model", "chunk_tokens", "contextual_chunks", "max_file_mb", "max_file_seconds", "convert_workers",
    "insert_batch", "max_prune_fraction",
}  # fmt: skip
_HELP = {
    "hybrid": "first stage: off = the app's dense search; bm25 = dense fused with BM25 over the chunks' title, "
    "headings and text (retrieval.py); ogx = OGX's search_mode hybrid (docs/retrieval.md)",
    "app_url": "base URL of the RAG app (OGX)",
    "vector_store": "name of the app's vector store; created on first ingest",
    "app_api_key_env": "name of the environment variable that holds the app's API key (sent as a Bearer token); "
    "when it is unset, the variable of that name plus _FILE may name a file that holds the key",
    "app_timeout": "seconds to wait for one request to the app",
    "app_embedding_model": "the app's id of the embedding model (e.g. embeddings/all-MiniLM-L6-v2) when it is "
    "not the app's default; the store is created with it and must match the job's model",
    "app_vector_provider": "the app's vector_io provider for a new store (default: the app's default)",
    "embedding_model": "sentence-transformers folder or name, loaded offline (bundled: all-MiniLM-L6-v2)",
    "chunk_tokens": "maximum tokens per chunk, headings included (default: the model's window, 256 for MiniLM)",
    "contextual_chunks": "on: each chunk is embedded with its document title and heading path before its text "
    "(the stored, cited text stays the clean chunk); off: the chunk text alone",
    "max_file_mb": "larger files are skipped and listed",
    "max_file_seconds": "a file whose conversion and chunking takes longer is stopped, skipped and listed",
    "convert_workers": "Docling worker processes",
    "insert_batch": "chunks per insert request to the app",
    "max_prune_fraction": "--prune refuses to delete more than this fraction of the stored chunks",
    "rerank": "on: a served cross-encoder reorders the first stage's top candidates (needs --reranker-url and "
    "--reranker-model); off: one stage",
    "reranker_url": "the reranker's rerank endpoint (stack output reranker.rerankUrl); key from "
    f"{RERANKER_KEY_ENV} or the file {RERANKER_KEY_ENV}_FILE names",
    "reranker_model": "the reranker's served name (stack output reranker.model)",
    "reranker_api": "request shape at --reranker-url: cohere (vLLM /v1/rerank) or tei (text-embeddings-inference)",
    "candidates": "first-stage passages fused and reranked (the app returns at most 50)",
    "rerank_top_n": "how many candidates the reranker scores (at most --candidates)",
    "context_tokens": "context: token budget of the passages put into the prompt",
    "tokenizer": "context: the chat model's tokenizer that counts the budget (tokenizer.json, a Hugging Face "
    "folder, or the model's GGUF)",
}


def add_settings(parser: argparse.ArgumentParser, *, producer: bool, prune: bool = False) -> None:
    g = parser.add_argument_group("settings (a flag wins over its environment variable)")
    for attr, flag, env, _, default, _ in _SETTINGS:
        if attr in _PRODUCER_ONLY and not producer:
            continue
        if attr == "max_prune_fraction" and not prune:
            continue
        shown = f"; default {default}" if default is not None else ""
        g.add_argument(flag, dest=attr, default=None, metavar=attr.upper(), help=f"{_HELP[attr]} (env {env}{shown})")
    if producer:
        g.add_argument(
            "--docling-artifacts",
            type=Path,
            default=None,
            help="folder from `docling-tools models download`; it must hold the PDF layout models. "
            "Without it DOCLING_ARTIFACTS_PATH and ~/.cache/docling/models are tried, then the "
            "model-free PDF pipeline is used with a warning.",
        )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (env INGEST_LOG_LEVEL; INFO)")


def resolve_settings(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Fill every setting from its flag, else its environment variable, else its default; report all problems."""
    problems: list[str] = []
    for attr, flag, env, parse, default, valid in _SETTINGS + _RETRIEVAL:
        if not hasattr(args, attr):
            continue
        raw, origin = getattr(args, attr), flag
        if raw is None and environ.get(env):
            raw, origin = environ[env], env
        if raw is None:
            setattr(args, attr, default)
            continue
        try:
            setattr(args, attr, parse(raw))
        except ValueError:
            problems.append(f"{origin} {raw!r}: expected {valid}")
            setattr(args, attr, default)
    level = (args.log_level or environ.get("INGEST_LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"--log-level / INGEST_LOG_LEVEL {level!r}: expected DEBUG, INFO, WARNING or ERROR")
        level = "INFO"
    args.log_level = level
    if not _ENV_NAME.match(args.app_api_key_env):
        problems.append(f"--app-api-key-env {args.app_api_key_env!r}: expected an environment variable name")
    if not _STORE_NAME.match(args.vector_store):
        problems.append(
            f"--vector-store {args.vector_store!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    if getattr(args, "k", None) is not None and not 1 <= args.k <= MAX_SEARCH_RESULTS:
        problems.append(f"--k {args.k}: the app's search returns 1 to {MAX_SEARCH_RESULTS} results")
    if hasattr(args, "rerank"):
        problems += _retrieval_problems(args, environ)
    try:
        app = _app_settings(args, environ)
    except ConfigError as err:  # the key file: reported with the others
        problems.append(str(err))
        app = AppSettings(url=args.app_url, api_key_env=args.app_api_key_env, timeout_s=args.app_timeout)
    problems += app.validate()
    if problems:
        raise ConfigError("\n".join(problems))


def _retrieval_problems(args: argparse.Namespace, environ: Any) -> list[str]:
    """The query path's settings together: sets args.query (QuerySettings) and returns what is wrong."""
    problems = []
    if args.rerank and args.reranker_url is None:
        problems.append(
            "--rerank on needs --reranker-url / INGEST_RERANKER_URL (the stack output reranker.rerankUrl); "
            "or set --rerank off"
        )
    if args.rerank and not args.reranker_model:
        problems.append(
            "--rerank on needs --reranker-model / INGEST_RERANKER_MODEL (the reranker's served name, stack output "
            "reranker.model); or set --rerank off"
        )
    if args.rerank and args.rerank_top_n > args.candidates:
        problems.append(
            f"--rerank-top-n {args.rerank_top_n} is above --candidates {args.candidates}: the reranker scores "
            "first-stage candidates; lower --rerank-top-n or raise --candidates"
        )
    key = ""
    if args.rerank:
        try:
            key, _ = api_key_from(environ, RERANKER_KEY_ENV)
        except KeyFileError as err:
            problems.append(str(err).replace("the app's API key", "the reranker's API key"))
    if getattr(args, "command", None) == "context":
        if not args.tokenizer:
            problems.append(
                "--tokenizer / INGEST_CONTEXT_TOKENIZER is required: the chat model's tokenizer (tokenizer.json, a "
                "Hugging Face folder, or its GGUF) counts the context budget"
            )
        elif not Path(args.tokenizer).exists():
            problems.append(f"--tokenizer {args.tokenizer}: no such file or folder; give the chat model's tokenizer")
    args.query = QuerySettings(
        hybrid=args.hybrid,
        rerank=args.rerank,
        reranker_url=args.reranker_url,
        reranker_model=args.reranker_model,
        reranker_api=args.reranker_api,
        reranker_api_key=key,
        candidates=args.candidates,
        rerank_top_n=min(args.rerank_top_n, args.candidates),
        context_tokens=args.context_tokens,
    )
    return problems


def _app_settings(args: argparse.Namespace, environ: Any = os.environ) -> AppSettings:
    """The app's URL and timeout, and its API key from the variable --app-api-key-env names or the file its
    `_FILE` twin names (INGEST_APP_API_KEY_FILE in the cluster Job)."""
    key, origin = "", args.app_api_key_env
    if _ENV_NAME.match(args.app_api_key_env):
        try:
            key, origin = api_key_from(environ, args.app_api_key_env)
        except KeyFileError as err:
            raise ConfigError(str(err)) from None
    return AppSettings(url=args.app_url, api_key=key, api_key_env=origin, timeout_s=args.app_timeout)


# ------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workloads.ingest",
        description="Ingest documents (PDF, DOCX, PPTX, HTML, Markdown) with Docling into the RAG app's vector "
        "store, search it through the app, and measure retrieval quality.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="convert, chunk, embed and store a folder of documents")
    p.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=None,
        help=f"folder of documents (env INGEST_CORPUS; default {DEFAULT_CORPUS})",
    )
    p.add_argument(
        "--prune", action="store_true", help="delete the chunks of documents that are no longer in the folder"
    )
    p.add_argument(
        "--force-prune",
        action="store_true",
        help="prune even when the folder is empty or when more than --max-prune-fraction of the store would go",
    )
    p.add_argument("--summary-json", type=Path, help="also write the run summary to this JSON file")
    add_settings(p, producer=True, prune=True)

    p = sub.add_parser("search", help="print the chunks the app's search returns for one or more questions")
    _add_questions(p)
    p.add_argument(
        "--json",
        type=Path,
        dest="json_path",
        help="write [{question, hits: [{rank, score, source, title, text, headings, page, chunk_id}]}] to this "
        "file ('-' for stdout, then nothing else is printed there)",
    )
    p.add_argument("--k", type=int, default=5, help="number of chunks (1-50; default %(default)s)")
    _add_retrieval(p)
    add_settings(p, producer=False)

    p = sub.add_parser("export", help="write every stored chunk (text and metadata, no vectors) as JSON lines, sorted")
    p.add_argument("jsonl", type=Path, help="output file ('-' for stdout)")
    add_settings(p, producer=False)

    p = sub.add_parser("evaluate", help="recall@k and MRR through the app's search on a labelled question set")
    p.add_argument(
        "--questions", type=Path, default=Path(DEFAULT_QUESTIONS), help="YAML question set (default %(default)s)"
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"corpus the questions refer to; ingested first (env INGEST_CORPUS; default {DEFAULT_CORPUS})",
    )
    p.add_argument("--k", type=int, default=5, help="chunks retrieved per question (1-50)")
    p.add_argument(
        "--no-ingest", action="store_true", help="evaluate the store as it is, without ingesting the corpus first"
    )
    p.add_argument("--json", type=Path, dest="json_path", help="also write the results to this JSON file")
    p.add_argument(
        "--min-recall", type=float, default=None, help="exit with status 1 when recall@k is below this value"
    )
    _add_retrieval(p)
    add_settings(p, producer=True)

    p = sub.add_parser(
        "context",
        help="the prompt's context for one or more questions, as the RAG app builds it: first stage, rerank, "
        "passages with citations up to --context-tokens",
    )
    _add_questions(p)
    p.add_argument(
        "--json",
        type=Path,
        dest="json_path",
        help="write {settings, results: [{question, passages, context, citations, tokens, budget, seconds}]} to "
        "this file ('-' for stdout, then nothing else is printed there)",
    )
    p.add_argument("--distinct-documents", action="store_true", help="at most one passage per document in the context")
    _add_retrieval(p)
    add_settings(p, producer=False)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    quiet = logging.WARNING if level != "DEBUG" else logging.DEBUG
    for name in ("docling", "docling_core", "sentence_transformers", "httpx", "httpcore", "transformers"):
        logging.getLogger(name).setLevel(quiet)


# ------------------------------------------------------------------------------------------ commands


def _store(args: argparse.Namespace) -> AppVectorStoreSink:
    return AppVectorStoreSink(
        AppClient(_app_settings(args)),
        args.vector_store,
        app_embedding_model=args.app_embedding_model,
        provider_id=args.app_vector_provider,
        insert_batch=getattr(args, "insert_batch", 256),
    )


@functools.lru_cache(maxsize=8)
def cached_producer(settings: ProducerSettings) -> ChunkProducer:
    """One producer per settings and process (tests run the CLI many times in one process); producers share
    the embedding model and the Docling workers (convert_worker.shared_pool)."""
    return ChunkProducer(settings)


def _producer(args: argparse.Namespace) -> ChunkProducer:
    settings = ProducerSettings(
        embedding_model=args.embedding_model,
        chunk_tokens=args.chunk_tokens,
        contextual_chunks=args.contextual_chunks,
        docling_artifacts=args.docling_artifacts,
        max_file_seconds=args.max_file_seconds,
        convert_workers=args.convert_workers,
        log_level=args.log_level,
    )
    return cached_producer(settings)


def _found(store: AppVectorStoreSink) -> AppVectorStoreSink:
    if not store.find():
        raise StoreError(
            f"the RAG app at {store.client.describe()} has no vector store {store.name!r}: run ingest first "
            "(or check --vector-store / INGEST_VECTOR_STORE)"
        )
    return store


def _ingest(args: argparse.Namespace, corpus: Path, store: AppVectorStoreSink, producer: ChunkProducer) -> int:
    options = IngestOptions(
        prune=getattr(args, "prune", False),
        force_prune=getattr(args, "force_prune", False),
        max_prune_fraction=getattr(args, "max_prune_fraction", 0.5),
        max_file_bytes=int(args.max_file_mb * 1_000_000),
    )
    summary_path: Path | None = getattr(args, "summary_json", None)
    try:
        summary = run_ingest(corpus, producer, store, options)
    except (PruneRefused, *FATAL) as err:
        if summary_path is not None:
            stopped = Summary(corpus=str(corpus), sink=store.describe(), pdf_pipeline=producer.describe_pdf())
            stopped.vector_store, stopped.error = store.name, str(err)
            stopped.vector_store_id = store.store_id or ""
            stopped.write_json(summary_path)
        raise
    print(summary.render())
    if summary_path is not None:
        summary.write_json(summary_path)
    return EXIT_SKIPPED if summary.failed else 0


def _export(args: argparse.Namespace) -> int:
    store = _found(_store(args))
    try:
        rows = sorted(store.chunks(), key=lambda r: (str(r["source"]), int(r["chunk_index"])))
    finally:
        store.close()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
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
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"--questions-json {args.questions_json}: {err}") from None
        if not isinstance(items, list):
            raise ConfigError(f"--questions-json {args.questions_json} must hold a JSON list")
        for n, item in enumerate(items, start=1):
            text = item.get("question") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise ConfigError(
                    f"--questions-json {args.questions_json}: item {n} is neither a string nor an object "
                    "with a string 'question'"
                )
            questions.append(text)
    if not questions:
        raise ConfigError("give a question, or --questions-json FILE")
    return questions


def _add_questions(p: argparse.ArgumentParser) -> None:
    """The questions of `search` and `context`: on the command line and/or in a JSON file."""
    p.add_argument("questions", nargs="*", metavar="question", help="one or more questions")
    p.add_argument(
        "--questions-json",
        type=Path,
        help="also ask the questions in this JSON file: a list of strings or of objects with a 'question' key",
    )


def _add_retrieval(p: argparse.ArgumentParser) -> None:
    """The query path's settings (docs/retrieval.md, Configuration)."""
    g = p.add_argument_group("retrieval (platform.app.retrieval, rendered into the ingest Job's env)")
    for attr, flag, env, _, default, _ in _RETRIEVAL:
        choices = list(HYBRID_MODES) if attr == "hybrid" else None  # argparse refuses another flag value
        shown = f"; default {'off' if default is False else default}" if default is not None else ""
        g.add_argument(
            flag,
            dest=attr,
            default=None,
            choices=choices,
            metavar=None if choices else attr.upper(),
            help=f"{_HELP[attr]} (env {env}{shown})",
        )


def _searcher(args: argparse.Namespace, store: AppVectorStoreSink) -> Searcher:
    """The store's search with the query path's settings; the rerank stage's state is said once, here."""
    announce(args.query)
    return searcher(args.query, store)


def _search(args: argparse.Namespace) -> int:
    questions = _search_questions(args)
    store = _found(_store(args))
    try:
        searcher = _searcher(args, store)
        results = [(q, search(q, searcher, args.k)) for q in questions]
    finally:
        store.close()
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


def _context(args: argparse.Namespace) -> int:
    from workloads.ingest.retrieval import HfTokenCounter

    questions = _search_questions(args)
    settings: QuerySettings = args.query
    announce(settings)
    try:
        counter = HfTokenCounter.load(args.tokenizer)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--tokenizer {args.tokenizer}: cannot read a tokenizer from it ({err})") from None
    store = _found(_store(args))
    where = {"name": store.name, "id": store.store_id}
    try:
        path = retriever(settings, store)
        results = context_results(questions, path, settings.context_tokens, counter, documents=args.distinct_documents)
    finally:
        store.close()
    data = json.dumps(
        {
            "settings": settings.as_dict() | {"tokenizer": str(args.tokenizer)},
            "note": settings.rerank_line(),
            "vector_store": where,
            "results": results,
        },
        indent=2,
        ensure_ascii=False,
    )
    if args.json_path:
        if str(args.json_path) == "-":
            print(data)
            return 0
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(data + "\n", encoding="utf-8")
    for n, r in enumerate(results):
        print(("\n" if n else "") + f"== {r['question']}  ({r['tokens']} of {r['budget']} tokens)")
        print("\n".join(r["citations"]))
    return 0


def _evaluate(args: argparse.Namespace, corpus: Path) -> int:
    questions = load_questions(args.questions, corpus)
    store = _store(args)
    status = 0
    try:
        if args.no_ingest:
            _found(store)
        else:
            status = _ingest(args, corpus, store, _producer(args))
        result = evaluate(questions, _searcher(args, store), args.k)
    finally:
        store.close()
    print(result.render())
    if args.json_path:
        result.write_json(args.json_path)
    if args.min_recall is not None and result.recall < args.min_recall:
        print(f"recall@{args.k} {result.recall:.3f} is below --min-recall {args.min_recall}", file=sys.stderr)
        status = status or EXIT_SKIPPED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        resolve_settings(args)
    except ConfigError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_ERROR
    _configure_logging(args.log_level)
    corpus = getattr(args, "corpus", None) or Path(os.environ.get("INGEST_CORPUS") or DEFAULT_CORPUS)
    try:
        if args.command == "search":
            return _search(args)
        if args.command == "export":
            return _export(args)
        if args.command == "evaluate":
            return _evaluate(args, corpus)
        if args.command == "context":
            return _context(args)
        producer = _producer(args)
        store = _store(args)
        try:
            return _ingest(args, corpus, store, producer)
        finally:
            store.close()
    except PruneRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_PRUNE_REFUSED
    except (ConfigError, *FATAL) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: the vector store keeps what it held before this run", file=sys.stderr)
        return 130
