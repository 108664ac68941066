"""Where the weights come from: a Hugging Face Hub repository at a revision, or a local directory.

Each source lists its files (after the include/exclude patterns) with their sizes and, where known before
any download, their sha256, and fetches one file at a time to local disk. The hub is read through
huggingface_hub (the library vLLM and transformers use: the same token handling, endpoints and cache):
- online: `HfApi.model_info(files_metadata=True)` resolves the revision to a commit and gives every LFS
  file's sha256; `hf_hub_download` then fetches each file at that commit, so a branch that moves while the
  job runs cannot mix two revisions. Only the file being copied is on disk at a time.
- HF_HUB_OFFLINE=1: `snapshot_download(local_files_only=True)` finds the revision in the local Hugging Face
  cache (a volume seeded beforehand); nothing is downloaded.
The token is read by huggingface_hub from HF_TOKEN; it is never passed on a command line or logged.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workloads.artifacts.errors import TransferError, UserError
from workloads.artifacts.hub import offline_mode, redact, require_hub
from workloads.artifacts.manifest import MANIFEST_NAME, sha256_file
from workloads.artifacts.progress import ByteProgress

log = logging.getLogger("workloads.prefetch")

DEFAULT_INCLUDE = (
    "*.safetensors",
    "*.safetensors.index.json",
    "config.json",
    "*/config.json",  # sentence-transformers pooling (1_Pooling/config.json)
    "generation_config.json",
    "tokenizer*",  # tokenizer.json, tokenizer_config.json, tokenizer.model
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab*",
    "merges.txt",
    "*.tiktoken",
    "chat_template*",
    "preprocessor_config.json",
    "processor_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
"""What vLLM needs to serve a safetensors model: weights, configs, tokenizer, chat template."""
HASH_PROGRESS_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: str
    """Relative POSIX path inside the model."""
    size: int
    sha256: str | None
    """Known before any download: every local file, the hub's LFS files (weights). None: hash after fetching."""


class Source(Protocol):
    record: dict[str, Any]
    """The manifest's `source_model`: id, kind, revision, commit."""
    files: list[SourceFile]

    def fetch(self, file: SourceFile, staging: Path) -> Path:
        """A local path holding the file's bytes (downloaded into `staging` when remote)."""

    def release(self, path: Path) -> None:
        """Free what `fetch` put on local disk."""


def select(paths: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """The paths matching any `include` pattern and no `exclude` pattern (huggingface_hub's fnmatch rules)."""
    from huggingface_hub.utils import filter_repo_objects

    chosen = filter_repo_objects(paths, allow_patterns=list(include) or None, ignore_patterns=list(exclude) or None)
    return sorted(p for p in chosen if p != MANIFEST_NAME and not p.startswith(".") and "/." not in p)


def _hash(path: Path, size: int) -> str:
    if size < HASH_PROGRESS_BYTES:
        return sha256_file(path)
    progress = ByteProgress(log, f"sha256 {path.name}", size)
    digest = sha256_file(path, progress)
    progress.finish()
    return digest


class LocalSource:
    """A model directory on local disk (or a Hugging Face cache snapshot): every file hashed up front."""

    def __init__(
        self, root: Path, include: Sequence[str], exclude: Sequence[str], record: dict[str, Any] | None = None
    ) -> None:
        self.root = root
        every = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()]
        paths = select(every, include, exclude)
        if not paths:
            raise UserError(
                f"--model {root}: no file matches the patterns ({', '.join(include) or 'all'}); "
                "check --model, --include and --exclude"
            )
        self.files = []
        for rel in paths:
            size = (root / rel).stat().st_size
            self.files.append(SourceFile(rel, size, _hash(root / rel, size)))
        self.record = record or {"id": str(root), "kind": "local", "revision": None, "commit": None}

    def fetch(self, file: SourceFile, staging: Path) -> Path:
        return self.root / file.path

    def release(self, path: Path) -> None:
        """Local files are read in place."""


