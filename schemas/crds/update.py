"""Regenerate the CRD JSON schemas that infra/validate.py checks custom resources against.

    python schemas/crds/update.py            # needs npm and the npm registry; rewrites the files below
    LEANRAG_CHARTS=/path/to/charts python schemas/crds/update.py --charts-only

Sources, all pinned here:
- CHARTS: the published CRD manifests inside the Helm charts of the exact releases the program pins
  (components/versions.py), read from the charts directory (LEANRAG_CHARTS, default ../shared/charts beside the
  repository): KEDA's ScaledObject, KServe's LLMInferenceService.
- REGISTRY: the JSON schema literals that `@kubernetes-models/*` npm packages ship (versions of the packages
  whose modules still embed the schema as data; later releases ship compiled validators only). ObjectMeta
  comes from the Kubernetes 1.33 strict schemas bundled in the `kubernetes-validate` PyPI package.
- STRUCTURAL: kinds no package registry ships a schema for (the InferencePool of the Gateway API inference
  extension; GKE's networking.gke.io policies). These schemas are written here, field by field, from the
  APIs' published references, and cover the fields this project renders; see README.md.

Every generated schema is strict, as the API server's strict field validation is: an object with declared
properties rejects unknown ones.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "1.33.0"
CHARTS_DIR = Path(os.environ.get("LEANRAG_CHARTS", HERE.parent.parent.parent / "shared" / "charts"))
"""The published chart sources (shared/charts/<chart>/<version>/, see its README)."""

CHARTS: list[tuple[str, str, str, str]] = [
    # (chart, version = the pin in components/versions.py, CRD manifest in the chart, apiVersion/kind)
    ("keda", "2.20.2", "templates/crds/crd-scaledobjects.yaml", "keda.sh/v1alpha1/ScaledObject"),
    (
        "kserve-llmisvc-crd",
        "v0.20.0",
        "templates/serving.kserve.io_llminferenceservices.yaml",
        "serving.kserve.io/v1alpha2/LLMInferenceService",
    ),
    (  # the kserve-llmisvc-resources chart renders one (tests/infra/test_helm_releases.py validates it)
        "kserve-llmisvc-crd",
        "v0.20.0",
        "files/serving.kserve.io_clusterstoragecontainers.yaml",
        "serving.kserve.io/v1alpha1/ClusterStorageContainer",
    ),
    ("cert-manager", "v1.21.1", "templates/crd-cert-manager.io_issuers.yaml", "cert-manager.io/v1/Issuer"),
    ("cert-manager", "v1.21.1", "templates/crd-cert-manager.io_certificates.yaml", "cert-manager.io/v1/Certificate"),
    (  # the kserve-runtime-configs chart renders these (tests/infra/test_helm_releases.py validates them)
        "kserve-llmisvc-crd",
        "v0.20.0",
        "templates/serving.kserve.io_llminferenceserviceconfigs.yaml",
        "serving.kserve.io/v1alpha2/LLMInferenceServiceConfig",
    ),
]

REGISTRY: list[tuple[str, str, str, str]] = [
    # (npm package, version, module path in the package, apiVersion/kind)
    (
        "@kubernetes-models/gateway-api",
        "0.5.1",
        "gateway.networking.k8s.io/v1/Gateway.js",
        "gateway.networking.k8s.io/v1/Gateway",
    ),
    (
        "@kubernetes-models/gateway-api",
        "0.5.1",
        "gateway.networking.k8s.io/v1/HTTPRoute.js",
        "gateway.networking.k8s.io/v1/HTTPRoute",
    ),
    (
        "@kubernetes-models/prometheus-operator",
        "4.0.0",
        "monitoring.coreos.com/v1/ServiceMonitor.js",
        "monitoring.coreos.com/v1/ServiceMonitor",
    ),
    (
        "@kubernetes-models/prometheus-operator",
        "4.0.0",
        "monitoring.coreos.com/v1/PodMonitor.js",
        "monitoring.coreos.com/v1/PodMonitor",
    ),
]
OBJECT_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta#"
_SCHEMA_LITERAL = re.compile(r"^const schema = (\{.*?^\});$", re.S | re.M)


def file_name(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group or 'core'}_{version}_{kind.lower()}.json"


# --- Kubernetes ObjectMeta, from kubernetes-validate's bundled schemas --------------------------------------
def object_meta() -> dict[str, Any]:
    """ObjectMeta with the definitions it references, as one self-contained schema."""
    import kubernetes_validate

    bundled = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    root = bundled / f"v{KUBERNETES_VERSION}-local-strict"
    defs = json.loads((root / "_definitions.json").read_text())["$defs"]
    meta = json.loads((root / "objectmeta-meta-v1.json").read_text())
    needed: dict[str, Any] = {}

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and "#/$defs/" in ref:
                name = ref.split("#/$defs/")[1]
                if name not in needed:
                    needed[name] = {}
                    needed[name] = inline(copy.deepcopy(defs[name]))
                node = {**node, "$ref": f"#/$defs/{name}"}
            return {k: inline(v) if k != "$ref" else v for k, v in node.items() if k != "description"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    body = inline(meta)
    body.pop("$schema", None)
    # Without its own $id: inlined, ObjectMeta's `#/$defs/...` references (creationTimestamp's Time, managedFields,
    # ownerReferences) must resolve against the CRD schema that holds these definitions, not against ObjectMeta.
    body.pop("$id", None)
    return {"schema": body, "defs": needed}


# --- OpenAPI (CRD) schema -> strict JSON Schema ------------------------------------------------------------
_COMBINATORS = ("oneOf", "anyOf", "allOf")


def strict(node: Any, branch: bool = False) -> Any:
    """nullable -> null allowed; objects with properties reject unknown fields (unless they preserve them). A
    branch of oneOf/anyOf/allOf (`branch`) is a constraint on its object, not the object: it stays open (closed,
    a branch naming only `type` would forbid `value` beside it, as in the Gateway's addresses)."""
    if isinstance(node, list):
        return [strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: [strict(b, branch=True) for b in v] if k in _COMBINATORS and isinstance(v, list) else strict(v)
        for k, v in node.items()
        if k not in ("nullable", "description")
    }
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and "additionalProperties" not in out and not preserve and not branch:
        out["additionalProperties"] = False
    return out


def from_npm_module(source: str, api_version: str, kind: str, meta: dict[str, Any], provenance: str) -> dict[str, Any]:
    match = _SCHEMA_LITERAL.search(source)
    if match is None:
        raise SystemExit(f"{provenance}: no embedded schema literal (a compiled-validator release?)")
    schema = strict(json.loads(match.group(1)))
    props = schema["properties"]
    props["metadata"] = {"$ref": "#/$defs/ObjectMeta"}
    if props["apiVersion"].get("enum") != [api_version] or props["kind"].get("enum") != [kind]:
        raise SystemExit(f"{provenance}: schema is not {api_version}/{kind}")
    if OBJECT_META_REF in json.dumps(schema):
        raise SystemExit(f"{provenance}: ObjectMeta referenced below the top level")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": provenance,
        **schema,
        "$defs": {"ObjectMeta": meta["schema"], **meta["defs"]},
    }


