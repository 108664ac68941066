"""`python -m workloads.ingest context`: the app's full query path with the stack's retrieval settings (first
stage, rerank when configured, the context up to a token budget counted with SmolLM2's tokenizer, citations),
against the real RAG app (OGX) on a real ingested corpus, and with a tiny cross-encoder behind a rerank endpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.ingest.app_servers import RagApp
from workloads.ingest.cli import build_parser, main, resolve_settings
from workloads.ingest.records import contextual_text
from workloads.ingest.retrieval import CrossEncoderReranker, HfTokenCounter

NO_RERANKER = "rerank off: the stack serves no reranker model"
QUESTIONS = [
    "When should I inspect a bee hive?",
    "How far could ships see the lighthouse beam?",
    "Where did the expedition set up its base camp?",
]


def _app(app: RagApp, store: str) -> list[str]:
    return ["--app-url", app.url, "--vector-store", store, "--log-level", "WARNING"]


def _context(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    assert main(["context", *args, "--json", "-"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_context_fills_the_budget_with_cited_passages_and_says_rerank_off_once(
    corpus: Path,
    app_env: RagApp,
    store_name: str,
    smollm2_gguf: Path,
    smollm2_tokens: HfTokenCounter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ingest", str(corpus), *_app(app_env, store_name)]) == 0
    capsys.readouterr()
    for budget in (120, 400, 4000):
        data, err = _context(
            capsys,
            *QUESTIONS,
            "--tokenizer",
            str(smollm2_gguf),
            "--context-tokens",
            str(budget),
            *_app(app_env, store_name),
        )
        assert err.count(NO_RERANKER) == 1, err  # once at start-up, not once per question
        assert data["settings"]["rerank"] is False and data["settings"]["hybrid"] == "bm25"
        assert data["settings"]["context_tokens"] == budget and NO_RERANKER in data["note"]
        assert data["vector_store"]["name"] == store_name and data["vector_store"]["id"]
        assert [r["question"] for r in data["results"]] == QUESTIONS
        for r in data["results"]:
            assert r["budget"] == budget and 0 < r["tokens"] == smollm2_tokens.count(r["context"]) <= budget
            assert r["passages"] and r["citations"] == [f"[{p['n']}] {p['citation']}" for p in r["passages"]]
            for p in r["passages"]:
                assert f"[{p['n']}] {p['citation']}\n" in r["context"]  # each passage under its citation
        bee, lighthouse, glacier = data["results"]
        assert bee["passages"][0]["source"] == "guides/beekeeping.docx"
        assert lighthouse["passages"][0]["source"] == "lighthouse.md"
        assert glacier["passages"][0]["source"] == "glacier.pdf" and glacier["passages"][0]["page"] == 1
        if budget == 4000:  # a roomy budget holds several passages, most relevant first
            assert len(bee["passages"]) > 2 and "nine days" in bee["context"]
    small, _ = _context(capsys, QUESTIONS[0], "--tokenizer", str(smollm2_gguf), "--context-tokens", "120",
                        *_app(app_env, store_name))  # fmt: skip
    assert len(small["results"][0]["passages"]) < len(bee["passages"])  # the budget decides how many

    # distinct documents: at most one passage per source
    data, _ = _context(
        capsys, QUESTIONS[0], "--distinct-documents", "--tokenizer", str(smollm2_gguf), *_app(app_env, store_name)
    )
    sources = [p["source"] for p in data["results"][0]["passages"]]
    assert len(sources) == len(set(sources)) > 1


def test_rerank_on_reorders_the_first_stage_with_the_served_cross_encoder(
    corpus: Path,
    app_env: RagApp,
    store_name: str,
    smollm2_gguf: Path,
    tiny_cross_encoder: Path,
    rerank_endpoint: tuple[str, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = rerank_endpoint
    assert main(["ingest", str(corpus), *_app(app_env, store_name)]) == 0
    capsys.readouterr()
    common = [QUESTIONS[0], "--tokenizer", str(smollm2_gguf), "--context-tokens", "100000", "--candidates", "8"]
    first, err = _context(capsys, *common, *_app(app_env, store_name))
    first_stage = first["results"][0]["passages"]
    assert len(first_stage) == 8 and not seen and err.count(NO_RERANKER) == 1

    monkeypatch.setenv("INGEST_RERANKER_API_KEY", "rr-key")
    flags = ["--rerank", "on", "--reranker-url", f"{url}/rerank", "--reranker-model", "tiny-ce", "--rerank-top-n", "8"]
    data, err = _context(capsys, *common, *flags, *_app(app_env, store_name))
    assert err.count("rerank on: tiny-ce at") == 1 and NO_RERANKER not in err
    assert data["settings"]["rerank"] is True and data["settings"]["reranker_model"] == "tiny-ce"
    texts = [contextual_text(p["title"], p["headings"], p["text"]) for p in first_stage]
    [request] = seen
    assert request["path"] == "/v1/rerank" and request["auth"] == "Bearer rr-key" and request["model"] == "tiny-ce"
    assert request["documents"] == texts  # the first stage's candidates, with their title and headings
    scores = CrossEncoderReranker(tiny_cross_encoder).score(QUESTIONS[0], texts)
    expected = [first_stage[i]["chunk_id"] for i in sorted(range(8), key=lambda i: -scores[i])]
    reranked = [p["chunk_id"] for p in data["results"][0]["passages"]]
    assert reranked == expected != [p["chunk_id"] for p in first_stage]  # the cross-encoder's order, not the first
    assert data["results"][0]["seconds"]["rerank"] > 0

    # text-embeddings-inference's shape (the CPU reranker the stack serves: api tei)
    seen.clear()
    tei = ["--reranker-api", "tei", "--reranker-url", f"{url}/rerank-tei"]
    data, _ = _context(capsys, *common, *flags, *tei, *_app(app_env, store_name))
    assert seen[0]["texts"] == texts and "documents" not in seen[0]
    assert [p["chunk_id"] for p in data["results"][0]["passages"]] == expected


def _resolved(argv: list[str], environ: dict[str, str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    resolve_settings(args, environ)
    return args


def test_the_ingest_jobs_rendered_env_sets_the_query_path(tmp_path: Path) -> None:
    """The names components/jobs/pipeline.py renders (tests/components/jobs: test_ingest_job_renders_retrieval)."""
    key = tmp_path / "key"
    key.write_text("serving-key\n")
    env = {
        "INGEST_SEARCH_HYBRID": "ogx",
        "INGEST_RERANK": "on",
        "INGEST_RERANKER_URL": "http://ms-marco-minilm-l6.serving.svc.cluster.local:8080/rerank",
        "INGEST_RERANKER_MODEL": "ms-marco-minilm-l6",
        "INGEST_RERANKER_API": "tei",
        "INGEST_RERANKER_API_KEY_FILE": str(key),
        "INGEST_RETRIEVAL_CANDIDATES": "30",
        "INGEST_RERANK_TOP_N": "10",
        "INGEST_CONTEXT_TOKENS": "1500",
        "INGEST_CONTEXT_TOKENIZER": str(tmp_path),
    }
    args = _resolved(["context", "q"], env)
    q = args.query
    assert (q.hybrid, q.rerank, q.reranker_model, q.reranker_api) == ("ogx", True, "ms-marco-minilm-l6", "tei")
    assert (q.candidates, q.rerank_top_n, q.context_tokens, q.reranker_api_key) == (30, 10, 1500, "serving-key")
    assert q.reranker_url == env["INGEST_RERANKER_URL"] and args.tokenizer == str(tmp_path)
    assert "serving-key" not in repr(q)
    reranker = q.reranker()
    assert reranker is not None and reranker.endpoint == env["INGEST_RERANKER_URL"] and reranker.api == "tei"
    # evaluate reads the same variables (the Job's evaluate ranks as the stack is configured)
    assert _resolved(["evaluate"], env).query == q
    off = _resolved(["evaluate"], {"INGEST_RERANK": "off"}).query
    assert not off.rerank and off.reranker() is None and NO_RERANKER in off.rerank_line()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rerank", "on", "--reranker-model", "m"], "--rerank on needs --reranker-url / INGEST_RERANKER_URL"),
        (["--rerank", "on", "--reranker-url", "http://r/rerank"], "--rerank on needs --reranker-model"),
        (["--rerank", "maybe"], "--rerank 'maybe': expected on or off"),
        (["--reranker-url", "r:8080/rerank"], "--reranker-url 'r:8080/rerank': expected an http(s) URL"),
        (["--candidates", "80"], "--candidates '80': expected an integer from 1 to 50"),
        (["--context-tokens", "10"], "--context-tokens '10': expected an integer >= 64"),
        (["--reranker-api", "jina"], "--reranker-api 'jina': expected cohere or tei"),
        (
            [
                "--rerank",
                "on",
                "--reranker-url",
                "http://r/rerank",
                "--reranker-model",
                "m",
                "--rerank-top-n",
                "30",
                "--candidates",
                "10",
            ],
            "--rerank-top-n 30 is above --candidates 10",
        ),
        ([], "--tokenizer / INGEST_CONTEXT_TOKENIZER is required"),
        (["--tokenizer", "/nonexistent/tok.gguf"], "--tokenizer /nonexistent/tok.gguf: no such file or folder"),
    ],
)
def test_bad_retrieval_flags_are_one_line_errors_naming_the_flag_and_the_fix(
    argv: list[str], message: str, smollm2_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokenizer = [] if "--tokenizer" in argv or message.startswith("--tokenizer") else ["--tokenizer", str(smollm2_gguf)]
    assert main(["context", "a question", *argv, *tokenizer, "--app-url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
