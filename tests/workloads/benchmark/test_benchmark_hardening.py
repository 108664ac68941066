"""Exit codes and statuses that tell the truth, results that survive an interruption, and clear errors before
any load is sent. Each case ran wrong before this module (see the test docstrings)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from benchmark_helpers import run_cli, start_cli, wait_for

from local.llm_server import LlmServer

EXIT_FAILED_REQUESTS = 3
PRICE = 0.5


@pytest.mark.slow
def test_all_requests_failing_fails_the_run(tmp_path: Path, llm_server: LlmServer, api_key_file: Path,
                                            tokenizer_dir: Path) -> None:  # fmt: skip
    """The `rag` scenario's 2048-token prompts do not fit the server's 2048-token context: llama.cpp rejects
    every request. Before: exit 0, status "complete"."""
    out = tmp_path / "run"
    done = run_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "rag",
                   "--profile", "constant", "--rate", "2,4", "--max-requests", "4", "--max-seconds", "60",
                   "--workers", "1", "--tokenizer", tokenizer_dir, "--output-dir", out,
                   "--price-per-hour", str(PRICE))  # fmt: skip
    assert done.returncode == EXIT_FAILED_REQUESTS, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed-requests"
    assert (
        "too many failed requests (constant@2rps: 4 of 4 (100%); allowed 5%, --max-failed-ratio)" in summary["message"]
    )
    [bench] = summary["benchmarks"]
    assert (bench["successful"], bench["errored"], bench["failed_ratio"]) == (0, 4, 1.0)
    assert bench["cost_per_million_output_tokens_usd"] is None  # nothing delivered: no cost per token
    # The run stopped after the failing point instead of loading the server further.
    assert [p["status"] for p in summary["points"]] == ["complete", "skipped"]
    assert "no further load point was run" in json.loads((out / "run.json").read_text())["stopped_because"]
    assert "> **FAILED (failed-requests): too many failed requests" in (out / "report.md").read_text()
    assert "status: failed-requests" in done.stdout


@pytest.mark.slow
def test_half_the_requests_failing_fails_the_run(tmp_path: Path, mock_server: str, tokenizer_dir: Path) -> None:
    """GuideLLM's mock server answers 3 requests, then fails every one. Before: exit 0, status "complete",
    cost per token from the successes only."""
    out = tmp_path / "run"
    done = run_cli("run", "--target", mock_server, "--scenario", "smoke", "--profile", "synchronous",
                   "--max-requests", "6", "--max-seconds", "60", "--workers", "1", "--tokenizer", tokenizer_dir,
                   "--output-dir", out, "--price-per-hour", str(PRICE))  # fmt: skip
    assert done.returncode == EXIT_FAILED_REQUESTS, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed-requests"
    [bench] = summary["benchmarks"]
    assert (bench["successful"], bench["errored"]) == (3, 3)
    assert "synchronous: 3 of 6 (50%); allowed 5%" in summary["message"]
    # Cost per delivered token: the node's price over the whole benchmark, failed requests included, divided by
    # the tokens the successful requests delivered.
    assert bench["delivered_output_tokens_per_s"] > 0
    expected = PRICE / 3600 / bench["delivered_output_tokens_per_s"] * 1e6
    assert bench["cost_per_million_output_tokens_usd"] == pytest.approx(expected)
    # A threshold above the failure rate lets the same run pass.
    again = run_cli("report", out, "--max-failed-ratio", "0.6")
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_sigterm_during_a_sweep_keeps_the_finished_load_points(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path, s3_bucket: tuple
) -> None:
    """A sweep runs one GuideLLM invocation per benchmark and rewrites (and uploads) the report after each.
    Before: the sweep was one invocation, and SIGTERM lost every benchmark it had finished."""
    bucket, env, client = s3_bucket
    out = tmp_path / "run"
    proc = start_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
                     "--profile", "sweep", "--sweep-size", "4", "--max-requests", "3", "--max-seconds", "20",
                     "--workers", "1", "--tokenizer", tokenizer_dir, "--output-dir", out,
                     "--price-per-hour", str(PRICE), "--upload-uri", f"s3://{bucket}/sweeps", env=env)  # fmt: skip
    finished = out / "guidellm" / "synchronous.json"
    wait_for(finished.exists, 240, "the synchronous benchmark's results (one invocation per sweep benchmark)", proc)
    # The report already holds the finished point while the sweep goes on.
    wait_for(lambda: '"synchronous"' in _read(out / "summary.json"), 60, "the report after the first point", proc)
    running = out / "guidellm" / "throughput.log"
    wait_for(lambda: "Benchmark 1 (" in _read(running), 120, "the throughput benchmark to start", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["partial"] is True
    assert f"interrupted by signal {int(signal.SIGTERM)} during throughput" in summary["message"]
    assert [p["name"] for p in summary["points"]] == ["synchronous", "throughput", "sweep-3", "sweep-4"]
    assert [p["status"] for p in summary["points"]] == ["complete", "interrupted", "skipped", "skipped"]
    assert [b["name"] for b in summary["benchmarks"]] == ["synchronous"]
    assert summary["benchmarks"][0]["successful"] >= 1
    assert "PARTIAL RESULTS (partial): interrupted by signal 15" in (out / "report.md").read_text()
    assert "status: partial" in stdout
    # The partial report went to the bucket too, and latest.json says what it is.
    latest = json.loads(client.get_object(Bucket=bucket, Key="sweeps/latest.json")["Body"].read())
    assert latest["status"] == "partial" and latest["message"] == summary["message"]
    prefix = latest["run"].removeprefix(f"s3://{bucket}/")
    uploaded = json.loads(client.get_object(Bucket=bucket, Key=f"{prefix}/summary.json")["Body"].read())
    assert uploaded == summary
    client.head_object(Bucket=bucket, Key=f"{prefix}/guidellm/synchronous.json")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _one_line_error(done: object) -> str:
    err = done.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_unwritable_output_fails_before_the_endpoint_is_called(tmp_path: Path) -> None:
    """Before: the endpoint was checked first and an unwritable directory ended in a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", blocker / "run")
    assert done.returncode == 2
    line = _one_line_error(done)
    assert line.startswith(f"error: cannot write to --output-dir {blocker / 'run'}: Not a directory")
    assert "cannot reach" not in done.stderr  # nothing was sent


