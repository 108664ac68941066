"""Google Cloud Storage through google-cloud-storage, imported lazily.

Credentials come from Application Default Credentials: GKE Workload Identity in the cluster.
STORAGE_EMULATOR_HOST points the client at an emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class GcsBackend:
    scheme = "gs"

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        self.client = client
        self._bucket = client.bucket(bucket)

    def exists(self, key: str) -> bool:
        return bool(self._bucket.blob(key).exists())

    def list_keys(self, prefix: str) -> list[str]:
        return [blob.name for blob in self.client.list_blobs(self.bucket, prefix=prefix)]

    def upload_file(self, path: Path, key: str) -> None:
        self._bucket.blob(key).upload_from_filename(str(path))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._bucket.blob(key).upload_from_string(data, content_type=content_type)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._bucket.blob(key).delete()
