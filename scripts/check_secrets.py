"""Fail when a tracked file holds a secret that `.secrets.baseline` does not list: what `make lint` runs.

detect-secrets' own hook (the pre-commit hook in .pre-commit-config.yaml) also rewrites the baseline when a known
secret only moved to another line, and fails then; that is right before a commit, where the change is added, but
would fail CI for an edit that added nothing. This check compares by file and hashed secret, so a moved line
passes and a new secret fails, naming the file, the line and the fix.

    .venv/bin/python scripts/check_secrets.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".secrets.baseline"
DETECT_SECRETS = Path(sys.executable).parent / "detect-secrets"


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [f for f in listed.decode().split("\0") if f and f != BASELINE.name and (ROOT / f).is_file()]


def main() -> int:
    known = {
        (name, s["hashed_secret"]) for name, found in json.loads(BASELINE.read_text())["results"].items() for s in found
    }
    scan = subprocess.run(
        [str(DETECT_SECRETS), "scan", *tracked_files()], cwd=ROOT, capture_output=True, text=True, check=True
    )
    new = [
        (name, s)
        for name, found in json.loads(scan.stdout)["results"].items()
        for s in found
        if (name, s["hashed_secret"]) not in known
    ]
    for name, s in new:
        print(f"{name}:{s['line_number']}: {s['type']} not in {BASELINE.name}", file=sys.stderr)
    if new:
        print(
            f"{len(new)} possible secret(s): move a real one to a Secret or stack secret; for a false positive add "
            "`# pragma: allowlist secret` on its line, or `.venv/bin/detect-secrets scan --baseline .secrets.baseline`"
            " and commit the baseline",
            file=sys.stderr,
        )
        return 1
    print(f"no secrets beyond {BASELINE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
