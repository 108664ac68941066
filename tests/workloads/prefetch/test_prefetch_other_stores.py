"""Prefetch to GCS (a local emulator) and to a local directory, and from the local Hugging Face cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefetch_helpers import DEFAULT_COPIED, fake_hf_cache

from tests.workloads.store_servers import BUCKET, S3Server, isolate_aws_env
from workloads.artifacts.gcs_backend import GcsBackend
from workloads.prefetch.cli import main

ROOT = Path(__file__).resolve().parents[3]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_gcs_twice_then_resume(gcs: str, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = f"gs://{BUCKET}/models/tiny/bf16"
    uploads: list[str] = []
    fail_at = [2]  # the second upload fails once, as a dropped connection would
    real = GcsBackend.upload_file

    def counting(backend: GcsBackend, path: Path, key: str, sha256: str | None = None) -> None:
        uploads.append(key)
        if len(uploads) == fail_at[0]:
            raise ConnectionError("simulated network failure mid-upload")
        real(backend, path, key, sha256)

    monkeypatch.setattr(GcsBackend, "upload_file", counting)
    assert main(["--model", str(tiny_model), "--output", output]) == 1
    assert len(uploads) == 2
    fail_at[0] = 0
    uploads.clear()
    assert main(["--model", str(tiny_model), "--output", output]) == 0
    assert len(uploads) == len(DEFAULT_COPIED) - 1  # the first file was already there (its sha256 metadata)
    backend = GcsBackend(BUCKET)
    manifest = json.loads(backend.get_bytes("models/tiny/bf16/manifest.json") or b"{}")
    for entry in manifest["files"]:
        assert backend.stat(f"models/tiny/bf16/{entry['path']}") == (entry["size"], entry["sha256"])
    uploads.clear()
    assert main(["--model", str(tiny_model), "--output", output]) == 0
    assert uploads == []  # second complete run: nothing uploaded


def test_local_directory_output_twice(tiny_model: Path, tmp_path: Path) -> None:
    output = tmp_path / "store" / "models" / "tiny"
    assert main(["--model", str(tiny_model), "--output", str(output), "--staging-dir", str(tmp_path)]) == 0
    files = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert files == sorted([*DEFAULT_COPIED, "manifest.json"])
    stamps = {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()}
    assert main(["--model", str(tiny_model), "--output", str(output)]) == 0
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()} == stamps  # nothing rewritten


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workloads.prefetch", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_hub_id_from_the_offline_cache_via_the_module_entry_point(
    s3_server: S3Server, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m workloads.prefetch org/tiny` with HF_HUB_OFFLINE=1 reads the revision from HF_HOME's cache."""
    hf_home = tmp_path / "hf-home"
    fake_hf_cache(hf_home, "leanrag/tiny", COMMIT, tiny_model)
    isolate_aws_env(monkeypatch, tmp_path)
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_TOKEN": "hf_secretvaluethatmustnotbelogged",
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": s3_server.admin.key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.admin.secret,
        "PYTHONPATH": str(ROOT),
    }
    output = f"s3://{BUCKET}/models/tiny/bf16"
    first = _run_cli(["--model", "leanrag/tiny", "--output", output], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == output
    manifest = json.loads(
        s3_server.client().get_object(Bucket=BUCKET, Key="models/tiny/bf16/manifest.json")["Body"].read()
    )
    assert manifest["source_model"] == {
        "id": "leanrag/tiny",
        "kind": "huggingface",
        "revision": "main",
        "commit": COMMIT,
    }
    assert [f["path"] for f in manifest["files"]] == DEFAULT_COPIED
    start = s3_server.mark()
    second = _run_cli(["--model", "leanrag/tiny", "--output", output], env)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr and s3_server.writes(start) == []
    check = _run_cli(["--check", "--output", output, "--model", "leanrag/tiny", "--revision", COMMIT[:8]], env)
    assert check.returncode == 0 and json.loads(check.stdout)["commit"] == COMMIT
    missing = _run_cli(["--model", "leanrag/other", "--output", output], env)
    assert missing.returncode == 2
    assert "HF_HUB_OFFLINE=1 but the revision is not in the local Hugging Face cache" in missing.stderr
    assert "Traceback" not in missing.stderr
    for run in (first, second, check, missing):
        assert env["HF_TOKEN"] not in run.stderr + run.stdout


def test_prefetch_pins_match_the_quantize_job_so_they_share_an_environment() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==", 1) for line in lines if line)

    prefetch = pins(ROOT / "workloads/prefetch/requirements.txt")
    quantize = pins(ROOT / "workloads/quantize/requirements.txt")
    assert prefetch == {name: quantize[name] for name in prefetch}