def crd_manifest(text: str) -> dict[str, Any]:
    """A CRD from a chart template: the whole-line template directives (the conditional around the file, the
    templated labels and annotations of its metadata) are dropped; the schema itself carries none."""
    import yaml

    lines = text.splitlines()
    spec_at = next(i for i, line in enumerate(lines) if line.startswith("spec:"))
    if any("{{" in line and not _directive(line) for line in lines[spec_at:]):
        raise SystemExit("templated values inside the CRD's spec: extend crd_manifest")
    kept = [line for line in lines if "{{" not in line]
    crd: dict[str, Any] = yaml.safe_load("\n".join(kept))
    if crd.get("kind") != "CustomResourceDefinition":
        raise SystemExit("not a CustomResourceDefinition")
    return crd


def _directive(line: str) -> bool:
    """A line that is only a template directive ({{- if ... }}, {{- end }})."""
    stripped = line.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def from_crd(crd: dict[str, Any], api_version: str, kind: str, meta: dict[str, Any], provenance: str) -> dict[str, Any]:
    """The strict JSON schema of one served version of a CRD, as the API server validates it (structural
    schema, unknown fields rejected, nullable honoured; CEL rules are not evaluated)."""
    group, _, version = api_version.rpartition("/")
    if crd["spec"]["group"] != group or crd["spec"]["names"]["kind"] != kind:
        raise SystemExit(f"{provenance}: not the CRD of {api_version}/{kind}")
    served = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served", True)]
    if not served:
        raise SystemExit(f"{provenance}: version {version} is not served")
    schema = strict(_drop_cel(served[0]["schema"]["openAPIV3Schema"]))
    props = schema["properties"]
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props["metadata"] = {"$ref": "#/$defs/ObjectMeta"}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
    schema["additionalProperties"] = False
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": provenance,
        **schema,
        "$defs": {"ObjectMeta": meta["schema"], **meta["defs"]},
    }


