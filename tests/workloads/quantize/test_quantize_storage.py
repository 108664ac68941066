"""Outputs: atomic local rename, and S3 uploads (moto) with manifest.json last; refusal to overwrite."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from quantize_helpers import BUCKET, s3_keys

from workloads.artifacts.errors import UserError
from workloads.artifacts.object_store import BucketStore
from workloads.artifacts.s3_backend import S3Backend
from workloads.quantize.destinations import open_store
from workloads.quantize.local_store import LocalStore

PREFIX = "models/tiny-w4a16"
BIG = 9 * 1024 * 1024  # above boto3's 8 MiB multipart threshold


def _stage(root: Path, version: str, big: bool = False) -> dict[str, bytes]:
    files = {
        "config.json": json.dumps({"version": version}).encode(),
        f"model-{version}.safetensors": os.urandom(BIG if big else 4096),
        "tokenizer.json": b'{"tok": 1}',
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


def _manifest(version: str) -> bytes:
    return json.dumps({"version": version}).encode()


class _Recorder:
    """Records S3 calls in order; optionally fails the n-th upload of an object body."""

    def __init__(self, client: Any, fail_on_upload: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.uploads = 0
        self.fail_on_upload = fail_on_upload
        for op in ("PutObject", "CreateMultipartUpload", "UploadPart", "DeleteObjects"):
            client.meta.events.register(f"before-parameter-build.s3.{op}", self._hook)

    def _hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key") or ",".join(o["Key"] for o in params.get("Delete", {}).get("Objects", []))
        self.calls.append((model.name, key))
        if model.name in ("PutObject", "CreateMultipartUpload"):
            self.uploads += 1
            if self.uploads == self.fail_on_upload:
                raise ConnectionError("simulated network failure mid-upload")


# --- local ---------------------------------------------------------------------------------------------


def test_local_publish_is_a_rename_of_a_complete_directory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "models" / "tiny")
    store.check(overwrite=False)
    staged = store.make_staging_dir()
    assert staged.parent == store.path.parent and staged.name.startswith(".tiny.partial-")
    files = _stage(staged, "v1")
    assert not store.path.exists()  # nothing visible while staging
    store.publish(staged, _manifest("v1"), overwrite=False)
    assert not staged.exists()
    assert sorted(p.name for p in store.path.iterdir()) == sorted([*files, "manifest.json"])
    assert (store.path / "manifest.json").read_bytes() == _manifest("v1")
    assert oct(store.path.stat().st_mode & 0o777) != oct(0o700)  # readable by the serving user
    assert [p.name for p in store.path.parent.iterdir()] == ["tiny"]  # no staging or backup left


def test_local_refuses_to_overwrite_a_finished_artifact(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "tiny")
    staged = store.make_staging_dir()
    _stage(staged, "v1")
    store.publish(staged, _manifest("v1"), overwrite=False)
    with pytest.raises(UserError, match=r"already holds a finished artifact .*pass --overwrite"):
        store.check(overwrite=False)
    staged = store.make_staging_dir()
    _stage(staged, "v2")
    with pytest.raises(UserError, match="pass --overwrite"):
        store.publish(staged, _manifest("v2"), overwrite=False)
    assert (store.path / "manifest.json").read_bytes() == _manifest("v1")
    store.publish(staged, _manifest("v2"), overwrite=True)
    assert (store.path / "manifest.json").read_bytes() == _manifest("v2")
    assert not (store.path / "model-v1.safetensors").exists()  # replaced whole, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]


def test_local_refuses_a_non_empty_unfinished_directory(tmp_path: Path) -> None:
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"exists and is not empty .*pass --overwrite"):
        LocalStore(tmp_path / "tiny").check(overwrite=False)
    LocalStore(tmp_path / "tiny").check(overwrite=True)
    (tmp_path / "empty").mkdir()
    LocalStore(tmp_path / "empty").check(overwrite=False)


# --- output parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "error"),
    [
        ("s3://bucket", "give a prefix"),
        ("gs://bucket/", "give a prefix"),
        ("s3:///models/x", "no bucket"),
        ("ftp://host/x", "unsupported scheme 'ftp'"),
    ],
)
def test_bad_outputs(output: str, error: str) -> None:
    with pytest.raises(UserError, match=error):
        open_store(output)


def test_local_output_forms(tmp_path: Path) -> None:
    assert open_store(str(tmp_path / "a")).uri == str(tmp_path / "a")
    assert open_store(f"file://{tmp_path}/b").uri == str(tmp_path / "b")


# --- S3 (moto) -----------------------------------------------------------------------------------------


def test_s3_uploads_every_file_then_the_manifest_last(s3: Any, tmp_path: Path) -> None:
    store = open_store(f"s3://{BUCKET}/{PREFIX}/")
    assert isinstance(store, BucketStore) and store.uri == f"s3://{BUCKET}/{PREFIX}"
    assert isinstance(store.backend, S3Backend)
    recorder = _Recorder(store.backend.client)
    files = _stage(tmp_path, "v1", big=True)
    store.check(overwrite=False)
    store.publish(tmp_path, _manifest("v1"), overwrite=False)
    assert s3_keys(s3, PREFIX + "/") == sorted(f"{PREFIX}/{n}" for n in [*files, "manifest.json"])
    for name, data in files.items():
        assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}")["Body"].read() == data
    assert recorder.calls[-1] == ("PutObject", f"{PREFIX}/manifest.json")
    assert ("UploadPart", f"{PREFIX}/model-v1.safetensors") in recorder.calls  # multipart used
    manifest_obj = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")
    assert manifest_obj["ContentType"] == "application/json"


def test_s3_failure_mid_upload_leaves_no_manifest_and_a_rerun_completes(s3: Any, tmp_path: Path) -> None:
    backend = S3Backend(BUCKET, client=s3)
    store = BucketStore(backend, PREFIX)
    recorder = _Recorder(s3, fail_on_upload=2)
    files = _stage(tmp_path, "v1")
    with pytest.raises(Exception, match="simulated network failure"):
        store.publish(tmp_path, _manifest("v1"), overwrite=False)
    keys = s3_keys(s3, PREFIX + "/")
    assert keys == [f"{PREFIX}/config.json"]  # a partial upload happened ...
    assert f"{PREFIX}/manifest.json" not in keys  # ... and it is not marked finished
    assert ("PutObject", f"{PREFIX}/manifest.json") not in recorder.calls

    # A re-run over an unfinished upload needs no --overwrite, and completes it.
    recorder.fail_on_upload = None
    store.check(overwrite=False)
    store.publish(tmp_path, _manifest("v1"), overwrite=False)
    assert s3_keys(s3, PREFIX + "/") == sorted(f"{PREFIX}/{n}" for n in [*files, "manifest.json"])


def test_s3_refuses_to_overwrite_then_replaces_with_manifest_deleted_first(s3: Any, tmp_path: Path) -> None:
    store = BucketStore(S3Backend(BUCKET, client=s3), PREFIX)
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    _stage(v1, "v1")
    new_files = _stage(v2, "v2")
    store.publish(v1, _manifest("v1"), overwrite=False)
    with pytest.raises(UserError, match=rf"s3://{BUCKET}/{PREFIX} already holds a finished artifact"):
        store.check(overwrite=False)
    with pytest.raises(UserError, match="pass --overwrite"):
        store.publish(v2, _manifest("v2"), overwrite=False)
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")["Body"].read() == _manifest("v1")

    recorder = _Recorder(s3)
    store.publish(v2, _manifest("v2"), overwrite=True)
    assert recorder.calls[0] == ("DeleteObjects", f"{PREFIX}/manifest.json")  # un-finish first
    assert recorder.calls[-1] == ("PutObject", f"{PREFIX}/manifest.json")  # finish last
    assert ("DeleteObjects", f"{PREFIX}/model-v1.safetensors") in recorder.calls  # stale file removed
    assert s3_keys(s3, PREFIX + "/") == sorted(f"{PREFIX}/{n}" for n in [*new_files, "manifest.json"])
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/manifest.json")["Body"].read() == _manifest("v2")


def test_s3_prefix_does_not_touch_neighbours(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}-other/keep.bin", Body=b"x")
    store = BucketStore(S3Backend(BUCKET, client=s3), PREFIX)
    _stage(tmp_path, "v1")
    store.publish(tmp_path, _manifest("v1"), overwrite=False)
    assert s3_keys(s3, f"{PREFIX}-other/") == [f"{PREFIX}-other/keep.bin"]
