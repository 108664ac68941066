"""Parse a model-store URI (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or a local path) for a job's flag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from workloads.artifacts.errors import UserError
from workloads.artifacts.object_store import BucketStore


@dataclass(frozen=True)
class BucketUri:
    scheme: str
    bucket: str
    prefix: str


def parse(uri: str, flag: str) -> BucketUri | Path:
    """A bucket location or a local path; UserError names `flag` for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme in ("s3", "gs"):
        bucket, prefix = parsed.netloc, parsed.path.strip("/")
        if not bucket:
            raise UserError(f"{flag} {uri}: no bucket; use {parsed.scheme}://BUCKET/PREFIX")
        if not prefix:
            raise UserError(
                f"{flag} {uri}: give a prefix, e.g. {parsed.scheme}://{bucket}/models/NAME "
                "(the job replaces every object under the prefix, so the bucket root is refused)"
            )
        return BucketUri(parsed.scheme, bucket, prefix)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:
        raise UserError(f"{flag} {uri}: unsupported scheme {parsed.scheme!r}; use a path, s3:// or gs://")
    return Path(parsed.path if parsed.scheme == "file" else uri)


def open_bucket(location: BucketUri, flag: str) -> BucketStore:
    """The store for a bucket location; boto3 and google-cloud-storage are imported only when used."""
    if location.scheme == "s3":
        from workloads.artifacts.s3_backend import S3Backend

        return BucketStore(S3Backend(location.bucket), location.prefix, flag)
    from workloads.artifacts.gcs_backend import GcsBackend

    return BucketStore(GcsBackend(location.bucket), location.prefix, flag)


def open_store(uri: str, flag: str) -> BucketStore:
    """Any location as a BucketStore: a local path through LocalDirBackend (the directory is the prefix)."""
    location = parse(uri, flag)
    if isinstance(location, BucketUri):
        return open_bucket(location, flag)
    from workloads.artifacts.local_backend import LocalDirBackend

    return BucketStore(LocalDirBackend(location), "", flag)
