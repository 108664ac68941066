"""Copy a model's files into the model store once: skip what is already there, write the manifest last.

Order: credentials and a listing of the output first (one-line errors), then the source is resolved (the
hub's revision, or hashes of a local directory), then:
1. The output holds a complete manifest for the same model at the same commit (hub) or with the same file
   hashes (local directory), listing the same files, and every file is there with its size: nothing to do.
2. The output holds a complete manifest for another model or revision: refused unless --overwrite.
3. Otherwise (nothing there, an interrupted run, a repair, --overwrite): the old manifest is deleted first,
   then each file is copied unless its object already holds the same bytes (same size and the sha256
   recorded on upload), objects the model does not have are deleted, and the manifest is written last.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads.artifacts.errors import TransferError, UserError
from workloads.artifacts.local_backend import probe_directory
from workloads.artifacts.manifest import Artifact, common_fields, dumps, package_versions, sha256_file
from workloads.artifacts.object_store import BucketStore
from workloads.artifacts.progress import mb
from workloads.artifacts.uris import open_store
from workloads.prefetch.sources import DEFAULT_INCLUDE, Source, SourceFile, clean_staging, open_source

log = logging.getLogger("workloads.prefetch")

VERSIONED_PACKAGES = ("huggingface_hub", "boto3", "google-cloud-storage")


@dataclass(frozen=True)
class Job:
    model: str
    output: str
    revision: str | None = None
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = ()
    overwrite: bool = False
    staging_dir: Path | None = None


@dataclass
class Result:
    uri: str
    up_to_date: bool
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    copied_bytes: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)


def _describe(artifact: Artifact) -> str:
    at = artifact.commit or artifact.revision
    return f"{artifact.source_id}@{at}" if at else str(artifact.source_id)


def _same_model(artifact: Artifact, source: Source) -> bool:
    """The same repository at the same commit, or (local directories) the same files with the same hashes."""
    record = source.record
    if artifact.source_id != record["id"] or artifact.source_kind != record["kind"]:
        return False
    if record.get("commit"):
        return artifact.commit == record["commit"]
    return all(
        (entry := artifact.files.get(f.path)) is not None and entry.sha256 == f.sha256 and entry.size == f.size
        for f in source.files
    )


def _same_files(artifact: Artifact, source: Source) -> bool:
    if set(artifact.files) != {f.path for f in source.files}:
        return False
    for f in source.files:
        entry = artifact.files[f.path]
        if entry.size != f.size or (f.sha256 is not None and entry.sha256 != f.sha256):
            return False
    return True


def _staging_root(job: Job) -> Path:
    root = job.staging_dir or Path(tempfile.gettempdir())
    probe_directory(root, "--staging-dir")
    return Path(tempfile.mkdtemp(prefix="prefetch-staging-", dir=root))


def _copy_one(
    store: BucketStore, source: Source, file: SourceFile, staging: Path, label: str
) -> tuple[dict[str, Any], bool]:
    """Copy `file` unless the store already holds its bytes; its manifest entry and whether it was copied."""
    if file.sha256 is not None:
        there = store.stat(file.path)
        if there is not None and there.size == file.size and there.sha256 == file.sha256:
            log.info("%s %s (%s): already in the store, skipped", label, file.path, mb(file.size))
            return {"path": file.path, "size": file.size, "sha256": file.sha256}, False
    started = time.monotonic()
    log.info("%s %s (%s): fetching", label, file.path, mb(file.size))
    local = source.fetch(file, staging)
    try:
        size = local.stat().st_size
        digest = sha256_file(local)
        if file.sha256 is not None and digest != file.sha256:
            raise TransferError(
                f"--model {source.record['id']}: {file.path} arrived with sha256 {digest}, the source lists "
                f"{file.sha256}; nothing was marked complete, re-run to fetch it again"
            )
        if file.sha256 is None:  # learnt only now (small non-LFS hub files): maybe it is there already
            there = store.stat(file.path)
            if there is not None and there.size == size and there.sha256 == digest:
                log.info("%s %s (%s): already in the store, skipped", label, file.path, mb(size))
                return {"path": file.path, "size": size, "sha256": digest}, False
        store.put_file(local, file.path, digest)
    finally:
        source.release(local)
    seconds = time.monotonic() - started
    log.info(
        "%s %s: copied %s in %.1fs (%.1f MB/s)", label, file.path, mb(size), seconds, size / 1e6 / max(seconds, 1e-6)
    )
    return {"path": file.path, "size": size, "sha256": digest}, True


def _storage_errors(store: BucketStore, doing: str, exc: Exception) -> Exception:
    if isinstance(exc, UserError):
        return exc
    failure = store.fail(exc, doing)
    return failure if failure is not None else exc


def run(job: Job, store: BucketStore | None = None) -> Result:
    """Make `job.output` hold `job.model` (at `job.revision`), copying only what is missing or different."""
    store = store or open_store(job.output, "--output")
    store.probe_read()  # credentials and listing before anything else; the write probe comes before copying
    staging = _staging_root(job)
    try:
        source = open_source(job.model, job.revision, job.include, job.exclude)
        total = sum(f.size for f in source.files)
        at = source.record.get("commit")
        log.info(
            "source: %s%s, %d files, %s", source.record["id"], f"@{at}" if at else "", len(source.files), mb(total)
        )
        try:
            return _sync(job, store, source, staging)
        except (UserError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise _storage_errors(store, "copy", exc) from None
    finally:
        clean_staging(staging)


def _sync(job: Job, store: BucketStore, source: Source, staging: Path) -> Result:
    inspection = store.inspect()
    artifact = inspection.artifact
    if artifact is not None:
        if inspection.complete and _same_model(artifact, source) and _same_files(artifact, source):
            log.info(
                "up to date: %s holds %s, %d files; nothing copied", store.uri, _describe(artifact), len(artifact.files)
            )
            return Result(store.uri, True, skipped=sorted(artifact.files), manifest=artifact.raw)
        if not _same_model(artifact, source) and not job.overwrite:
            at = source.record.get("commit")
            wanted = f"{source.record['id']}@{at}" if at else f"{source.record['id']} (other files)"
            raise UserError(
                f"--output {store.uri} holds {_describe(artifact)}, not {wanted}; pass --overwrite to replace it "
                "(servers loading from it meanwhile fail to start) or choose another --output"
            )
        if inspection.problems:
            log.warning("%s is damaged (%s); repairing it", store.uri, "; ".join(inspection.problems[:3]))
    store.probe_write()  # before the first download: a missing permission fails now, not after hours
    store.remove_manifest()
    result = Result(store.uri, False)
    entries = []
    for index, file in enumerate(source.files, start=1):
        entry, copied = _copy_one(store, source, file, staging, f"[{index}/{len(source.files)}]")
        entries.append(entry)
        (result.copied if copied else result.skipped).append(file.path)
        result.copied_bytes += entry["size"] if copied else 0
    result.deleted = store.delete_stale({f.path for f in source.files})
    manifest = common_fields(
        kind="weights",
        producer="prefetch",
        source_model=source.record,
        files=entries,
        versions=package_versions(VERSIONED_PACKAGES),
    )
    manifest["include"] = list(job.include)
    manifest["exclude"] = list(job.exclude)
    store.write_manifest(dumps(manifest))
    result.manifest = manifest
    log.info(
        "done: %s holds %s; copied %d files (%s), %d already there, %d stale objects deleted",
        store.uri,
        f"{source.record['id']}@{source.record.get('commit') or 'local'}",
        len(result.copied),
        mb(result.copied_bytes),
        len(result.skipped),
        len(result.deleted),
    )
    return result