def _drop_cel(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_cel(v) for v in node]
    if not isinstance(node, dict):
        return node
    return {k: _drop_cel(v) for k, v in node.items() if k != "x-kubernetes-validations"}


def write_chart_schemas(meta: dict[str, Any]) -> None:
    for chart, version, manifest, gvk in CHARTS:
        api_version, _, kind = gvk.rpartition("/")
        path = CHARTS_DIR / chart / version / manifest
        if not path.exists():
            raise SystemExit(f"{path} not found: set LEANRAG_CHARTS to the charts directory (shared/charts)")
        provenance = f"chart {chart} {version} {manifest}"
        write(
            file_name(api_version, kind), from_crd(crd_manifest(path.read_text()), api_version, kind, meta, provenance)
        )


def npm_pack(package: str, version: str, into: Path) -> Path:
    out = (
        subprocess.run(
            ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", str(into)],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    folder = into / out.removesuffix(".tgz")
    with tarfile.open(into / out) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package"


# --- structural schemas: no registry ships these CRDs -------------------------------------------------------
def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    return out


_STR = {"type": "string"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 253}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_TARGET_REF = _obj(["kind", "name"], group=_STR, kind=_NAME, name=_NAME, namespace=_STR)


def _resource(
    api_version: str, kind: str, spec: dict[str, Any], meta: dict[str, Any], reference: str
) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"structural schema written for this project from {reference}; no package registry ships "
        "this CRD (see README.md)",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": {"$ref": "#/$defs/ObjectMeta"},
            "spec": spec,
            "status": {"type": "object"},
        },
        "$defs": {"ObjectMeta": meta["schema"], **meta["defs"]},
    }


