"""Prefetch into a real S3-compatible server (moto's) through boto3's default chain, as in the cluster.

What each run wrote is counted from the server's own access log (every PUT, POST and DELETE it answered).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prefetch_helpers import DEFAULT_COPIED, LEFT_OUT

from tests.workloads.store_servers import BUCKET, AccessKey, S3Server, use_server
from workloads.artifacts.manifest import parse
from workloads.artifacts.s3_backend import S3Backend
from workloads.prefetch.cli import main

PREFIX = "models/tiny/bf16"
OUTPUT = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture
def s3(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, reached by the job through AWS_ENDPOINT_URL and access keys in the environment."""
    use_server(monkeypatch, tmp_path, s3_server, s3_server.admin)
    return s3_server


def _prefetch(*args: str) -> int:
    return main([*args, "--staging-dir", "/tmp"])


def _manifest(server: S3Server) -> dict[str, Any]:
    body = server.client().get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")["Body"].read()
    return dict(json.loads(body))


def _uploaded_keys(writes: list[tuple[str, str]]) -> list[str]:
    """Objects written (single PUT or multipart upload), each once, without the prefix; the write probe (a
    .write-probe-* object written and deleted before copying; the tests check it is gone) is left out."""
    keys = {key.removeprefix(PREFIX + "/") for method, key in writes if key and method in ("PUT", "POST")}
    probes = {k for k in keys if k.startswith(".write-probe-")}
    assert len(probes) <= 1
    return sorted(keys - probes)


