"""A model artifact under a bucket prefix (or a local directory): written file by file, `manifest.json` last.

`BucketStore` is the store both jobs write through:
- `probe_write` proves, before any long work, that the credentials are there and that the identity can list,
  write and delete under the prefix (a probe object is written and deleted); failures are one-line UserErrors.
- `publish` (quantize: a finished checkpoint staged on disk), in order:
  1. with --overwrite, delete the old manifest first: from then on the prefix reads as unfinished;
  2. upload every staged file;
  3. delete objects under the prefix that the new checkpoint does not have (left from an older run);
  4. write manifest.json last. It is the commit marker the serving layer waits for.
- prefetch uses the same steps one file at a time (`remove_manifest`, `stat`, `put_file`, `delete_stale`,
  `write_manifest`), skipping files whose object already holds the same bytes (size and the sha256 recorded
  on upload), so a re-run after a failure copies only what is missing or different.
A failure at any step leaves no manifest, so a partial upload is never taken for a finished model.
`inspect` is the one reader: is the prefix complete, and which model and revision is it?
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from workloads.artifacts.errors import TransferError, UserError
from workloads.artifacts.manifest import MANIFEST_NAME, Artifact, ManifestError, parse
from workloads.artifacts.progress import mb

log = logging.getLogger(__name__)

PROBE_PREFIX = ".write-probe-"
SHA256_METADATA = "sha256"
"""User metadata key holding each uploaded object's sha256 (S3 x-amz-meta-sha256, GCS custom metadata)."""


class ObjectInfo(NamedTuple):
    size: int
    sha256: str | None
    """The sha256 recorded when the object was uploaded (None when it was not written by these jobs)."""


class ObjectBackend(Protocol):
    scheme: str
    bucket: str

    def location(self, prefix: str) -> str:
        """The URI of `prefix` as the user writes it."""

    def check_credentials(self) -> None:
        """Raise UserError naming what is missing when no credentials can be found."""

    def explain(self, exc: BaseException) -> str | None:
        """A one-line reason for a storage or credentials exception (None: not one of this backend's)."""

    def exists(self, key: str) -> bool: ...

    def list_sizes(self, prefix: str) -> dict[str, int]: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def get_bytes(self, key: str) -> bytes | None: ...

    def upload_file(self, path: Path, key: str, sha256: str | None = None) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def delete(self, keys: list[str]) -> None: ...


@dataclass(frozen=True)
class Inspection:
    """What the prefix holds: a readable manifest whose files are all present with their sizes, or not."""

    uri: str
    artifact: Artifact | None
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.artifact is not None and not self.problems


