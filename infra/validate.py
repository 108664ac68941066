"""Validate Kubernetes manifests: built-in kinds against the Kubernetes OpenAPI schemas (strict), custom
resources against the CRD schemas shipped in `schemas/crds/` (pinned, one JSON schema per group/version/kind:
KEDA's and KServe's generated from the CRD manifests of the exact pinned releases; see its README for each
file's source).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

KUBERNETES_VERSION = "1.33"
"""The oldest control plane the stacks run (EKS 1.33 / GKE REGULAR channel); schemas of this version."""
CRD_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "crds"


def _crd_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return CRD_SCHEMAS / f"{group or 'core'}_{version}_{kind.lower()}.json"


@cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    path = _crd_file(api_version, kind)
    return json.loads(path.read_text()) if path.exists() else None


def validate(manifest: dict[str, Any]) -> list[str]:
    """Errors in `manifest` (empty when valid). Unknown kinds without a shipped schema are an error too."""
    api_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
    crd = _crd_schema(api_version, kind)
    if crd is not None:
        validator = jsonschema.Draft202012Validator(crd)
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
        ]
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {api_version}/{kind}: ship one as {_crd_file(api_version, kind).name} in {CRD_SCHEMAS}"]
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path) or "(root)"
        return [f"{path}: {e.message}"]
    return []
