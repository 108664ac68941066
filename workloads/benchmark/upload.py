"""Copy the run folder to an object-store prefix, so the report outlives the pod that wrote it.

`--upload-uri s3://bucket/prefix` or `gs://bucket/prefix`: each run goes to `PREFIX/<run id>/` (the run's
UTC start time, so runs never overwrite each other and sort by date), and `PREFIX/latest.json` names the
newest run's folder. The job uploads after every finished load point, at the end, and after an interruption;
only files that changed since the last upload are sent.

Credentials come from the SDKs' default chains, never from flags: boto3 (IRSA or EKS Pod Identity in the
cluster; AWS_* variables or a profile elsewhere; AWS_ENDPOINT_URL for an S3-compatible endpoint) and
google-cloud-storage (Application Default Credentials: GKE Workload Identity in the cluster;
STORAGE_EMULATOR_HOST for an emulator). Both SDKs are imported only when an upload is asked for.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

SKIP_DIRS = ("tokenizer",)
"""A tokenizer extracted from a GGUF file is a cache of an input, not a result."""
PROBE = ".leanrag-write-check"


class UploadError(RuntimeError):
    """The destination is malformed, unreachable or not writable with the credentials found."""


class _Backend(Protocol):
    def put_file(self, path: Path, key: str, content_type: str) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def delete(self, key: str) -> None: ...


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class _S3:
    def __init__(self, bucket: str) -> None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise UploadError(
                f"--upload-uri s3://{bucket}/...: no AWS credentials found. In the cluster, give the Job's "
                "service account an IAM role (IRSA or EKS Pod Identity); elsewhere set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
            )
        self.bucket = bucket
        self.client = session.client(
            "s3", config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 4, "mode": "standard"})
        )

    def put_file(self, path: Path, key: str, content_type: str) -> None:
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


class _Gcs:
    def __init__(self, bucket: str) -> None:
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import storage

        try:
            client = storage.Client()
        except DefaultCredentialsError:
            raise UploadError(
                f"--upload-uri gs://{bucket}/...: no Google Cloud credentials found. In the cluster, bind the "
                "Job's service account with GKE Workload Identity; elsewhere run `gcloud auth application-default "
                "login` or set GOOGLE_APPLICATION_CREDENTIALS"
            ) from None
        self.bucket = client.bucket(bucket)

    def put_file(self, path: Path, key: str, content_type: str) -> None:
        self.bucket.blob(key).upload_from_filename(str(path), content_type=content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.bucket.blob(key).upload_from_string(data, content_type=content_type)

    def delete(self, key: str) -> None:
        self.bucket.blob(key).delete()


def parse(uri: str) -> tuple[str, str, str]:
    """(scheme, bucket, prefix without slashes) of an s3:// or gs:// URI, or UploadError."""
    parsed = urlparse(uri.strip())
    if parsed.scheme not in ("s3", "gs"):
        raise UploadError(f"--upload-uri {uri!r}: use s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
    if not parsed.netloc:
        raise UploadError(f"--upload-uri {uri!r} names no bucket: use {parsed.scheme}://BUCKET/PREFIX")
    if "@" in parsed.netloc or parsed.query or parsed.fragment:
        raise UploadError(f"--upload-uri {parsed.scheme}://{parsed.hostname}/...: credentials and query strings do not "
                          "belong in the URI (they come from the workload identity)")  # fmt: skip
    return parsed.scheme, parsed.netloc, parsed.path.strip("/")


def describe(err: Exception) -> str:
    """The useful part of an SDK error, on one line."""
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message') or ''}".strip(": ")
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:300]


@dataclass
class Uploader:
    """Uploads one run folder under `uri`/`run_id`/."""

    uri: str
    run_id: str
    backend: Any = None
    _sent: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scheme, self.bucket, self.prefix = parse(self.uri)
        if self.backend is None:
            self.backend = _S3(self.bucket) if self.scheme == "s3" else _Gcs(self.bucket)

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    @property
    def location(self) -> str:
        """Where the run folder goes."""
        return f"{self.scheme}://{self.bucket}/{self._key(self.run_id)}"

    def check(self) -> None:
        """Write and delete a small object under the prefix: proves the bucket exists and the credentials may
        write there, before any load is sent."""
        key = self._key(self.run_id, PROBE)
        try:
            self.backend.put_bytes(key, b"write check by the benchmark job\n", "text/plain")
            self.backend.delete(key)
        except Exception as err:  # the SDKs raise many types; all mean "cannot write there"
            raise UploadError(
                f"cannot write to --upload-uri {self.scheme}://{self.bucket}/{self.prefix} ({describe(err)}); "
                "check the bucket name and that the workload identity may write objects there"
            ) from None

    def sync(self, run_dir: Path) -> int:
        """Upload the files of `run_dir` that changed since the last call; returns how many were sent."""
        sent = 0
        for path in sorted(run_dir.rglob("*")):
            rel = path.relative_to(run_dir)
            if not path.is_file() or rel.parts[0] in SKIP_DIRS:
                continue
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
            if self._sent.get(rel.as_posix()) == stamp:
                continue
            self.backend.put_file(path, self._key(self.run_id, rel.as_posix()), _content_type(path))
            self._sent[rel.as_posix()] = stamp
            sent += 1
        return sent

    def mark_latest(self, summary: dict[str, Any]) -> str:
        """Point PREFIX/latest.json at this run; returns the report's URI."""
        report = f"{self.location}/report.html"
        pointer = {
            "run": self.location,
            "report": report,
            "status": summary.get("status"),
            "message": summary.get("message"),
            "finished_at": summary.get("finished_at"),
        }
        self.backend.put_bytes(self._key("latest.json"), json.dumps(pointer, indent=2).encode(), "application/json")
        return report