class BucketStore:
    def __init__(self, backend: ObjectBackend, prefix: str, flag: str = "--output") -> None:
        self.backend = backend
        self.prefix = prefix.strip("/")
        self.flag = flag
        self.uri = backend.location(self.prefix)
        self.manifest_key = self.key(MANIFEST_NAME)

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    @property
    def _list_prefix(self) -> str:
        return self.prefix + "/" if self.prefix else ""

    # --- before any long work --------------------------------------------------------------------------

    def probe_read(self) -> None:
        """Credentials first, then list the prefix: what a read-only check needs."""
        self._probe(write=False)

    def probe_write(self) -> None:
        """Credentials first, then list, write and delete a probe object under the prefix."""
        self._probe(write=True)
        log.info("preflight: %s is writable (probe object written and deleted)", self.uri)

    def _probe(self, write: bool) -> None:
        self.backend.check_credentials()
        probe = self.key(f"{PROBE_PREFIX}{uuid.uuid4().hex[:12]}")
        step = "list"
        try:
            self.backend.list_sizes(self._list_prefix)
            if write:
                step = "write"
                self.backend.put_bytes(probe, b"write probe; deleted at once\n", "text/plain")
                step = "delete"
                self.backend.delete([probe])
        except UserError:
            raise
        except Exception as exc:
            reason = self.backend.explain(exc)
            if reason is None:
                raise
            raise UserError(f"{self.flag} {self.uri}: cannot {step} there: {reason}") from None

    def fail(self, exc: BaseException, doing: str) -> TransferError | None:
        """A one-line TransferError for a storage exception raised while `doing` (None: not a storage error)."""
        reason = self.backend.explain(exc)
        return None if reason is None else TransferError(f"{self.flag} {self.uri}: {doing} failed: {reason}")

    def check(self, overwrite: bool) -> None:
        if self.backend.exists(self.manifest_key):
            if not overwrite:
                raise UserError(
                    f"{self.flag} {self.uri} already holds a finished artifact ({MANIFEST_NAME} present); "
                    f"pass --overwrite to replace it or choose another {self.flag}"
                )
            log.info("output %s holds a finished artifact; it will be replaced (--overwrite)", self.uri)
            return
        leftover = self.backend.list_keys(self._list_prefix)
        if leftover:
            log.warning(
                "output %s holds %d objects but no %s (an unfinished upload); they will be replaced",
                self.uri,
                len(leftover),
                MANIFEST_NAME,
            )

    # --- reading ---------------------------------------------------------------------------------------

    def read_artifact(self) -> Artifact | None:
        """The manifest's content; None when there is none or it cannot be read (the prefix is unfinished)."""
        data = self.backend.get_bytes(self.manifest_key)
        if data is None:
            return None
        try:
            return parse(data, self.backend.location(self.manifest_key))
        except ManifestError as exc:
            log.warning("%s; the prefix counts as unfinished", exc)
            return None

    def inspect(self) -> Inspection:
        """Is the prefix complete (manifest present and every listed file there with its size)?"""
        artifact = self.read_artifact()
        if artifact is None:
            return Inspection(self.uri, None, [f"no readable {MANIFEST_NAME}"])
        present = {self.relative(k): size for k, size in self.backend.list_sizes(self._list_prefix).items()}
        problems = []
        for entry in artifact.files.values():
            size = present.get(entry.path)
            if size is None:
                problems.append(f"{entry.path}: missing")
            elif size != entry.size:
                problems.append(f"{entry.path}: size {size} != {entry.size}")
        return Inspection(self.uri, artifact, problems)

    def stat(self, relative: str) -> ObjectInfo | None:
        return self.backend.stat(self.key(relative))

    # --- writing, one file at a time -------------------------------------------------------------------

    def remove_manifest(self) -> None:
        """Mark the prefix unfinished before changing any file under it."""
        if self.backend.exists(self.manifest_key):
            log.info("deleting the old %s first, so the prefix reads as unfinished", MANIFEST_NAME)
            self.backend.delete([self.manifest_key])

    def put_file(self, path: Path, relative: str, sha256: str | None = None) -> None:
        self.backend.upload_file(path, self.key(relative), sha256)

    def delete_stale(self, wanted: set[str]) -> list[str]:
        """Delete objects under the prefix that are not in `wanted` (relative paths) or the manifest."""
        keep = {self.key(r) for r in wanted} | {self.manifest_key}
        stale = sorted(set(self.backend.list_keys(self._list_prefix)) - keep)
        if stale:
            log.info("deleting %d objects left from an older upload", len(stale))
            self.backend.delete(stale)
        return [self.relative(k) for k in stale]

    def write_manifest(self, manifest: bytes) -> None:
        self.backend.put_bytes(self.manifest_key, manifest, "application/json")
        log.info("wrote %s last; the artifact is complete", self.backend.location(self.manifest_key))

    # --- writing a staged checkpoint at once (quantize) ------------------------------------------------

    def make_staging_dir(self, staging_root: Path | None = None) -> Path:
        if staging_root is not None:
            staging_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="quantize-staging-", dir=staging_root))

    def publish(self, staged: Path, manifest: bytes, overwrite: bool) -> None:
        self.check(overwrite)
        if self.backend.exists(self.manifest_key):
            log.info("upload: deleting the old %s first, so the prefix reads as unfinished", MANIFEST_NAME)
            self.backend.delete([self.manifest_key])
        files = sorted(p for p in staged.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
        total = sum(p.stat().st_size for p in files)
        done = 0
        for index, path in enumerate(files, start=1):
            relative = path.relative_to(staged).as_posix()
            size = path.stat().st_size
            log.info(
                "upload %d/%d: %s (%s) -> %s",
                index,
                len(files),
                path.name,
                mb(size),
                self.backend.location(self.key(relative)),
            )
            self.put_file(path, relative)
            done += size
            log.info("upload: %s of %s done", mb(done), mb(total))
        self.delete_stale({p.relative_to(staged).as_posix() for p in files})
        self.write_manifest(manifest)