def structural(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pool_spec = _obj(
        ["selector", "targetPorts", "endpointPickerRef"],
        selector=_obj(["matchLabels"], matchLabels={**_LABELS, "minProperties": 1, "maxProperties": 64}),
        targetPorts={"type": "array", "minItems": 1, "maxItems": 8, "items": _obj(["number"], number=_PORT)},
        appProtocol={"enum": ["http", "kubernetes.io/h2c"]},
        endpointPickerRef=_obj(
            ["name", "port"],
            group=_STR,
            kind={"type": "string", "minLength": 1},
            name=_NAME,
            port=_obj(["number"], number=_PORT),
            failureMode={"enum": ["FailOpen", "FailClose"]},
        ),
    )
    http_check = _obj(
        None,
        requestPath={"type": "string", "pattern": "^/"},
        port=_PORT,
        host=_STR,
        portSpecification={"enum": ["USE_FIXED_PORT", "USE_NAMED_PORT", "USE_SERVING_PORT"]},
    )
    grpc_check = _obj(
        None,
        port=_PORT,
        grpcServiceName=_STR,
        portSpecification={"enum": ["USE_FIXED_PORT", "USE_NAMED_PORT", "USE_SERVING_PORT"]},
    )
    health_spec = _obj(
        ["default", "targetRef"],
        targetRef=_TARGET_REF,
        default=_obj(
            ["config"],
            timeoutSec={"type": "integer", "minimum": 1, "maximum": 300},
            checkIntervalSec={"type": "integer", "minimum": 1, "maximum": 300},
            healthyThreshold={"type": "integer", "minimum": 1, "maximum": 10},
            unhealthyThreshold={"type": "integer", "minimum": 1, "maximum": 10},
            logConfig=_obj(None, enabled={"type": "boolean"}),
            config=_obj(
                ["type"],
                type={"enum": ["TCP", "HTTP", "HTTPS", "HTTP2", "GRPC"]},
                httpHealthCheck=http_check,
                http2HealthCheck=http_check,
                httpsHealthCheck=http_check,
                grpcHealthCheck=grpc_check,
            ),
        ),
    )
    backend_spec = _obj(
        ["default", "targetRef"],
        targetRef=_TARGET_REF,
        default=_obj(
            None,
            timeoutSec={"type": "integer", "minimum": 1, "maximum": 86400},
            logging=_obj(
                None, enabled={"type": "boolean"}, sampleRate={"type": "integer", "minimum": 0, "maximum": 1000000}
            ),
        ),
    )
    extension = _obj(
        ["name", "backendRef"],
        name=_NAME,
        authority=_STR,
        timeout={"type": "string", "pattern": r"^[0-9]+(ms|s)$"},
        supportedEvents={
            "type": "array",
            "items": {
                "enum": [
                    "RequestHeaders",
                    "RequestBody",
                    "RequestTrailers",
                    "ResponseHeaders",
                    "ResponseBody",
                    "ResponseTrailers",
                ]
            },
        },
        requestBodySendMode={"enum": ["Streamed", "FullDuplexStreamed"]},
        backendRef=_obj(["name", "port"], group=_STR, kind=_STR, name=_NAME, port=_PORT),
    )
    routing_spec = _obj(
        ["targetRefs", "extensionChains"],
        targetRefs={"type": "array", "minItems": 1, "items": _TARGET_REF},
        extensionChains={
            "type": "array",
            "minItems": 1,
            "items": _obj(
                ["name", "extensions"],
                name=_NAME,
                matchCondition=_obj(None, celExpressions={"type": "array"}),
                extensions={"type": "array", "minItems": 1, "items": extension},
            ),
        },
    )
    gie = "the InferencePool v1 API (sigs.k8s.io/gateway-api-inference-extension v1.5.0, api/v1)"
    gke = "the GKE Gateway API reference (networking.gke.io/v1)"
    return {
        file_name("inference.networking.k8s.io/v1", "InferencePool"): _resource(
            "inference.networking.k8s.io/v1", "InferencePool", pool_spec, meta, gie
        ),
        file_name("networking.gke.io/v1", "HealthCheckPolicy"): _resource(
            "networking.gke.io/v1", "HealthCheckPolicy", health_spec, meta, gke
        ),
        file_name("networking.gke.io/v1", "GCPBackendPolicy"): _resource(
            "networking.gke.io/v1", "GCPBackendPolicy", backend_spec, meta, gke
        ),
        file_name("networking.gke.io/v1", "GCPRoutingExtension"): _resource(
            "networking.gke.io/v1", "GCPRoutingExtension", routing_spec, meta, gke
        ),
    }


def write(name: str, schema: dict[str, Any]) -> None:
    (HERE / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {name}")


def main(argv: list[str]) -> int:
    meta = object_meta()
    for name, schema in structural(meta).items():
        write(name, schema)
    if "--structural-only" in argv:
        return 0
    write_chart_schemas(meta)
    if "--charts-only" in argv:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        packages: dict[tuple[str, str], Path] = {}
        for package, version, module, gvk in REGISTRY:
            if (package, version) not in packages:
                packages[package, version] = npm_pack(package, version, Path(tmp))
            api_version, _, kind = gvk.rpartition("/")
            provenance = f"npm {package}@{version} {module}"
            source = (packages[package, version] / module).read_text()
            write(file_name(api_version, kind), from_npm_module(source, api_version, kind, meta, provenance))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
