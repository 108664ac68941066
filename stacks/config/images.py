"""Where the cluster pulls the images built from this repository (quantize, prefetch, ingest, benchmark,
moderation)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from stacks.config.base import ConfigModel
from stacks.images import DEFAULT_REGISTRY, DEFAULT_TAG, image_ref

_REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.:_-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def _registry(value: str) -> str:
    if not _REGISTRY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a registry path: use host[/namespace] in lower case without scheme or tag, "
            "e.g. ghcr.io/my-org or 123456789012.dkr.ecr.us-east-1.amazonaws.com/leanrag"
        )
    return value


def _tag(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise ValueError(f"{value!r} is not a Docker tag: 1-128 letters, digits, '_', '.' or '-', e.g. 0.2.0")
    return value


Registry = Annotated[str, AfterValidator(_registry)]
"""A registry host with an optional namespace path, e.g. ghcr.io/my-org."""
ImageTag = Annotated[str, AfterValidator(_tag)]
"""A Docker tag (no `latest` check here: preflight refuses it)."""


class WorkloadImages(ConfigModel):
    """The images built from workloads/*/Dockerfile (docs/images.md: build, push, then set these)."""

    registry: Registry = DEFAULT_REGISTRY
    """Registry and namespace the images are pulled from: `<registry>/<name>:<tag>` for each of quantize,
    prefetch, ingest, benchmark and moderation."""
    tag: ImageTag = DEFAULT_TAG
    """The tag all of them carry (a release of this repository, or your own build's)."""

    def image(self, name: str) -> str:
        """The reference of one image built here, e.g. ghcr.io/leanrag/ingest:0.1.0."""
        return image_ref(self.registry, name, self.tag)
