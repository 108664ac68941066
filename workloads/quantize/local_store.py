"""A local directory output, published by renaming a finished staging directory into place."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from workloads.artifacts.errors import UserError
from workloads.artifacts.local_backend import probe_directory
from workloads.artifacts.manifest import MANIFEST_NAME

log = logging.getLogger(__name__)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class LocalStore:
    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().absolute()
        self.uri = str(self.path)

    def check(self, overwrite: bool) -> None:
        path = self.path
        if not path.exists():
            return
        if not path.is_dir():
            raise UserError(f"--output {path} exists and is not a directory; choose another --output")
        if overwrite:
            return
        if (path / MANIFEST_NAME).is_file():
            raise UserError(
                f"--output {path} already holds a finished artifact ({MANIFEST_NAME} present); "
                "pass --overwrite to replace it or choose another --output"
            )
        if any(path.iterdir()):
            raise UserError(
                f"--output {path} exists and is not empty (no {MANIFEST_NAME}, so not a finished artifact); "
                "pass --overwrite to replace it or choose another --output"
            )

    def probe_write(self) -> None:
        """The checkpoint is staged beside --output and renamed into place: its parent must be writable."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--output {self.path} exists and is not a directory; choose another --output")
        probe_directory(self.path.parent, "--output", self.uri)
        log.info("preflight: %s is writable (probe file written and deleted)", self.path.parent)

    def make_staging_dir(self, staging_root: Path | None = None) -> Path:
        # Beside the destination, so the final rename stays on one filesystem (atomic).
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=self.path.parent))
        staged.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; the server may run as another user
        return staged

    def publish(self, staged: Path, manifest: bytes, overwrite: bool) -> None:
        if staged.parent != self.path.parent:
            raise ValueError(f"staging dir {staged} must be beside {self.path} for an atomic rename")
        for path in staged.rglob("*"):
            if path.is_file():
                path.chmod(0o666 & ~_umask())
        tmp = staged / f".{MANIFEST_NAME}.tmp"
        tmp.write_bytes(manifest)
        os.replace(tmp, staged / MANIFEST_NAME)
        self.check(overwrite)
        old: Path | None = None
        if self.path.exists():
            old = self.path.with_name(f".{self.path.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(self.path, old)
        os.rename(staged, self.path)
        log.info("upload: renamed the staged checkpoint to %s", self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
