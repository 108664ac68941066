"""Parse `--output` (a local path, s3://bucket/prefix or gs://bucket/prefix) into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from workloads.artifacts.uris import BucketUri, open_bucket, parse


class Store(Protocol):
    """Where a finished checkpoint goes. `publish` makes it visible all at once (manifest last)."""

    uri: str

    def check(self, overwrite: bool) -> None:
        """Raise UserError if a finished artifact is there and `overwrite` is False."""

    def probe_write(self) -> None:
        """Raise UserError unless the credentials are there and a probe can be written and deleted."""

    def make_staging_dir(self, staging_root: Path | None) -> Path:
        """An empty directory to save the checkpoint into before publishing."""

    def publish(self, staged: Path, manifest: bytes, overwrite: bool) -> None:
        """Publish every file of `staged`, then the manifest."""


def open_store(output: str) -> Store:
    """The store for `--output`; S3 and GCS clients are imported only when used."""
    location = parse(output, "--output")
    if isinstance(location, BucketUri):
        return open_bucket(location, "--output")
    from workloads.quantize.local_store import LocalStore

    return LocalStore(location)
