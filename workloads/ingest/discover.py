"""Find the documents under a corpus root and hash their contents.

The walk follows symbolic links (a corpus assembled from links is normal) but never loops: a link back to
a folder on the current path is reported as a symlink loop, a folder reached a second time through another
link is reported once, and dangling links, unreadable folders and special files (FIFOs, sockets, devices:
reading a FIFO would block the run) are reported instead of being skipped silently. Hidden files and
folders (a leading dot, e.g. ``.git``) are left out on purpose and not reported.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
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


class CorpusError(Exception):
    """The corpus root itself cannot be used; the message is one line for the user."""


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

    @property
    def kind(self) -> str | None:
        return SUPPORTED_EXTENSIONS.get(self.extension)


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (source, reason): listed as skipped


def content_hash(path: Path) -> str:
    """sha256 of the file's bytes: a document is 'the same' exactly when its bytes are."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_os_error(err: OSError) -> str:
    """A short reason for an OSError, without the path (the summary names the file already)."""
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ELOOP:
        return "symlink loop"
    return err.strerror or type(err).__name__


def discover(root: Path) -> Discovery:
    """Every regular file under root, sorted by relative path, and every entry that cannot be used."""
    if not root.exists():
        kind = "a broken symbolic link" if root.is_symlink() else "missing"
        raise CorpusError(f"corpus folder {root} is {kind}: pass an existing folder as CORPUS (or INGEST_CORPUS)")
    if not root.is_dir():
        raise CorpusError(f"corpus {root} is a file, not a folder: pass the folder that holds the documents")
    if not os.access(root, os.R_OK | os.X_OK):
        raise CorpusError(f"corpus folder {root} is not readable (permission denied)")

    found = Discovery()
    first_seen: dict[tuple[int, int], str] = {}  # real folder (device, inode) -> relative path where met
    root_stat = root.stat()
    root_key = (root_stat.st_dev, root_stat.st_ino)
    first_seen[root_key] = "."
    # Linked folders are followed after the real tree, so a folder keeps its real path as its name.
    linked: list[tuple[Path, str, tuple[tuple[int, int], ...], tuple[int, int]]] = []

    def walk(folder: Path, rel: str, ancestors: tuple[tuple[int, int], ...]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            found.problems.append((rel + "/", f"folder not readable: {describe_os_error(err)}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            source = f"{rel}/{entry.name}" if rel else entry.name
            try:
                st = os.stat(entry.path)  # follows links
            except OSError as err:
                if entry.is_symlink():
                    loop = err.errno == errno.ELOOP
                    reason = "symlink loop" if loop else "broken symbolic link (its target is missing)"
                else:
                    reason = f"cannot read: {describe_os_error(err)}"
                found.problems.append((source, reason))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if entry.is_symlink():
                    linked.append((Path(entry.path), source, ancestors, key))
                elif key not in first_seen:  # (a bind mount could show a folder twice)
                    first_seen[key] = source
                    walk(Path(entry.path), source, (*ancestors, key))
            elif stat.S_ISREG(st.st_mode):
                found.files.append(SourceFile(path=Path(entry.path), source=source, size=st.st_size))
            else:
                found.problems.append((source, "not a regular file (a FIFO, socket or device): not read"))

    walk(root, "", (root_key,))
    while linked:
        path, source, ancestors, key = linked.pop(0)
        if key in ancestors:
            target = first_seen.get(key, "?")
            where = "the corpus root" if target == "." else target
            found.problems.append((source + "/", f"symlink loop: links back to {where}"))
        elif key in first_seen:
            found.problems.append((source + "/", f"same folder as {first_seen[key]}/ (linked twice): read once"))
        else:
            first_seen[key] = source
            walk(path, source, (*ancestors, key))
    found.files.sort(key=lambda f: f.source)
    return found
