"""The online hub path (HfApi.model_info + hf_hub_download at the resolved commit) against a local stand-in
for the hub's HTTP API (hub_server.py), into moto's S3 server. Run in a subprocess: huggingface_hub reads
HF_ENDPOINT when it is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import HubServer
from prefetch_helpers import DEFAULT_COPIED

from tests.workloads.store_servers import BUCKET, S3Server, isolate_aws_env

ROOT = Path(__file__).resolve().parents[3]
REPO = "leanrag/tiny"
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
OUTPUT = f"s3://{BUCKET}/models/tiny/bf16"
WEIGHTS = [p for p in DEFAULT_COPIED if p.endswith(".safetensors")]


@pytest.fixture
def hub(tiny_model: Path) -> Iterator[HubServer]:
    server = HubServer(REPO, COMMIT, tiny_model)
    try:
        yield server
    finally:
        server.stop()


def _run(args: list[str], hub: HubServer, s3: S3Server, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_TOKEN": "hf_secretvaluethatmustnotbelogged",
        "AWS_ENDPOINT_URL": s3.endpoint,
        "AWS_ACCESS_KEY_ID": s3.admin.key_id,
        "AWS_SECRET_ACCESS_KEY": s3.admin.secret,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("HF_HUB_OFFLINE", None)
    run = subprocess.run(
        [sys.executable, "-m", "workloads.prefetch", *args, "--staging-dir", str(tmp_path / "staging")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert env["HF_TOKEN"] not in run.stdout + run.stderr
    return run


@pytest.mark.slow
def test_hub_twice_second_run_downloads_and_copies_nothing(
    hub: HubServer, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws_env(monkeypatch, tmp_path)
    first = _run(["--model", REPO, "--output", OUTPUT], hub, s3_server, tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.split(f"/resolve/{COMMIT}/")[-1] for p in hub.downloads()) == DEFAULT_COPIED
    assert all(f"/resolve/{COMMIT}/" in p for p in hub.downloads())  # every file at the resolved commit
    manifest = json.loads(
        s3_server.client().get_object(Bucket=BUCKET, Key="models/tiny/bf16/manifest.json")["Body"].read()
    )
    assert manifest["source_model"] == {"id": REPO, "kind": "huggingface", "revision": "main", "commit": COMMIT}
    assert [f["path"] for f in manifest["files"]] == DEFAULT_COPIED
    assert list((tmp_path / "staging").iterdir()) == []  # downloads are deleted once uploaded

    hub.requests.clear()
    start = s3_server.mark()
    second = _run(["--model", REPO, "--output", OUTPUT], hub, s3_server, tmp_path)
    assert second.returncode == 0, second.stderr
    assert hub.downloads() == []  # only the revision was asked for
    model_requests = [r for r in hub.requests if r[1].startswith((f"/api/models/{REPO}", f"/{REPO}/"))]
    assert model_requests == [("GET", f"/api/models/{REPO}")]  # the revision, and nothing else of the model
    assert s3_server.writes(start) == []
    assert f"holds {REPO}@{COMMIT}" in second.stderr and "nothing copied" in second.stderr


@pytest.mark.slow
def test_hub_resume_skips_weights_without_downloading_them(
    hub: HubServer, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an interrupted run (no manifest), weights whose object holds the hub's LFS sha256 are skipped
    without being downloaded again; small non-LFS files are fetched and compared by hash."""
    isolate_aws_env(monkeypatch, tmp_path)
    assert _run(["--model", REPO, "--output", OUTPUT], hub, s3_server, tmp_path).returncode == 0
    s3_server.client().delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "models/tiny/bf16/manifest.json"}, {"Key": "models/tiny/bf16/config.json"}]},
    )
    hub.requests.clear()
    start = s3_server.mark()
    resumed = _run(["--model", REPO, "--output", OUTPUT], hub, s3_server, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    downloaded = {p.rsplit(f"/resolve/{COMMIT}/", 1)[-1] for p in hub.downloads()}
    assert not downloaded & set(WEIGHTS)  # no weight fetched again
    uploaded = {k.removeprefix("models/tiny/bf16/") for m, k in s3_server.writes(start) if m == "PUT"}
    assert {k for k in uploaded if not k.startswith(".write-probe-")} == {"config.json", "manifest.json"}


@pytest.mark.slow
def test_hub_errors_are_one_line(
    hub: HubServer, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws_env(monkeypatch, tmp_path)
    missing = _run(["--model", "leanrag/missing", "--output", OUTPUT], hub, s3_server, tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "--model leanrag/missing: no such repository on the hub" in missing.stderr
    bad_rev = _run(["--model", REPO, "--revision", "v9", "--output", OUTPUT], hub, s3_server, tmp_path)
    assert bad_rev.returncode == 2 and "Traceback" not in bad_rev.stderr
    assert "--revision v9: leanrag/tiny has no such branch, tag or commit" in bad_rev.stderr
