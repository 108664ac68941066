"""Find the documents under a corpus root and hash their contents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

# Extensions handed to Docling, by format. Others are reported as unsupported.
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "md",
    ".markdown": "md",
}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str  # relative to the corpus root, forward slashes: the document's stable name
    size: int

    @property
    def extension(self) -> str:
        return self.path.suffix.lower()

    @property
    def supported(self) -> bool:
        return self.extension in SUPPORTED_EXTENSIONS


def content_hash(path: Path) -> str:
    """sha256 of the file's bytes: a document is 'the same' exactly when its bytes are."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(root: Path) -> list[SourceFile]:
    """Every regular file under root (hidden files and folders excluded), sorted by relative path."""
    if not root.exists():
        raise FileNotFoundError(f"corpus root {root} does not exist: pass an existing folder as CORPUS")
    if root.is_file():
        raise NotADirectoryError(f"corpus root {root} is a file: pass the folder that holds the documents")
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        files.append(SourceFile(path=path, source=rel.as_posix(), size=path.stat().st_size))
    return files
