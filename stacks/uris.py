"""The URIs a stack's config may name, parsed once into typed values.

- a bucket folder: `s3://<bucket>/<folder>` (aws) or `gs://<bucket>/<folder>` (gcp), read with the Run:ai
  streamer or synced by a Job;
- a path inside a PersistentVolumeClaim: `pvc://<claim>/<path>`, mounted read-only;
- a file of a Hugging Face repository: `hf://<org>/<repo>/<file>` (the CPU tier's GGUF weights).

Parsing says what a URI names; whether it fits the stack (the bucket's cloud, a folder present, a valid claim
name) is preflight's question, answered with these values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BucketScheme = Literal["s3", "gs"]
BUCKET_SCHEMES: dict[str, BucketScheme] = {"aws": "s3", "gcp": "gs"}
"""Cloud -> the scheme of its object storage."""
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class UriError(ValueError):
    """A URI of a kind the stack cannot use; the message names the accepted forms."""


@dataclass(frozen=True)
class BucketUri:
    """`s3://bucket/folder` or `gs://bucket/folder` (the folder may be empty)."""

    uri: str
    """As written in the config."""

    @property
    def scheme(self) -> BucketScheme:
        return "s3" if self.uri.startswith("s3://") else "gs"

    @property
    def folder(self) -> str:
        """The path inside the bucket, without leading or trailing slashes ("" when the URI names the bucket)."""
        parts = self.uri.split("/", 3)
        return parts[3].strip("/") if len(parts) > 3 else ""

    @property
    def prefix(self) -> str:
        """The URI without a trailing slash, as readers of the folder take it."""
        return self.uri.rstrip("/")


@dataclass(frozen=True)
class PvcUri:
    """`pvc://<claim>/<path>`: a path inside a PersistentVolumeClaim of the reading pod's namespace."""

    uri: str
    claim: str
    path: str
    """Inside the claim, without leading or trailing slashes; may be empty (the whole volume)."""

    @property
    def claim_is_valid(self) -> bool:
        """The claim is a Kubernetes object name (DNS-1123 label)."""
        return bool(_DNS_LABEL.fullmatch(self.claim))


@dataclass(frozen=True)
class HubFile:
    """`hf://<org>/<repo>/<file>`: one file of a Hugging Face repository."""

    uri: str
    repo: str
    """<org>/<repo>."""
    file: str
    """The file's path inside the repository (may contain folders)."""


def is_bucket_uri(uri: str) -> bool:
    return uri.startswith(("s3://", "gs://"))


def parse_pvc_uri(uri: str) -> PvcUri:
    """pvc://<claim>/<path>; UriError for another scheme."""
    if not uri.startswith("pvc://"):
        raise UriError(f"{uri!r} is not pvc://<claim>/<path>")
    claim, _, path = uri.removeprefix("pvc://").partition("/")
    return PvcUri(uri=uri, claim=claim, path=path.strip("/"))


def parse_artifact_uri(uri: str) -> BucketUri | PvcUri:
    """A model artifact: a bucket folder or a path in a PersistentVolumeClaim; UriError for other schemes."""
    if is_bucket_uri(uri):
        return BucketUri(uri)
    if uri.startswith("pvc://"):
        return parse_pvc_uri(uri)
    raise UriError(f"artifactUri {uri!r} is not s3://, gs:// or pvc://")


def parse_gguf_uri(uri: str) -> HubFile | PvcUri:
    """The CPU tier's weights: hf://<org>/<repo>/<file>.gguf or pvc://<claim>/<path>.gguf; UriError otherwise."""
    if uri.startswith("hf://"):
        parts = uri.removeprefix("hf://").split("/")
        if len(parts) < 3 or not parts[-1].endswith(".gguf"):
            raise UriError(f"{uri!r} is not hf://<org>/<repo>/<file>.gguf")
        return HubFile(uri=uri, repo="/".join(parts[:2]), file="/".join(parts[2:]))
    if uri.startswith("pvc://"):
        pvc = parse_pvc_uri(uri)
        if not pvc.claim_is_valid or not pvc.path.endswith(".gguf"):
            raise UriError(f"{uri!r} does not name a .gguf file inside a claim: use pvc://<claim>/<path>.gguf")
        return pvc
    raise UriError(f"ggufUri {uri!r} is not hf:// or pvc://")
