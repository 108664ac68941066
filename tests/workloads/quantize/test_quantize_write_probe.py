"""The output is proven writable (credentials, permissions) before the model is loaded, with one-line errors.

Buckets are a real S3-compatible server (moto's, with IAM authentication on where credentials are wrong)
reached through boto3's default chain, as in the cluster.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.workloads.store_servers import BUCKET, AccessKey, S3Server, isolate_aws_env, use_server
from workloads.artifacts.object_store import BucketStore
from workloads.artifacts.s3_backend import S3Backend
from workloads.quantize.cli import main

PREFIX = "models/tiny/fp8"
NOT_STARTED = "[1/5] load"


def _quantize(model: Path, output: str, *extra: str) -> int:
    return main(["--model", str(model), "--recipe", "fp8-dynamic", "--output", output, *extra])


def _one_line_error(caplog: pytest.LogCaptureFixture) -> str:
    """The single ERROR record of the run; no traceback anywhere, nothing loaded."""
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "\n" not in message and "Traceback" not in caplog.text
    assert errors[0].exc_info is None
    assert NOT_STARTED not in caplog.text, "the model was loaded before the output was checked"
    return message


# --- local outputs -------------------------------------------------------------------------------------


def test_local_output_under_a_file_fails_before_loading(
    tiny_llama: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-dir").write_text("a file where a directory should be")
    output = tmp_path / "not-a-dir" / "models" / "tiny"
    assert _quantize(tiny_llama, str(output)) == 2
    message = _one_line_error(caplog)
    assert message.startswith(f"--output {output}: cannot create in {output.parent}: Not a directory")
    assert "choose a writable --output" in message


def test_unwritable_staging_dir_for_a_bucket_output_fails_before_loading(
    tiny_llama: Path,
    tmp_path: Path,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_server(monkeypatch, tmp_path, s3_server, s3_server.admin)
    (tmp_path / "file").write_text("x")
    code = _quantize(tiny_llama, f"s3://{BUCKET}/{PREFIX}", "--staging-dir", str(tmp_path / "file" / "staging"))
    assert code == 2
    assert "--staging-dir " in _one_line_error(caplog)
    assert s3_server.object_keys() == []  # the bucket probe cleaned up after itself


def test_local_probe_leaves_nothing_behind_and_the_run_completes(
    tiny_llama: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    output = tmp_path / "out" / "tiny-fp8"
    assert _quantize(tiny_llama, str(output)) == 0
    assert "preflight: " in caplog.text and "is writable" in caplog.text
    assert caplog.text.index("is writable") < caplog.text.index(NOT_STARTED)
    assert [p.name for p in output.parent.iterdir()] == ["tiny-fp8"]  # no probe file, no staging left


# --- S3: credentials and permissions -------------------------------------------------------------------


def test_s3_without_credentials_is_one_line_naming_how_to_provide_them(
    tiny_llama: Path,
    tmp_path: Path,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_server(monkeypatch, tmp_path, s3_server, None)
    assert _quantize(tiny_llama, f"s3://{BUCKET}/{PREFIX}") == 2
    message = _one_line_error(caplog)
    assert message.startswith(f"s3://{BUCKET}: no AWS credentials found;")
    assert "ServiceAccount (IRSA or EKS Pod Identity" in message
    assert "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message


def test_s3_with_half_the_credentials_names_the_missing_variable(
    tiny_llama: Path,
    tmp_path: Path,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_server(monkeypatch, tmp_path, s3_server, None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEONLY")
    assert _quantize(tiny_llama, f"s3://{BUCKET}/{PREFIX}") == 2
    message = _one_line_error(caplog)
    assert message.startswith(
        f"s3://{BUCKET}: incomplete AWS credentials (Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY)"
    )


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("unknown-key", "cannot list there: the credentials from env were rejected (InvalidAccessKeyId)"),
        ("wrong-secret", "cannot list there: the credentials from env were rejected (SignatureDoesNotMatch)"),
        ("read-only", "cannot write there: access denied (PutObject: AccessDenied"),
        ("no-bucket", "cannot list there: bucket leanrag-models-missing does not exist"),
    ],
)
def test_s3_bad_credentials_or_permissions_fail_before_loading(
    who: str,
    expected: str,
    tiny_llama: Path,
    tmp_path: Path,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = s3_server.user("reader", ["s3:GetObject", "s3:ListBucket"])
    admin = s3_server.require_auth()
    key = {
        "unknown-key": AccessKey("AKIANOSUCHKEY0000000", "whatever"),
        "wrong-secret": AccessKey(admin.key_id, "not-the-secret"),
        "read-only": reader,
        "no-bucket": admin,
    }[who]
    bucket = f"{BUCKET}-missing" if who == "no-bucket" else BUCKET
    use_server(monkeypatch, tmp_path, s3_server, key)
    assert _quantize(tiny_llama, f"s3://{bucket}/{PREFIX}") == 2
    message = _one_line_error(caplog)
    assert message.startswith(f"--output s3://{bucket}/{PREFIX}: {expected}"), message
    if who == "read-only":
        assert "s3:PutObject and s3:DeleteObject on arn:aws:s3:::leanrag-models/*" in message
    assert key.secret not in caplog.text
    assert s3_server.object_keys() == []


def test_s3_probe_writes_and_deletes_one_object(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    client = s3_server.client()
    for op in ("ListObjectsV2", "PutObject", "DeleteObjects"):
        client.meta.events.register(
            f"before-parameter-build.s3.{op}",
            lambda model, params, **_: calls.append((model.name, params.get("Key") or params.get("Prefix", ""))),
        )
    BucketStore(S3Backend(BUCKET, client=client), PREFIX).probe_write()
    assert [c[0] for c in calls] == ["ListObjectsV2", "PutObject", "DeleteObjects"]
    assert calls[1][1].startswith(f"{PREFIX}/.write-probe-")
    assert s3_server.object_keys() == []


# --- GCS: credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize("credentials_file", [None, "missing.json", "garbage.json"])
def test_gcs_without_usable_credentials_is_one_line(
    credentials_file: str | None,
    tiny_llama: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    isolate_aws_env(monkeypatch, tmp_path)
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    if credentials_file:
        (tmp_path / "garbage.json").write_text("{not json")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / credentials_file))
    assert _quantize(tiny_llama, "gs://leanrag-models/models/tiny/fp8") == 2
    message = _one_line_error(caplog)
    assert message.startswith("gs://leanrag-models: no Google credentials found (")
    assert "GKE Workload Identity" in message and "gcloud auth application-default login" in message
