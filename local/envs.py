"""Where the harness finds its Python environments: `.venvs/<name>`, each built by `make venv-<name>` (the
Makefile names the requirements of each; scripts/mkvenv reuses an unchanged environment in seconds)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from local.process import ProcessError

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
CORPUS = ROOT / "corpus" / "docs"


def venv_bin(name: str, program: str = "python") -> Path:
    """A program of .venvs/<name>; ProcessError saying how to build the environment when it is missing."""
    path = VENVS / name / "bin" / program
    if not path.exists():
        raise ProcessError(f"environment .venvs/{name} is missing ({path}): run `make venv-{name}`")
    return path


def has_venv(name: str, program: str = "python") -> bool:
    return (VENVS / name / "bin" / program).exists()


def ensure_venv(name: str) -> Path:
    """Build or update .venvs/<name> with `make venv-<name>`; returns its Python."""
    subprocess.run(["make", "-s", f"venv-{name}"], cwd=ROOT, check=True)
    return venv_bin(name)


def job_env() -> dict[str, str]:
    """Environment of a repository module run in another venv: offline Hugging Face, the repository importable."""
    return {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
