"""`manifest.json`: the commit marker of a complete artifact (written after every other file) and its reader.

One format for every job that writes model weights to the model store, so that one reader answers "is this
prefix complete, and which model and revision is it?" for the serving layer. The common part
(`manifest_version` 2):

    {
      "manifest_version": 2,
      "kind": "weights" | "quantized",     # copied as published, or made by the quantize job
      "producer": "prefetch" | "quantize",
      "source_model": {"id": "org/name" | "/abs/dir", "kind": "huggingface" | "local",
                       "revision": "main" | null,       # as asked for
                       "commit": "<40 hex>" | null},    # as resolved on the hub (null for a local directory)
      "files": [{"path": "model.safetensors", "size": 123, "sha256": "<64 hex>"}, ...],  # sorted by path
      "file_count": 3, "total_size": 456,
      "versions": {"<package>": "<version>", ...},
      "created_at": "2026-01-02T03:04:05Z"
    }

Each job adds its own keys beside these (quantize: format, recipe, scheme, calibration, target_gpu).
Version 1 manifests (quantize before prefetch existed) read as kind "quantized" with no commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2
KINDS = ("weights", "quantized")
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A manifest that cannot be read: the artifact counts as incomplete."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Artifact:
    """What a manifest says: which model, which revision, which files."""

    kind: str
    producer: str | None
    source_id: str | None
    source_kind: str | None
    revision: str | None
    commit: str | None
    files: dict[str, FileEntry]
    created_at: str | None
    raw: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "producer": self.producer,
            "source_model": self.source_id,
            "revision": self.revision,
            "commit": self.commit,
            "file_count": len(self.files),
            "total_size": sum(f.size for f in self.files.values()),
            "created_at": self.created_at,
        }


def sha256_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def file_entries(root: Path) -> list[dict[str, Any]]:
    """Every file under `root` except the manifest, sorted by relative POSIX path."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST_NAME:
            continue
        entries.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_file(path)})
    return entries


def timestamp(created_at: datetime | None = None) -> str:
    return (created_at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def common_fields(
    *,
    kind: str,
    producer: str,
    source_model: dict[str, Any],
    files: list[dict[str, Any]],
    versions: dict[str, str | None],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The part of the manifest every job writes (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    source = {"id": None, "kind": None, "revision": None, "commit": None, **source_model}
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": kind,
        "producer": producer,
        "source_model": source,
        "files": sorted(files, key=lambda f: f["path"]),
        "file_count": len(files),
        "total_size": sum(f["size"] for f in files),
        "versions": versions,
        "created_at": timestamp(created_at),
    }


def dumps(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")


def parse(data: bytes, where: str) -> Artifact:
    """Read a manifest (version 1 or 2); ManifestError names `where` and what is wrong."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{where}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: not a JSON object")
    version = raw.get("manifest_version")
    if version not in (1, MANIFEST_VERSION):
        raise ManifestError(f"{where}: manifest_version {version!r} is not 1 or {MANIFEST_VERSION}")
    files: dict[str, FileEntry] = {}
    for index, entry in enumerate(raw.get("files") or []):
        try:
            item = FileEntry(str(entry["path"]), int(entry["size"]), str(entry["sha256"]))
        except (KeyError, TypeError, ValueError):
            raise ManifestError(f"{where}: files[{index}] needs path, size and sha256") from None
        files[item.path] = item
    if not files:
        raise ManifestError(f"{where}: lists no files")
    source = raw.get("source_model") or {}
    kind = raw.get("kind") or ("quantized" if "recipe" in raw else "weights")
    return Artifact(
        kind=kind,
        producer=raw.get("producer") or ("quantize" if kind == "quantized" else None),
        source_id=source.get("id"),
        source_kind=source.get("kind"),
        revision=source.get("revision"),
        commit=source.get("commit"),
        files=files,
        created_at=raw.get("created_at"),
        raw=raw,
    )


def verify(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems found checking the files under `root` against `manifest` (empty when all match)."""
    problems = []
    listed = {f["path"] for f in manifest["files"]}
    for entry in manifest["files"]:
        path = root / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{entry['path']}: size {path.stat().st_size} != {entry['size']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 mismatch")
    extra = {e["path"] for e in file_entries(root)} - listed
    problems.extend(f"{p}: not in the manifest" for p in sorted(extra))
    return problems
