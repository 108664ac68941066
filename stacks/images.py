"""The images built from this repository (workloads/<name>/Dockerfile) and where they are pulled from.

Pure Python without third-party imports: the image workflow (.github/workflows/images.yml) runs it with a bare
`python3` to name what it builds. The defaults here are the defaults of the `workloadImages` config key
(stacks/config/images.py); a user who builds and pushes the images elsewhere sets that key (docs/images.md).
"""

from __future__ import annotations

DEFAULT_REGISTRY = "ghcr.io/leanrag"
"""Registry and namespace the images are pushed to (`<registry>/<name>:<tag>`)."""
DEFAULT_TAG = "0.1.0"
"""The release the program's flags and environment variables match; bump it with the workloads."""
BUILT_HERE = ("quantize", "prefetch", "ingest", "benchmark", "moderation")
"""Every image with a Dockerfile under workloads/."""


def image_ref(registry: str, name: str, tag: str) -> str:
    """`<registry>/<name>:<tag>` for one of `BUILT_HERE`."""
    if name not in BUILT_HERE:
        raise ValueError(f"{name!r} is not an image built from this repository ({', '.join(BUILT_HERE)})")
    return f"{registry.rstrip('/')}/{name}:{tag}"