def test_run_twice_the_second_run_copies_nothing(
    s3: S3Server, tiny_model: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start = s3.mark()
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    assert capsys.readouterr().out.strip() == OUTPUT
    first = s3.writes(start)
    assert _uploaded_keys(first) == sorted([*DEFAULT_COPIED, "manifest.json"])
    assert first[-1] == ("PUT", f"{PREFIX}/manifest.json")  # the manifest is written last
    big = f"{PREFIX}/model-00001-of-00002.safetensors"
    assert ("PUT", big) in first and first.count(("POST", big)) == 2  # multipart: create, parts, complete
    assert s3.object_keys(PREFIX + "/") == sorted(f"{PREFIX}/{k}" for k in [*DEFAULT_COPIED, "manifest.json"])
    for left_out in LEFT_OUT:
        assert f"{PREFIX}/{left_out}" not in s3.object_keys()

    manifest = _manifest(s3)
    assert manifest["manifest_version"] == 2 and manifest["kind"] == "weights"
    assert manifest["producer"] == "prefetch"
    assert manifest["source_model"] == {"id": str(tiny_model), "kind": "local", "revision": None, "commit": None}
    assert [f["path"] for f in manifest["files"]] == DEFAULT_COPIED
    for entry in manifest["files"]:
        data = (tiny_model / entry["path"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        stored = s3.client().get_object(Bucket=BUCKET, Key=f"{PREFIX}/{entry['path']}")
        assert stored["Body"].read() == data
        assert stored["Metadata"] == {"sha256": entry["sha256"]}  # each object carries its own hash
    assert manifest["file_count"] == len(DEFAULT_COPIED)
    assert manifest["total_size"] == sum(f["size"] for f in manifest["files"])
    assert parse(json.dumps(manifest).encode(), "m").summary()["source_model"] == str(tiny_model)

    caplog.clear()
    second_start = s3.mark()
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    assert s3.writes(second_start) == []  # not one PUT, POST or DELETE on the bucket
    assert _manifest(s3) == manifest  # same created_at: not rewritten
    assert "up to date" in caplog.text and "nothing copied" in caplog.text


class _FailOnUpload:
    """Make the n-th file upload fail the way a dropped connection does (botocore's EndpointConnectionError)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
        self.calls: list[str] = []
        self.n = n
        real = S3Backend.upload_file

        def upload(backend: S3Backend, path: Path, key: str, sha256: str | None = None) -> None:
            self.calls.append(key)
            if len(self.calls) == self.n:
                from botocore.exceptions import EndpointConnectionError

                raise EndpointConnectionError(endpoint_url=f"{backend.client.meta.endpoint_url}/{key}")
            real(backend, path, key, sha256)

        monkeypatch.setattr(S3Backend, "upload_file", upload)


def test_interrupted_run_resumes_copying_only_the_rest(
    s3: S3Server, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    failure = _FailOnUpload(monkeypatch, n=4)
    start = s3.mark()
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "Traceback" not in caplog.text
    assert errors[0].startswith(f"--output {OUTPUT}: copy failed: cannot reach the S3 endpoint")
    assert errors[0].endswith("nothing was marked complete, re-run to copy what is missing")
    done_before = DEFAULT_COPIED[:3]
    assert _uploaded_keys(s3.writes(start)) == done_before  # three files made it, the fourth did not
    assert f"{PREFIX}/manifest.json" not in s3.object_keys()  # so the prefix is not taken for a complete model

    failure.n = 0  # the network is back
    resumed = s3.mark()
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    assert _uploaded_keys(s3.writes(resumed)) == sorted([*DEFAULT_COPIED[3:], "manifest.json"])
    assert s3.object_keys(PREFIX + "/") == sorted(f"{PREFIX}/{k}" for k in [*DEFAULT_COPIED, "manifest.json"])
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().endswith("already in the store, skipped")]
    assert [line.split()[1] for line in skipped] == done_before


def test_a_damaged_copy_is_repaired_without_overwrite(s3: S3Server, tiny_model: Path) -> None:
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    s3.client().delete_object(Bucket=BUCKET, Key=f"{PREFIX}/tokenizer.json")
    s3.client().put_object(Bucket=BUCKET, Key=f"{PREFIX}/stray.bin", Body=b"left over")
    start = s3.mark()
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    writes = s3.writes(start)
    assert writes[0][1].startswith(f"{PREFIX}/.write-probe-") and writes[1] == ("POST", "")  # probe, deleted
    assert writes[2] == ("POST", "")  # DeleteObjects of the manifest: unfinished while it is repaired
    assert _uploaded_keys(writes) == ["manifest.json", "tokenizer.json"]
    assert f"{PREFIX}/stray.bin" not in s3.object_keys()


def test_another_model_is_refused_then_replaced_with_overwrite(
    s3: S3Server, tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    other = tmp_path / "other-model"
    other.mkdir()
    for name in DEFAULT_COPIED:
        target = other / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((tiny_model / name).read_bytes())
    (other / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 256}))
    (other / "tokenizer_config.json").unlink()
    before = _manifest(s3)
    start = s3.mark()
    assert _prefetch("--model", str(other), "--output", OUTPUT) == 2
    assert s3.writes(start) == []
    assert f"--output {OUTPUT} holds {tiny_model}, not {other}" in caplog.text
    assert "pass --overwrite" in caplog.text
    assert _manifest(s3) == before

    start = s3.mark()
    assert _prefetch("--model", str(other), "--output", OUTPUT, "--overwrite") == 0
    writes = s3.writes(start)
    assert _uploaded_keys(writes) == ["config.json", "manifest.json"]  # identical shards are not re-sent
    assert ("POST", "") in writes  # DeleteObjects: the manifest first, later the stale tokenizer_config.json
    assert f"{PREFIX}/tokenizer_config.json" not in s3.object_keys()
    assert _manifest(s3)["source_model"]["id"] == str(other)


def test_check_reports_complete_incomplete_and_other_models(
    s3: S3Server, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--output", OUTPUT]) == 3
    assert json.loads(capsys.readouterr().out)["problems"] == ["no readable manifest.json"]
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 0
    capsys.readouterr()
    assert main(["--check", "--output", OUTPUT, "--model", str(tiny_model)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] is True and report["kind"] == "weights" and report["file_count"] == 7
    assert main(["--check", "--output", OUTPUT, "--model", "org/other"]) == 3
    assert json.loads(capsys.readouterr().out)["problems"] == [f"holds {tiny_model}, not org/other"]
    s3.client().delete_object(Bucket=BUCKET, Key=f"{PREFIX}/config.json")
    assert main(["--check", "--output", OUTPUT]) == 3
    assert json.loads(capsys.readouterr().out)["problems"] == ["config.json: missing"]


# --- credentials and permissions, before anything is read from the source ------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("none", f"s3://{BUCKET}: no AWS credentials found; in the cluster, run the Job as the model-store"),
        ("unknown-key", f"--output {OUTPUT}: cannot list there: the credentials from env were rejected"),
        ("read-only", f"--output {OUTPUT}: cannot write there: access denied (PutObject: AccessDenied"),
    ],
)
def test_credentials_are_checked_before_the_source_is_read(
    who: str,
    expected: str,
    s3_server: S3Server,
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    reader = s3_server.user("reader", ["s3:GetObject", "s3:ListBucket"])
    s3_server.require_auth()
    key = {"none": None, "unknown-key": AccessKey("AKIANOSUCHKEY0000000", "whatever"), "read-only": reader}[who]
    use_server(monkeypatch, tmp_path, s3_server, key)
    assert _prefetch("--model", str(tiny_model), "--output", OUTPUT) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    if who == "read-only":  # listing is allowed: the write probe fails, before anything is fetched
        assert "fetching" not in caplog.text
    else:
        assert "source:" not in caplog.text  # failed before hashing or downloading anything
    assert s3_server.object_keys() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "./no-such-dir", "--output", OUTPUT], "--model ./no-such-dir: no such directory"),
        (["--model", "org/m", "--output", f"s3://{BUCKET}"], "give a prefix"),
        (["--model", "org/m", "--output", "ftp://host/x"], "unsupported scheme 'ftp'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, s3: S3Server, caplog: pytest.LogCaptureFixture) -> None:
    assert _prefetch(*args) == 2
    assert message in caplog.text


def test_local_revision_is_refused(s3: S3Server, tiny_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert _prefetch("--model", str(tiny_model), "--revision", "v1", "--output", OUTPUT) == 2
    assert "--revision v1 applies to a hub id" in caplog.text
