"""Parse `--output` (a local path, s3://bucket/prefix or gs://bucket/prefix) into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from workloads.quantize.errors import QuantizeError


class Store(Protocol):
    """Where a finished checkpoint goes. `publish` makes it visible all at once (manifest last)."""

    uri: str

    def check(self, overwrite: bool) -> None:
        """Raise QuantizeError if a finished artifact is there and `overwrite` is False."""

    def make_staging_dir(self, staging_root: Path | None) -> Path:
        """An empty directory to save the checkpoint into before publishing."""

    def publish(self, staged: Path, manifest: bytes, overwrite: bool) -> None:
        """Publish every file of `staged`, then the manifest."""


def open_store(output: str) -> Store:
    """The store for `--output`; S3 and GCS clients are imported only when used."""
    parsed = urlparse(output)
    if parsed.scheme in ("s3", "gs"):
        bucket, prefix = parsed.netloc, parsed.path.strip("/")
        if not bucket:
            raise QuantizeError(f"--output {output}: no bucket; use {parsed.scheme}://BUCKET/PREFIX")
        if not prefix:
            raise QuantizeError(
                f"--output {output}: give a prefix, e.g. {parsed.scheme}://{bucket}/models/NAME "
                "(the job replaces every object under the prefix, so the bucket root is refused)"
            )
        from workloads.quantize.object_store import BucketStore

        if parsed.scheme == "s3":
            from workloads.quantize.s3_backend import S3Backend

            return BucketStore(S3Backend(bucket), prefix)
        from workloads.quantize.gcs_backend import GcsBackend

        return BucketStore(GcsBackend(bucket), prefix)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:
        raise QuantizeError(f"--output {output}: unsupported scheme {parsed.scheme!r}; use a path, s3:// or gs://")
    from workloads.quantize.local_store import LocalStore

    return LocalStore(Path(parsed.path if parsed.scheme == "file" else output))