def _hub_error(model: str, revision: str | None, exc: Exception) -> UserError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"@{revision}" if revision else ""
    if isinstance(exc, GatedRepoError):
        return UserError(
            f"--model {model}: the repository is gated; accept its terms on the hub and set HF_TOKEN to a token "
            "of an account that has access (in the cluster: the hf-token Secret)"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return UserError(
            f"--model {model}: no such repository on the hub, or it is private and HF_TOKEN is unset or has no "
            "access; check the id and HF_TOKEN"
        )
    if isinstance(exc, RevisionNotFoundError):
        return UserError(f"--revision {revision}: {model} has no such branch, tag or commit")
    if isinstance(exc, LocalEntryNotFoundError):
        return UserError(
            f"--model {model}{at}: HF_HUB_OFFLINE=1 but the revision is not in the local Hugging Face cache "
            f"(HF_HOME); seed the cache or unset HF_HUB_OFFLINE"
        )
    if isinstance(exc, HfHubHTTPError):
        return TransferError(f"--model {model}{at}: the hub answered {redact(str(exc)).splitlines()[0]}")
    return TransferError(f"--model {model}{at}: {type(exc).__name__}: {redact(str(exc)).splitlines()[0]}")


class HubSource:
    """A Hugging Face Hub repository at one commit; files are downloaded one at a time into staging."""

    def __init__(self, repo_id: str, revision: str | None, include: Sequence[str], exclude: Sequence[str]) -> None:
        from huggingface_hub import HfApi

        require_hub(f"--model {repo_id}", "Give a local model directory to --model")
        self.repo_id = repo_id
        try:
            info = HfApi().model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as exc:
            raise _hub_error(repo_id, revision, exc) from None
        siblings = {s.rfilename: s for s in info.siblings or []}
        paths = select(list(siblings), include, exclude)
        if not paths:
            raise UserError(
                f"--model {repo_id}: no file of the repository matches the patterns ({', '.join(include)}); "
                "check --include and --exclude"
            )
        self.commit: str = str(info.sha)
        self.files = []
        for rel in paths:
            sibling = siblings[rel]
            lfs = sibling.lfs
            sha256 = lfs.sha256 if lfs is not None else None
            size = lfs.size if lfs is not None else sibling.size
            self.files.append(SourceFile(rel, int(size or 0), sha256))
        self.record = {"id": repo_id, "kind": "huggingface", "revision": revision or "main", "commit": self.commit}

    def fetch(self, file: SourceFile, staging: Path) -> Path:
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(self.repo_id, file.path, revision=self.commit, local_dir=staging))
        except Exception as exc:
            raise _hub_error(self.repo_id, self.commit, exc) from None

    def release(self, path: Path) -> None:
        path.unlink(missing_ok=True)


def cached_snapshot(repo_id: str, revision: str | None, include: Sequence[str], exclude: Sequence[str]) -> LocalSource:
    """HF_HUB_OFFLINE=1: the revision from the local Hugging Face cache, read in place."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=list(include) or None,
                ignore_patterns=list(exclude) or None,
                local_files_only=True,
            )
        )
    except Exception as exc:
        raise _hub_error(repo_id, revision, exc) from None
    record = {"id": repo_id, "kind": "huggingface", "revision": revision or "main", "commit": folder.name}
    log.info("source: %s@%s from the local Hugging Face cache (HF_HUB_OFFLINE=1)", repo_id, folder.name)
    return LocalSource(folder, include, exclude, record)


def open_source(model: str, revision: str | None, include: Sequence[str], exclude: Sequence[str]) -> Source:
    """A local directory when `model` is one, else a hub id (the cache only, with HF_HUB_OFFLINE=1)."""
    path = Path(model).expanduser()
    if path.is_dir():
        if revision:
            raise UserError(f"--revision {revision} applies to a hub id, not to the local directory --model {model}")
        return LocalSource(path.absolute(), include, exclude)
    if model.startswith(("/", "./", "../", "~")) or path.exists():
        raise UserError(f"--model {model}: no such directory; give a model directory or a Hugging Face id")
    if offline_mode():
        return cached_snapshot(model, revision, include, exclude)
    return HubSource(model, revision, include, exclude)


def clean_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
