"""Validate Kubernetes manifests: built-in kinds against the Kubernetes OpenAPI schemas (strict), custom
resources against the CRD schemas shipped in `schemas/crds/` (pinned, one JSON schema per group/version/kind:
KEDA's and KServe's generated from the CRD manifests of the exact pinned releases; see its README for each
file's source).

The built-in schemas are kubernetes-validate's (the library ships them per Kubernetes version). Its
`validate()` re-reads a kind's schema and the shared `_definitions.json` (about 2 MB) for every object; a
plan validates ~120 objects, so here each file is read once and one validator is built per kind and reused.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.33"
"""The oldest control plane the stacks run (EKS 1.33 / GKE REGULAR channel); schemas of this version."""
CRD_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "crds"


def _crd_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return CRD_SCHEMAS / f"{group or 'core'}_{version}_{kind.lower()}.json"


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    path = _crd_file(api_version, kind)
    return jsonschema.Draft202012Validator(json.loads(path.read_text())) if path.exists() else None


@cache
def _schema_dir() -> str:
    """kubernetes-validate's folder for KUBERNETES_VERSION: the newest shipped version not newer than it."""
    wanted = kv.major_minor(KUBERNETES_VERSION)
    version = [v for v in kv.all_versions() if kv.major_minor(v) <= wanted][-1]
    return f"kubernetes-json-schema/v{version}-local-strict"


@cache
def _definitions() -> Resource[Any]:
    return Resource.from_contents(kv.schema_contents(f"{_schema_dir()}/_definitions.json", KUBERNETES_VERSION))


@cache
def _builtin_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """The strict validator of a built-in kind (kubernetes-validate's file naming: rbac.authorization.k8s.io/v1
    -> rbac-v1); None when the library ships no schema for it."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{_schema_dir()}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = _definitions() @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _messages(validator: jsonschema.Draft202012Validator, manifest: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    ]


def validate(manifest: dict[str, Any]) -> list[str]:
    """Errors in `manifest` (empty when valid). Unknown kinds without a shipped schema are an error too."""
    api_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
    validator = _crd_validator(api_version, kind) or _builtin_validator(api_version, kind)
    if validator is None:
        return [f"no schema for {api_version}/{kind}: ship one as {_crd_file(api_version, kind).name} in {CRD_SCHEMAS}"]
    try:
        return _messages(validator, manifest)
    except referencing.exceptions.Unresolvable as e:
        return [f"(schema) unresolvable reference {e}"]
