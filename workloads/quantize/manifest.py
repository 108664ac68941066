"""`manifest.json`: the commit marker of a finished artifact, written after every other file.

It records what was made (recipe and scheme), from what (source model, calibration), with what (library
versions), and every file with its size and sha256, so a consumer can verify a download.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20
_ARG_KEYS = ("num_bits", "type", "strategy", "group_size", "symmetric", "dynamic", "actorder")
VERSIONED_PACKAGES = ("llmcompressor", "compressed-tensors", "transformers", "torch")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
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


def _args(args: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if args is None else {k: args.get(k) for k in _ARG_KEYS}


def scheme_details(quantization_config: dict[str, Any]) -> dict[str, Any]:
    """The essentials of a saved compressed-tensors `quantization_config`."""
    groups = {
        name: {
            "targets": group.get("targets"),
            "weights": _args(group.get("weights")),
            "input_activations": _args(group.get("input_activations")),
        }
        for name, group in (quantization_config.get("config_groups") or {}).items()
    }
    return {
        "quant_method": quantization_config.get("quant_method"),
        "format": quantization_config.get("format"),
        "ignore": quantization_config.get("ignore"),
        "config_groups": groups,
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(
    root: Path,
    *,
    recipe: dict[str, Any],
    source_model: dict[str, Any],
    calibration: dict[str, Any] | None,
    target_gpu: str | None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Describe the checkpoint staged in `root` (which must hold the saved config.json)."""
    config = json.loads((root / "config.json").read_text("utf-8"))
    quantization_config = config.get("quantization_config")
    if not quantization_config:
        raise ValueError(f"{root / 'config.json'} has no quantization_config; the model was not compressed")
    files = file_entries(root)
    return {
        "manifest_version": MANIFEST_VERSION,
        "format": quantization_config.get("quant_method"),
        "recipe": recipe,
        "scheme": scheme_details(quantization_config),
        "source_model": source_model,
        "calibration": calibration,
        "target_gpu": target_gpu,
        "versions": library_versions(),
        "files": files,
        "file_count": len(files),
        "total_size": sum(f["size"] for f in files),
        "created_at": (created_at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def dumps(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")


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
