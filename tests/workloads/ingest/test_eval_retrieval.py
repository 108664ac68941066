"""The retrieval benchmark end to end on a tiny corpus: ingest into the real app (both chunk variants), every
stage through the app's own search, the tiny cross-encoder as the rerank stage (wiring only)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.workloads.ingest.app_servers import APP_KEY_ENV, RagApp
from workloads.ingest import eval_retrieval
from workloads.ingest.app_client import AppClient, AppSettings

pytestmark = pytest.mark.slow


def test_benchmark_prints_every_stage_for_both_chunk_variants(
    corpus: Path, app_env: RagApp, tiny_cross_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.yaml"
    questions.write_text(
        "questions:\n"
        "  - question: How often should the fog horn sound?\n    source: lighthouse.md\n"
        "  - question: What flour do I feed a sourdough starter with?\n    source: guides/sourdough.html\n"
        "  - question: How much honey should bees keep for winter?\n"
        "    sources: [guides/beekeeping.docx, lighthouse.md]\n",
        encoding="utf-8",
    )
    out = tmp_path / "rows.json"
    code = eval_retrieval.main(
        [
            *("--app-url", app_env.url, "--corpus", f"tiny={corpus}:{questions}"),
            *("--reranker", str(tiny_cross_encoder), "--json", str(out)),
        ]
    )
    assert code == 0
    rows = json.loads(out.read_text())
    stages = ["dense", "hybrid (OGX)", "hybrid (BM25+RRF)", "hybrid (BM25+RRF) + rerank"]
    assert [(r["contextual"], r["stage"]) for r in rows] == [(c, s) for c in (False, True) for s in stages]
    for r in rows:
        assert r["questions"] == 3 and 0 < r["p50_ms"] <= r["p95_ms"]
        assert r["recall@1"] <= r["recall@5"] and r["recall@1"] <= r["mrr@5"] <= r["recall@5"]
    for r in rows[:3] + rows[4:7]:  # first stages on four unrelated documents: every answer in the top 5
        assert r["recall@5"] == 1.0, r
    printed = capsys.readouterr().out
    assert "| tiny | yes | hybrid (BM25+RRF) + rerank | 3 |" in printed


def test_padding_copies_the_stores_chunks_under_other_names_and_reports_latency_only(
    corpus: Path, app_env: RagApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.yaml"
    questions.write_text("questions:\n  - question: How often should the fog horn sound?\n    source: lighthouse.md\n")
    out = tmp_path / "rows.json"
    args = ["--app-url", app_env.url, "--corpus", f"padded={corpus}:{questions}", "--contextual", "on"]
    assert eval_retrieval.main([*args, "--pad-to", "120", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["chunks"] for r in rows} == {120}
    assert all(r["recall@1"] is None and r["mrr@5"] is None and r["p95_ms"] > 0 for r in rows)
    assert "| padded padded to 120 chunks | yes | dense | 1 | - | - | - |" in capsys.readouterr().out
    client = AppClient(AppSettings(url=app_env.url, api_key=os.environ[APP_KEY_ENV]))
    try:
        store = next(s for s in client.list_vector_stores() if s.name == "eval-padded-ctx")
        hits = client.search(store.id, "fog horn", 50)
    finally:
        client.close()
    sources = [str(h["attributes"]["source"]) for h in hits]
    assert "lighthouse.md" in sources and "pad1/lighthouse.md" in sources  # the copies are in the app's store


def test_pad_to_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        eval_retrieval.main(["--pad-to", "0"])
    assert exit_info.value.code == 2 and "--pad-to must be a positive number" in capsys.readouterr().err


def test_padding_an_empty_store_is_a_clear_error(
    app_env: RagApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "empty"
    docs.mkdir()
    questions = tmp_path / "questions.yaml"
    questions.write_text("questions:\n  - question: Anything?\n    source: nothing.md\n")
    args = ["--app-url", app_env.url, "--corpus", f"empty={docs}:{questions}", "--contextual", "on", "--pad-to", "50"]
    assert eval_retrieval.main(args) == 2
    assert "--pad-to: the store 'eval-empty-ctx' holds no chunks to copy" in capsys.readouterr().err
