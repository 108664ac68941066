"""The command line, run in-process: exit codes, summary JSON, search output, evaluation."""

from __future__ import annotations

import json
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
