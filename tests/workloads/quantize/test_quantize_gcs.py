"""GCS output against a local emulator: every file, then the manifest; failures leave no manifest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from quantize_helpers import BUCKET

from workloads.artifacts.errors import UserError
from workloads.artifacts.gcs_backend import GcsBackend
from workloads.artifacts.object_store import BucketStore
from workloads.quantize.destinations import open_store

PREFIX = "models/tiny-fp8"


def _stage(root: Path, version: str) -> list[str]:
    files = {
        "config.json": json.dumps({"v": version}).encode(),
        f"model-{version}.safetensors": os.urandom(2048),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return sorted(f"{PREFIX}/{n}" for n in [*files, "manifest.json"])


def test_gcs_publish_failure_rerun_and_overwrite(gcs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"gs://{BUCKET}/{PREFIX}")
    assert isinstance(store, BucketStore) and isinstance(store.backend, GcsBackend)
    backend = store.backend
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    expected_v1, expected_v2 = _stage(v1, "v1"), _stage(v2, "v2")

    real_upload = GcsBackend.upload_file
    uploads: list[str] = []

    def failing_upload(self: GcsBackend, path: Path, key: str, sha256: str | None = None) -> None:
        uploads.append(key)
        if len(uploads) == 2:
            raise ConnectionError("simulated network failure mid-upload")
        real_upload(self, path, key, sha256)

    monkeypatch.setattr(GcsBackend, "upload_file", failing_upload)
    with pytest.raises(ConnectionError):
        store.publish(v1, b'{"v": "v1"}', overwrite=False)
    assert backend.list_keys(PREFIX + "/") == [f"{PREFIX}/config.json"]  # partial, and no manifest
    monkeypatch.setattr(GcsBackend, "upload_file", real_upload)

    store.check(overwrite=False)  # unfinished: a re-run may go ahead
    store.publish(v1, b'{"v": "v1"}', overwrite=False)
    assert sorted(backend.list_keys(PREFIX + "/")) == expected_v1

    with pytest.raises(UserError, match=rf"gs://{BUCKET}/{PREFIX} already holds a finished artifact"):
        store.check(overwrite=False)
    store.publish(v2, b'{"v": "v2"}', overwrite=True)
    assert sorted(backend.list_keys(PREFIX + "/")) == expected_v2
    blob = backend.client.bucket(BUCKET).blob(f"{PREFIX}/manifest.json")
    assert blob.download_as_bytes() == b'{"v": "v2"}'
