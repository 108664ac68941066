"""The run folder goes to an object-store prefix after every finished load point and at the end: against
moto's S3-compatible server (a real HTTP endpoint) and the GCS emulator the quantize tests use."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmark_helpers import cli_env, start_cli, wait_for

from local.llm_server import LlmServer
from workloads.benchmark import upload


def _keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _body(client: Any, bucket: str, key: str) -> bytes:
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.mark.slow
def test_run_uploads_after_every_load_point_and_names_the_final_location(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path, s3_bucket: tuple
) -> None:
    bucket, env, client = s3_bucket
    out = tmp_path / "run"
    proc = start_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
                     "--profile", "constant", "--rate", "0.5,1", "--max-requests", "2", "--max-seconds", "60",
                     "--workers", "1", "--tokenizer", tokenizer_dir, "--output-dir", out, "--price-per-hour", "0.5",
                     "--upload-uri", f"s3://{bucket}/benchmarks/smollm2", env=env)  # fmt: skip

    # After the first load point, and while the second runs, the bucket already holds the first one's results.
    def first_point_uploaded() -> bool:
        summaries = [k for k in _keys(client, bucket) if k.endswith("/summary.json")]
        return bool(summaries) and json.loads(_body(client, bucket, summaries[0]))["points"][0]["status"] == "complete"

    wait_for(first_point_uploaded, 300, "the first load point's upload", proc)
    assert proc.poll() is None, "the upload must happen while the run goes on"
    [summary_key] = [k for k in _keys(client, bucket) if k.endswith("/summary.json")]
    run_prefix = summary_key.removesuffix("summary.json")
    assert json.loads(_body(client, bucket, summary_key))["points"][1]["status"] == "pending"
    assert run_prefix + "guidellm/constant-0.5rps.json" in _keys(client, bucket)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr

    assert run_prefix.startswith("benchmarks/smollm2/") and run_prefix.endswith("Z/")  # PREFIX/<UTC start>/
    keys = _keys(client, bucket, run_prefix)
    local = sorted(run_prefix + p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert keys == local  # the whole run folder, nothing else (no write-check object left behind)
    for name in ("summary.json", "report.html", "report.md", "run.json"):
        assert _body(client, bucket, run_prefix + name) == (out / name).read_bytes()
    head = client.head_object(Bucket=bucket, Key=run_prefix + "report.html")
    assert head["ContentType"] == "text/html"
    latest = json.loads(_body(client, bucket, "benchmarks/smollm2/latest.json"))
    location = f"s3://{bucket}/{run_prefix.rstrip('/')}"
    assert latest == {
        "run": location,
        "report": f"{location}/report.html",
        "status": "complete",
        "message": "all 2 load point(s) finished",
        "finished_at": json.loads((out / "summary.json").read_text())["finished_at"],
    }
    assert f"uploaded to: {location}/report.html" in stdout
    assert json.loads((out / "summary.json").read_text())["upload"]["location"] == location
    assert llm_server.api_key.encode() not in b"".join(_body(client, bucket, k) for k in keys)


@pytest.mark.slow
def test_lost_bucket_keeps_the_results_and_exits_4(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path, s3_bucket: tuple
) -> None:
    bucket, env, client = s3_bucket
    out = tmp_path / "run"
    proc = start_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
                     "--profile", "synchronous", "--max-requests", "2", "--workers", "1", "--tokenizer", tokenizer_dir,
                     "--output-dir", out, "--upload-uri", f"s3://{bucket}/runs", env=env)  # fmt: skip
    # The destination was checked; then the bucket goes away while GuideLLM runs.
    wait_for((out / "guidellm" / "synchronous.log").exists, 120, "GuideLLM to start", proc)
    client.delete_bucket(Bucket=bucket)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 4, stdout + stderr
    assert f"error: upload to s3://{bucket}/runs/" in stderr and "NoSuchBucket" in stderr
    assert f"the run folder is kept in {out}" in stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


def test_uploader_sends_only_what_changed(tmp_path: Path, s3_bucket: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, env, client = s3_bucket
    for name, value in cli_env(env).items():
        monkeypatch.setenv(name, value)
    run = tmp_path / "run"
    (run / "guidellm").mkdir(parents=True)
    (run / "tokenizer").mkdir()
    (run / "summary.json").write_text('{"status": "partial"}')
    (run / "guidellm" / "a.json").write_text("{}")
    (run / "tokenizer" / "tokenizer.json").write_text("{}")  # an input cache, not a result
    up = upload.Uploader(f"s3://{bucket}/p/", "20261201T000000Z")
    up.check()
    assert up.sync(run) == 2
    assert _keys(client, bucket) == ["p/20261201T000000Z/guidellm/a.json", "p/20261201T000000Z/summary.json"]
    assert up.sync(run) == 0
    (run / "summary.json").write_text('{"status": "complete"}')
    assert up.sync(run) == 1
    assert _body(client, bucket, "p/20261201T000000Z/summary.json") == b'{"status": "complete"}'
    assert up.mark_latest({"status": "complete"}) == f"s3://{bucket}/p/20261201T000000Z/report.html"


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """gcp-storage-emulator (in memory) on 127.0.0.1 with a bucket; the google-cloud-storage client."""
    from gcp_storage_emulator.server import create_server
    from google.cloud import storage

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="reports")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "leanrag-test")
    try:
        yield storage.Client()
    finally:
        server.stop()


def test_gcs_upload_and_latest_pointer(tmp_path: Path, gcs: Any) -> None:
    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "report.html").write_text("<html></html>")
    (run / "plots" / "cost_vs_load.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    up = upload.Uploader("gs://reports/benchmarks", "20261201T101500Z")
    up.check()
    assert up.sync(run) == 2
    blobs = {b.name: b for b in gcs.list_blobs("reports")}
    assert sorted(blobs) == ["benchmarks/20261201T101500Z/plots/cost_vs_load.png",
                             "benchmarks/20261201T101500Z/report.html"]  # fmt: skip
    assert blobs["benchmarks/20261201T101500Z/report.html"].download_as_bytes() == b"<html></html>"
    up.mark_latest({"status": "partial", "message": "interrupted by signal 15"})
    latest = json.loads(gcs.bucket("reports").blob("benchmarks/latest.json").download_as_bytes())
    assert latest["run"] == "gs://reports/benchmarks/20261201T101500Z" and latest["status"] == "partial"
    with pytest.raises(upload.UploadError, match=r"cannot write to --upload-uri gs://missing/benchmarks"):
        upload.Uploader("gs://missing/benchmarks", "x").check()