def test_missing_s3_credentials_fail_before_any_load(tmp_path: Path) -> None:
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", tmp_path / "run",
                   "--upload-uri", "s3://reports/benchmarks")  # fmt: skip
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "--upload-uri s3://reports/...: no AWS credentials found" in line
    assert "IRSA or EKS Pod Identity" in line
    assert "cannot reach" not in done.stderr


def test_missing_gcs_credentials_fail_before_any_load(tmp_path: Path) -> None:
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", tmp_path / "run",
                   "--upload-uri", "gs://reports/benchmarks")  # fmt: skip
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "--upload-uri gs://reports/...: no Google Cloud credentials found" in line
    assert "GKE Workload Identity" in line


def test_a_bucket_that_cannot_be_written_fails_before_any_load(tmp_path: Path, s3_bucket: tuple) -> None:
    _, env, _ = s3_bucket
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", tmp_path / "run",
                   "--upload-uri", "s3://no-such-bucket/benchmarks", env=env)  # fmt: skip
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "cannot write to --upload-uri s3://no-such-bucket/benchmarks (NoSuchBucket" in line
    assert "cannot reach" not in done.stderr


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://bucket/x", "use s3://BUCKET/PREFIX or gs://BUCKET/PREFIX"),
        ("s3:///x", "names no bucket"),
        ("s3://key:secret@bucket/x", "credentials and query strings do not belong in the URI"),
    ],
)
def test_bad_upload_uri_is_named(tmp_path: Path, uri: str, message: str) -> None:
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", tmp_path / "run", "--upload-uri", uri)
    assert done.returncode == 2
    assert message in _one_line_error(done)
    assert "secret" not in done.stderr or "key:secret" not in done.stderr
