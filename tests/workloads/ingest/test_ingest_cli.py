"""The command line, run in-process: exit codes, summary JSON, search output, evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workloads.ingest.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _store(lite_uri: str) -> list[str]:
    return ["--milvus-uri", lite_uri, "--collection", "cli_chunks", "--log-level", "WARNING"]


def test_cli_ingest_reports_bad_files_and_exits_non_zero(
    corpus: Path, lite_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], producer: object
) -> None:
    (corpus / "corrupt.docx").write_bytes(b"PK\x03\x04 this zip was cut short")
    (corpus / "empty.html").write_bytes(b"")
    summary_path = tmp_path / "summary.json"

    code = main(["ingest", str(corpus), "--summary-json", str(summary_path), *_store(lite_uri)])

    assert code == 1
    summary = json.loads(summary_path.read_text())
    assert {s["source"] for s in summary["skipped"]} == {"corrupt.docx", "empty.html"}
    assert all(s["reason"] for s in summary["skipped"])
    assert len(summary["ingested"]) == 4 and summary["chunks_total"] > 4
    assert summary["failed"] is True and summary["seconds"] > 0
    out = capsys.readouterr().out
    assert "corrupt.docx: corrupt .docx" in out and "FAILED" in out

    (corpus / "corrupt.docx").unlink()
    (corpus / "empty.html").unlink()
    assert main(["ingest", str(corpus), "--summary-json", str(summary_path), *_store(lite_uri)]) == 0
    again = json.loads(summary_path.read_text())
    assert len(again["unchanged"]) == 4 and again["chunks_written"] == 0


def test_cli_search_prints_sources(
    corpus: Path, lite_uri: str, capsys: pytest.CaptureFixture[str], producer: object
) -> None:
    assert main(["ingest", str(corpus), *_store(lite_uri)]) == 0
    capsys.readouterr()

    assert main(["search", "When should I inspect a bee hive?", "--k", "2", *_store(lite_uri)]) == 0

    out = capsys.readouterr().out
    first = out.strip().splitlines()[0]
    assert first.startswith("1. [") and "guides/beekeeping.docx" in first
    assert "nine days" in out
    assert "2. [" in out and "3. [" not in out


def test_cli_search_answers_several_questions_in_a_new_process(
    corpus: Path, lite_uri: str, tmp_path: Path, producer: object
) -> None:
    """Separate processes (Milvus Lite locks its file per process; the collection starts released in a new
    one), several questions, JSON out."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    ingest = [sys.executable, "-m", "workloads.ingest", "ingest", str(corpus), *_store(lite_uri)]
    assert subprocess.run(ingest, cwd=ROOT, capture_output=True, timeout=600, env=env).returncode == 0
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps([{"question": "How far could ships see the lighthouse beam?"}]))
    out = tmp_path / "hits.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workloads.ingest",
            "search",
            "When should I inspect a bee hive?",
            "What flour do I feed a sourdough starter with?",
            "--questions-json",
            str(questions),
            "--json",
            str(out),
            "--k",
            "2",
            *_store(lite_uri),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert [r["question"] for r in results] == [
        "When should I inspect a bee hive?",
        "What flour do I feed a sourdough starter with?",
        "How far could ships see the lighthouse beam?",
    ]
    assert [r["hits"][0]["source"] for r in results] == [
        "guides/beekeeping.docx",
        "guides/sourdough.html",
        "lighthouse.md",
    ]
    assert all(len(r["hits"]) == 2 and r["hits"][0]["text"] for r in results)
    assert proc.stdout.count("== ") == 3 and "1. [" in proc.stdout


def test_cli_export_writes_every_chunk_with_its_source(
    corpus: Path, lite_uri: str, tmp_path: Path, producer: object
) -> None:
    assert main(["ingest", str(corpus), *_store(lite_uri)]) == 0
    out = tmp_path / "chunks.jsonl"

    assert main(["export", str(out), *_store(lite_uri)]) == 0

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["source"] for r in rows} == {
        "glacier.pdf",
        "guides/beekeeping.docx",
        "guides/sourdough.html",
        "lighthouse.md",
    }
    assert all(r["text"] and r["id"] and "vector" not in r for r in rows)
    assert [r["chunk_index"] for r in rows if r["source"] == "lighthouse.md"] == list(
        range(sum(r["source"] == "lighthouse.md" for r in rows))
    )


def test_cli_search_needs_a_question(lite_uri: str) -> None:
    with pytest.raises(SystemExit, match="give a question"):
        main(["search", *_store(lite_uri)])


def test_cli_search_without_collection_says_what_to_do(lite_uri: str) -> None:
    with pytest.raises(SystemExit, match="run ingest first"):
        main(["search", "anything", *_store(lite_uri)])


def test_cli_evaluate_on_a_tiny_labelled_set(
    corpus: Path, lite_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], producer: object
) -> None:
    questions = tmp_path / "questions.yaml"
    questions.write_text(
        "questions:\n"
        "  - question: How far could ships see the lighthouse beam?\n"
        "    source: lighthouse.md\n"
        "    phrase: twenty nautical miles\n"
        "  - question: How long should shaped dough rest on the bench?\n"
        "    source: guides/sourdough.html\n"
        "    heading: Shaping the loaf\n"
        "  - question: What pulley ratio is used in crevasse rescue?\n"
        "    source: glacier.pdf\n"
        "    phrase: three to one ratio\n"
        "  - question: How often should a beehive be inspected in spring?\n"
        "    source: guides/beekeeping.docx\n"
        "    phrase: this phrase is in no document\n"
    )
    result_path = tmp_path / "eval.json"
    args = ["evaluate", "--questions", str(questions), "--corpus", str(corpus), "--k", "1"]

    code = main([*args, "--json", str(result_path), *_store(lite_uri)])

    assert code == 0
    result = json.loads(result_path.read_text())
    ranks = [r["rank"] for r in result["results"]]
    assert ranks == [1, 1, 1, None]
    assert result["recall@1"] == 0.75 and result["mrr@1"] == 0.75
    assert "recall@1 = 0.750" in capsys.readouterr().out
    assert main([*args, "--no-ingest", "--min-recall", "0.8", *_store(lite_uri)]) == 1


def test_sample_corpus_recall_at_5(tmp_path: Path, capsys: pytest.CaptureFixture[str], producer: object) -> None:
    """The shipped corpus and question set: ingest + retrieval must keep recall@5 >= 0.8."""
    result_path = tmp_path / "eval.json"
    code = main(
        [
            "evaluate",
            "--questions",
            str(ROOT / "corpus" / "questions.yaml"),
            "--corpus",
            str(ROOT / "corpus" / "docs"),
            "--k",
            "5",
            "--min-recall",
            "0.8",
            "--json",
            str(result_path),
            *_store(str(tmp_path / "sample.db")),
        ]
    )
    result = json.loads(result_path.read_text())
    print(capsys.readouterr().out)
    assert result["recall@5"] >= 0.8, result
    assert code == 0
