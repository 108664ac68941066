"""Google Cloud Storage through google-cloud-storage, imported lazily.

Credentials come from Application Default Credentials: GKE Workload Identity in the cluster,
`gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS elsewhere.
STORAGE_EMULATOR_HOST points the client at an emulator (no credentials needed then).
Each object records its sha256 as custom metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workloads.artifacts.errors import UserError
from workloads.artifacts.object_store import SHA256_METADATA, ObjectInfo

log = logging.getLogger(__name__)

HOW_TO_PROVIDE = (
    "in the cluster, run the Job as the model-store ServiceAccount (GKE Workload Identity provides them); "
    "locally, run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a key file"
)


def _client(bucket: str) -> Any:
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import storage

    try:
        return storage.Client()
    except DefaultCredentialsError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"gs://{bucket}: no Google credentials found ({first}); {HOW_TO_PROVIDE}") from None


class GcsBackend:
    scheme = "gs"

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self.client = client if client is not None else _client(bucket)
        self._bucket = self.client.bucket(bucket)

    def location(self, prefix: str) -> str:
        return f"gs://{self.bucket}/{prefix}"

    def check_credentials(self) -> None:
        """The client could not be made without credentials (see `_client`); nothing more to check here."""

    def explain(self, exc: BaseException) -> str | None:
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth

        if isinstance(exc, auth.DefaultCredentialsError):
            return f"no Google credentials found; {HOW_TO_PROVIDE}"
        if isinstance(exc, auth.RefreshError):
            return f"the Google credentials were rejected or expired ({exc}); {HOW_TO_PROVIDE}"
        if isinstance(exc, auth.TransportError):
            return f"cannot reach Google's auth endpoint ({exc})"
        if isinstance(exc, api.Forbidden | api.Unauthorized):
            return (
                f"access denied ({exc.message}); the identity needs roles/storage.objectUser "
                f"(list, read, write, delete objects) on bucket {self.bucket}"
            )
        if isinstance(exc, api.NotFound):
            return f"not found ({exc.message}); check that bucket {self.bucket} exists"
        if isinstance(exc, api.GoogleAPICallError):
            return f"{exc.code} {exc.message}"
        if isinstance(exc, ConnectionError | OSError) or type(exc).__module__.startswith("requests"):
            return f"cannot reach Cloud Storage ({exc})"
        return None

    def exists(self, key: str) -> bool:
        return bool(self._bucket.blob(key).exists())

    def stat(self, key: str) -> ObjectInfo | None:
        blob = self._bucket.get_blob(key)
        if blob is None:
            return None
        return ObjectInfo(int(blob.size or 0), (blob.metadata or {}).get(SHA256_METADATA))

    def list_sizes(self, prefix: str) -> dict[str, int]:
        return {blob.name: int(blob.size or 0) for blob in self.client.list_blobs(self.bucket, prefix=prefix)}

    def list_keys(self, prefix: str) -> list[str]:
        return list(self.list_sizes(prefix))

    def get_bytes(self, key: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return bytes(self._bucket.blob(key).download_as_bytes())
        except NotFound:
            return None

    def upload_file(self, path: Path, key: str, sha256: str | None = None) -> None:
        blob = self._bucket.blob(key)
        if sha256:
            blob.metadata = {SHA256_METADATA: sha256}
        blob.upload_from_filename(str(path))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._bucket.blob(key).upload_from_string(data, content_type=content_type)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._bucket.blob(key).delete()
