"""A local directory behind the same interface as a bucket, for offline use and tests.

Each file is written to a hidden temporary name beside its target and renamed into place, so a file is
either absent or whole. No metadata is stored: `stat` hashes an existing file to compare it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from workloads.artifacts.manifest import sha256_file
from workloads.artifacts.object_store import ObjectInfo


class LocalDirBackend:
    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()
        self.bucket = str(self.root)

    def location(self, prefix: str) -> str:
        return str(self.root / prefix) if prefix else str(self.root)

    def check_credentials(self) -> None:
        """Nothing to check: file permissions are proven by the write probe."""

    def explain(self, exc: BaseException) -> str | None:
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            return f"{exc.strerror or exc}{where}; choose a writable directory or fix its permissions"
        return None

    def _path(self, key: str) -> Path:
        return self.root / key

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(path.stat().st_size, sha256_file(path))

    def list_sizes(self, prefix: str) -> dict[str, int]:
        if not self.root.is_dir():
            return {}
        found = {}
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                found[key] = path.stat().st_size
        return found

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(self.list_sizes(prefix))

    def get_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def _replace_with(self, key: str, write: Callable[[Path], object]) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def upload_file(self, path: Path, key: str, sha256: str | None = None) -> None:
        self._replace_with(key, lambda tmp: shutil.copyfile(path, tmp))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._replace_with(key, lambda tmp: tmp.write_bytes(data))

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


def probe_directory(directory: Path, flag: str, uri: str | None = None) -> None:
    """Create `directory` if needed, then write and delete a probe file in it; one-line UserError if not.

    `uri` is what the user gave (named in the message); defaults to the directory itself.
    """
    from workloads.artifacts.errors import UserError

    probe = directory / f".write-probe-{uuid.uuid4().hex[:12]}"
    step = "create"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        step = "write"
        probe.write_bytes(b"write probe; deleted at once\n")
        step = "delete"
        probe.unlink()
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise UserError(
            f"{flag} {uri or directory}: cannot {step} in {directory}: {exc.strerror or exc}{where}; "
            f"choose a writable {flag} or fix its permissions"
        ) from None
