"""Rebuild corpora/postgresql/docs from the pinned Debian package of the PostgreSQL 15 manual.

The documents are HTML pages of the PostgreSQL 15 documentation, byte for byte as Debian ships them
in `postgresql-doc-15` (see LICENSES.md). Only a selection of pages is kept: a cluster of pages that
resemble each other (backup, replication, maintenance, locking, indexes), the hard case for retrieval.

    python3 corpora/postgresql/build.py              # apt-get download the pinned .deb, rewrite docs/
    python3 corpora/postgresql/build.py --deb FILE   # use a .deb already at hand (no download)
    python3 corpora/postgresql/build.py --check      # exit 1 if docs/ differs from the package

Needs only the standard library, `dpkg-deb` and (without --deb) `apt-get` with Debian bookworm's
package lists (`apt-get update`). Debian replaces old versions in its archive; if the pinned one is
no longer served, the committed docs/ stay the reference and --check against a saved .deb still works.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
LICENSES = HERE / "licenses"

PACKAGE = "postgresql-doc-15"
# Pinned: bookworm 12.x point release. The security pocket's newer 15.x builds change the version
# string printed in every page header, so a rebuild from another version is a different corpus.
VERSION = "15.18-0+deb12u1"
HTML_DIR = Path("usr/share/doc/postgresql-doc-15/html")

# The pages kept (file names in the package's html/ folder). Grouped by topic; several groups hold a
# SQL command, the matching command-line program and a manual chapter on the same subject.
PAGES: tuple[str, ...] = (
    # backup and restore
    "app-pgdump.html",
    "app-pgrestore.html",
    "app-pg-dumpall.html",
    "app-pgbasebackup.html",
    "app-pgverifybackup.html",
    "app-pgreceivewal.html",
    "app-pgrewind.html",
    "backup-dump.html",
    "backup-file.html",
    "continuous-archiving.html",
    # replication and high availability
    "hot-standby.html",
    "warm-standby.html",
    "logical-replication-restrictions.html",
    "logical-replication-row-filter.html",
    "sql-createpublication.html",
    "sql-createsubscription.html",
    # routine maintenance
    "routine-vacuuming.html",
    "routine-reindex.html",
    "sql-vacuum.html",
    "app-vacuumdb.html",
    "sql-analyze.html",
    "sql-reindex.html",
    "app-reindexdb.html",
    "sql-cluster.html",
    "app-clusterdb.html",
    "sql-checkpoint.html",
    # creating and running a cluster
    "app-initdb.html",
    "app-pg-ctl.html",
    "app-pg-isready.html",
    "app-createdb.html",
    "sql-createdatabase.html",
    # concurrency
    "explicit-locking.html",
    "sql-lock.html",
    "transaction-iso.html",
    "sql-listen.html",
    "sql-notify.html",
    # indexes
    "sql-createindex.html",
    "indexes-types.html",
    "indexes-multicolumn.html",
    "indexes-expressional.html",
    "indexes-partial.html",
    # data definition and loading
    "sql-copy.html",
    "sql-truncate.html",
    "sql-creatematerializedview.html",
    "sql-refreshmaterializedview.html",
    "ddl-partitioning.html",
    "ddl-rowsecurity.html",
    "sql-createpolicy.html",
)

# licence files copied from the same package: (path in the package, name under licenses/)
LICENSE_FILES: tuple[tuple[str, str], ...] = (
    ("usr/share/doc/postgresql-doc-15/html/legalnotice.html", "PostgreSQL-legalnotice.html"),
    ("usr/share/doc/postgresql-doc-15/copyright", "debian-copyright-postgresql-doc-15.txt"),
)


def download(dest: Path) -> Path:
    """apt-get download the pinned package into dest; return the .deb path."""
    spec = f"{PACKAGE}={VERSION}"
    try:
        subprocess.run(["apt-get", "download", spec], cwd=dest, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("error: apt-get not found: run on Debian bookworm, or pass --deb FILE") from None
    except subprocess.CalledProcessError as err:
        message = (err.stderr or err.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(
            f"error: apt-get download {spec} failed: {message[0]} (run 'apt-get update' first, or pass --deb FILE)"
        ) from None
    debs = sorted(dest.glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise SystemExit(f"error: expected one {PACKAGE} .deb in {dest}, found {len(debs)}")
    return debs[0]


def extract(deb: Path, dest: Path) -> Path:
    """Unpack the package's files (dpkg-deb -x; nothing is installed) and check it is the pinned version."""
    try:
        version = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        raise SystemExit("error: dpkg-deb not found: this script needs Debian's dpkg tools") from None
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"error: --deb {deb} is not a readable Debian package: {err.stderr.strip()}") from None
    fields = dict(line.split(": ", 1) for line in version.strip().splitlines())
    if (fields.get("Package"), fields.get("Version")) != (PACKAGE, VERSION):
        raise SystemExit(
            f"error: --deb {deb} is {fields.get('Package')} {fields.get('Version')}, expected {PACKAGE} {VERSION}"
        )
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def wanted(root: Path) -> dict[Path, Path]:
    """Map every file this corpus keeps (destination) to its path in the unpacked package."""
    files = {DOCS / page: root / HTML_DIR / page for page in PAGES}
    files.update({LICENSES / name: root / src for src, name in LICENSE_FILES})
    missing = [str(src.relative_to(root)) for src in files.values() if not src.is_file()]
    if missing:
        raise SystemExit(f"error: {PACKAGE} {VERSION} lacks {', '.join(missing)}: fix PAGES in {__file__}")
    return files


def check(files: dict[Path, Path]) -> int:
    differ = [dst for dst, src in files.items() if not dst.is_file() or not filecmp.cmp(dst, src, shallow=False)]
    extra = sorted(set(DOCS.glob("*")) - set(files))
    for path in differ:
        print(f"differs from the package: {path.relative_to(HERE)}")
    for path in extra:
        print(f"not in PAGES: {path.relative_to(HERE)}")
    if differ or extra:
        return 1
    print(f"docs/ and licenses/ match {PACKAGE} {VERSION} ({len(PAGES)} pages)")
    return 0


def write(files: dict[Path, Path]) -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    LICENSES.mkdir(parents=True, exist_ok=True)
    for path in set(DOCS.glob("*")) - set(files):
        path.unlink()
    for dst, src in files.items():
        shutil.copyfile(src, dst)
    size = sum(dst.stat().st_size for dst in files if dst.parent == DOCS)
    print(f"wrote {len(PAGES)} pages ({size / 1e6:.2f} MB) to {DOCS.relative_to(HERE.parent.parent)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help=f"a downloaded {PACKAGE}_{VERSION}_all.deb (default: apt-get it)")
    parser.add_argument("--check", action="store_true", help="compare docs/ with the package; change nothing")
    args = parser.parse_args(argv)
    if args.deb is not None and not args.deb.is_file():
        raise SystemExit(f"error: --deb {args.deb} does not exist")
    with tempfile.TemporaryDirectory(prefix="pgdoc-") as tmp:
        deb = args.deb.resolve() if args.deb else download(Path(tmp))
        files = wanted(extract(deb, Path(tmp) / "root"))
        return check(files) if args.check else write(files)


if __name__ == "__main__":
    sys.exit(main())
