"""Partial results: an interrupted run keeps every finished load point; a GuideLLM failure keeps its log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_helpers import REPO, cli_env, run_cli, wait_for

from local.llm_server import LlmServer

pytestmark = pytest.mark.slow


def test_interrupt_keeps_finished_points_and_marks_the_report_partial(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workloads.benchmark", "run", "--target", llm_server.base_url,
         "--api-key-file", str(api_key_file), "--scenario", "smoke", "--profile", "constant",
         "--rate", "0.5,1", "--max-seconds", "5", "--workers", "1", "--tokenizer", str(tokenizer_dir),
         "--output-dir", str(out), "--price-per-hour", "1.0"],
        cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first_json = out / "guidellm" / "constant-0.5rps.json"
    second_log = out / "guidellm" / "constant-1rps.log"
    wait_for(first_json.exists, 180, "the first load point's results", proc)
    # Interrupt once GuideLLM is benchmarking the second rate.
    wait_for(lambda: second_log.exists() and "Benchmark 1 (" in second_log.read_text(), 120,
              "the second load point to start", proc)  # fmt: skip
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signal.SIGINT, stderr

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["partial"] is True
    assert f"interrupted by signal {int(signal.SIGINT)} during constant-1rps" in summary["message"]
    assert [p["status"] for p in summary["points"]] == ["complete", "interrupted"]
    assert [b["name"] for b in summary["benchmarks"]] == ["constant@0.5rps"]
    assert summary["benchmarks"][0]["target_rate"] == 0.5
    # What GuideLLM wrote is kept: the finished JSON, and the interrupted point's log with its progress.
    assert first_json.stat().st_size > 0
    assert "Benchmark 1 (constant@1.00)" in second_log.read_text()
    assert summary["points"][1]["last_progress"].startswith("Benchmark 1 (constant@1.00)")
    md = (out / "report.md").read_text()
    assert "> **PARTIAL RESULTS (partial): interrupted by signal" in md
    assert "PARTIAL RESULTS" in (out / "report.html").read_text()
    assert "status: partial" in stdout


def test_guidellm_failure_keeps_its_log_and_reports_failed(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path
) -> None:
    # A tokenizer folder whose files are corrupt: our checks pass (the files exist), GuideLLM fails loading it.
    broken = tmp_path / "broken-tokenizer"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{ this is not json")
    (broken / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')
    out = tmp_path / "run"
    done = run_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
                   "--profile", "constant", "--rate", "1,2", "--max-seconds", "3", "--workers", "1",
                   "--tokenizer", broken, "--output-dir", out)  # fmt: skip
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["partial"] is True
    assert summary["benchmarks"] == []
    first, second = summary["points"]
    assert first["status"] == "failed" and first["returncode"] not in (0, None)
    assert second["status"] == "skipped"  # no point runs after a failure
    assert "GuideLLM exited with code" in summary["message"]
    log = (out / first["log_file"]).read_text()
    assert log.strip(), "GuideLLM's output must be kept"
    assert "PARTIAL RESULTS (failed)" in (out / "report.md").read_text()
