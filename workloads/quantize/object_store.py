"""A bucket prefix as output: upload every file, then the manifest, so a reader never sees a partial model.

Order on publish:
1. with --overwrite, delete the old manifest first: from then on the prefix reads as unfinished;
2. upload every staged file;
3. delete objects under the prefix that the new checkpoint does not have (left from an older run);
4. write manifest.json last. It is the commit marker the serving layer waits for.
A failure at any step leaves no manifest, so the partial upload is never taken for a finished model.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Protocol

from workloads.quantize.errors import QuantizeError
from workloads.quantize.manifest import MANIFEST_NAME

log = logging.getLogger(__name__)


class ObjectBackend(Protocol):
    scheme: str
    bucket: str

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def upload_file(self, path: Path, key: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def delete(self, keys: list[str]) -> None: ...


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


class BucketStore:
    def __init__(self, backend: ObjectBackend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix.strip("/")
        self.uri = f"{backend.scheme}://{backend.bucket}/{self.prefix}"
        self.manifest_key = self.key(MANIFEST_NAME)

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"

    def check(self, overwrite: bool) -> None:
        if self.backend.exists(self.manifest_key):
            if not overwrite:
                raise QuantizeError(
                    f"--output {self.uri} already holds a finished artifact ({MANIFEST_NAME} present); "
                    "pass --overwrite to replace it or choose another --output"
                )
            log.info("output %s holds a finished artifact; it will be replaced (--overwrite)", self.uri)
            return
        leftover = self.backend.list_keys(self.prefix + "/")
        if leftover:
            log.warning(
                "output %s holds %d objects but no %s (an unfinished upload); they will be replaced",
                self.uri,
                len(leftover),
                MANIFEST_NAME,
            )

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
            key = self.key(path.relative_to(staged).as_posix())
            size = path.stat().st_size
            log.info(
                "upload %d/%d: %s (%s) -> %s://%s/%s",
                index,
                len(files),
                path.name,
                _mb(size),
                self.backend.scheme,
                self.backend.bucket,
                key,
            )
            self.backend.upload_file(path, key)
            done += size
            log.info("upload: %s of %s done", _mb(done), _mb(total))
        wanted = {self.key(p.relative_to(staged).as_posix()) for p in files}
        stale = sorted(set(self.backend.list_keys(self.prefix + "/")) - wanted - {self.manifest_key})
        if stale:
            log.info("upload: deleting %d objects left from an older upload", len(stale))
            self.backend.delete(stale)
        self.backend.put_bytes(self.manifest_key, manifest, "application/json")
        log.info(
            "upload: wrote %s://%s/%s last; the artifact is complete",
            self.backend.scheme,
            self.backend.bucket,
            self.manifest_key,
        )
