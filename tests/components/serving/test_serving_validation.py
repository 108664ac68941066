"""Every object the serving layer renders validates: built-in kinds against Kubernetes 1.33 (strict), custom
resources against the shipped CRD schemas (schemas/crds). Kinds that no registry ships a schema for are
checked for their required structure here as well, and every schema rejects broken objects."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from components import versions
from infra.validate import CRD_SCHEMAS, validate
from tests.renderkit import dev, local, obj, prod, run_variant, serving_objects, stack_values

STACKS = {"dev": dev, "prod": prod, "local": local}
CUSTOM = {
    "Gateway",
    "HTTPRoute",
    "InferencePool",
    "ScaledObject",
    "HealthCheckPolicy",
    "GCPBackendPolicy",
    "GCPRoutingExtension",
}


def _variants():
    tp = stack_values("prod")
    tp["serving"]["inferenceGateway"] = {"installCrds": True, "eppReplicas": 2}
    tp["serving"]["cpuTier"] = {"enabled": True}
    tp["monitoring"] = {
        "prometheus": {
            "provider": "operator",
            "url": "http://prometheus-operated.monitoring.svc:9090",
            "podMonitorLabels": {"release": "kps"},
        }
    }
    existing = copy.deepcopy(stack_values("local"))
    existing["cluster"]["gpuPools"] = [{"name": "gpu", "instanceType": "n", "gpu": "L4", "gpuCount": 2, "maxNodes": 2}]
    existing["serving"] = {
        "mode": "llm-d",
        "router": {"kind": "gateway", "implementation": "external"},
        "inferenceGateway": {"className": "istio"},
        "autoscaling": {"enabled": True},
        "models": [
            {
                "name": "qwen",
                "id": "Qwen/Qwen2.5-7B-Instruct",
                "pool": "gpu",
                "precision": "w4a16",
                "tensorParallel": 2,
                "minReplicas": 0,
                "maxReplicas": 2,
                "artifactUri": "pvc://models/qwen",
            }
        ],
    }
    return {"prod-crds-cpu": (tp, {"hfToken": "hf_x"}), "existing-istio": (existing, None)}


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_serving_object_of_the_stack_validates(stack):
    objects = serving_objects(STACKS[stack]())
    assert objects
    errors = {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


@pytest.mark.parametrize("variant", list(_variants()))
def test_every_serving_object_of_the_variations_validates(variant):
    vals, secrets = _variants()[variant]
    objects = serving_objects(run_variant(vals, secrets))
    errors = {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


def test_prod_renders_every_custom_kind_the_layer_uses():
    kinds = {o["kind"] for o in serving_objects(prod())}
    assert CUSTOM - {"InferencePool"} <= kinds and "InferencePool" in kinds


@pytest.mark.parametrize(
    "kind,name",
    [
        ("InferencePool", "llama-3-1-8b"),
        ("HTTPRoute", "llama-3-1-8b"),
        ("Gateway", "inference-gateway"),
        ("ScaledObject", "llama-3-1-8b"),
        ("HealthCheckPolicy", "llama-3-1-8b"),
        ("GCPBackendPolicy", "llama-3-1-8b"),
    ],
)
def test_schemas_reject_unknown_fields_and_missing_required_structure(kind, name):
    good = obj(prod(), kind, name)
    assert validate(good) == []
    typo = copy.deepcopy(good)
    typo["spec"]["unknownField"] = 1
    assert validate(typo), f"{kind} accepted an unknown spec field"
    empty = copy.deepcopy(good)
    del empty["spec"]
    assert validate(empty), f"{kind} accepted a missing spec"


def test_inference_pool_requires_its_selector_ports_and_picker():
    pool = obj(prod(), "InferencePool", "llama-3-1-8b")
    for key in ("selector", "targetPorts", "endpointPickerRef"):
        broken = copy.deepcopy(pool)
        del broken["spec"][key]
        assert any(key in e for e in validate(broken)), key
    broken = copy.deepcopy(pool)
    broken["spec"]["targetPorts"] = [{"number": 70000}]
    assert validate(broken)
    broken = copy.deepcopy(pool)
    broken["spec"]["endpointPickerRef"]["failureMode"] = "Open"
    assert validate(broken)


def test_scaled_object_schema_checks_trigger_types():
    so = obj(prod(), "ScaledObject", "llama-3-1-8b")
    broken = copy.deepcopy(so)
    broken["spec"]["triggers"][0]["metadata"]["threshold"] = 4  # metadata values are strings
    assert validate(broken)


def _update_module():
    spec = importlib.util.spec_from_file_location("crd_update", CRD_SCHEMAS / "update.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_shipped_schemas_match_their_pinned_sources():
    update = _update_module()
    readme = (CRD_SCHEMAS / "README.md").read_text()
    meta = update.object_meta()
    for name, schema in update.structural(meta).items():  # regenerated offline: must equal the committed file
        assert json.loads((CRD_SCHEMAS / name).read_text()) == json.loads(json.dumps(schema)), name
        assert name in readme
    for package, version, module, gvk in update.REGISTRY:
        api_version, _, kind = gvk.rpartition("/")
        name = update.file_name(api_version, kind)
        shipped = json.loads((CRD_SCHEMAS / name).read_text())
        assert shipped["$comment"] == f"npm {package}@{version} {module}"
        assert f"{package}@{version}" in readme and name in readme
        assert shipped["properties"]["kind"]["enum"] == [kind]


def test_chart_schemas_are_generated_from_the_pinned_charts_crd_manifests():
    update = _update_module()
    readme = (CRD_SCHEMAS / "README.md").read_text()
    pins = {
        "keda": versions.KEDA.version,
        "kserve-llmisvc-crd": versions.KSERVE_LLMISVC_CRD.version,
        "cert-manager": versions.CERT_MANAGER.version,
    }
    for chart, version, manifest, gvk in update.CHARTS:
        assert pins[chart] == version, f"{chart}: schema of {version}, program pins {pins[chart]}"
        api_version, _, kind = gvk.rpartition("/")
        name = update.file_name(api_version, kind)
        shipped = json.loads((CRD_SCHEMAS / name).read_text())
        assert shipped["$comment"] == f"chart {chart} {version} {manifest}"
        assert f"{chart} {version}" in readme and name in readme
    if not update.CHARTS_DIR.exists():
        pytest.skip(f"charts directory {update.CHARTS_DIR} absent: set LEANRAG_CHARTS to regenerate and compare")
    meta = update.object_meta()
    for chart, version, manifest, gvk in update.CHARTS:
        api_version, _, kind = gvk.rpartition("/")
        crd = update.crd_manifest((update.CHARTS_DIR / chart / version / manifest).read_text())
        generated = update.from_crd(crd, api_version, kind, meta, f"chart {chart} {version} {manifest}")
        shipped = json.loads((CRD_SCHEMAS / update.file_name(api_version, kind)).read_text())
        assert shipped == json.loads(json.dumps(generated)), f"{chart}: regenerate with schemas/crds/update.py"


def test_registry_schemas_are_strict_and_accept_null_where_the_crd_is_nullable():
    update = _update_module()
    out = update.strict({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}})
    assert out == {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}},
        "additionalProperties": False,
    }
    preserved = update.strict({"type": "object", "properties": {}, "x-kubernetes-preserve-unknown-fields": True})
    assert "additionalProperties" not in preserved
    # a oneOf branch constrains its object and stays open; the object itself and what the branch nests are strict
    rule = {
        "type": "object",
        "properties": {"type": {"type": "string"}, "value": {"type": "string"}},
        "oneOf": [
            {"properties": {"type": {"enum": ["IPAddress"]}, "value": {"format": "ipv4"}}},
            {"properties": {"type": {"not": {"enum": ["IPAddress"]}}, "x": {"type": "object", "properties": {}}}},
        ],
    }
    out = update.strict(rule)
    assert out["additionalProperties"] is False
    assert ["additionalProperties" in b for b in out["oneOf"]] == [False, False]
    assert out["oneOf"][1]["properties"]["x"]["additionalProperties"] is False


def test_every_schema_file_is_named_as_validate_looks_it_up():
    for path in Path(CRD_SCHEMAS).glob("*.json"):
        schema = json.loads(path.read_text())
        kind = schema["properties"]["kind"].get("const") or schema["properties"]["kind"]["enum"][0]
        version = schema["properties"]["apiVersion"].get("const") or schema["properties"]["apiVersion"]["enum"][0]
        group, _, ver = version.rpartition("/")
        assert path.name == f"{group}_{ver}_{kind.lower()}.json"


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_in_every_schema_file_resolves_in_that_file():
    """The inlined ObjectMeta used to keep its own $id, so its `#/$defs/...` references (creationTimestamp,
    ownerReferences, managedFields) pointed into ObjectMeta itself and failed as soon as an object used them."""
    for path in Path(CRD_SCHEMAS).glob("*.json"):
        schema = json.loads(path.read_text())
        nested_ids = list(_ids({k: v for k, v in schema.items() if k != "$id"}))
        assert nested_ids == [], f"{path.name}: a nested $id changes what its `#/` references point to"
        for ref in _refs(schema):
            assert ref.startswith("#/"), f"{path.name}: {ref}"
            target = schema
            for part in ref[2:].split("/"):
                assert isinstance(target, dict) and part in target, f"{path.name}: {ref} points nowhere"
                target = target[part]


def _ids(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$id":
                yield value
            else:
                yield from _ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ids(value)


@pytest.mark.parametrize("kind", ["HTTPRoute", "InferencePool", "ScaledObject"])
def test_custom_resources_accept_the_metadata_charts_render(kind):
    """Charts often render `creationTimestamp: null`; owner references and timestamps validate like the API
    server's, and a malformed owner reference is still refused."""
    manifest = copy.deepcopy(next(o for o in serving_objects(prod()) if o["kind"] == kind))
    manifest["metadata"]["creationTimestamp"] = None
    assert validate(manifest) == []
    manifest["metadata"]["creationTimestamp"] = "2026-12-01T00:00:00Z"
    manifest["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u1"}]
    assert validate(manifest) == []
    manifest["metadata"]["ownerReferences"][0]["size"] = 3
    assert validate(manifest) == [
        "metadata.ownerReferences.0: Additional properties are not allowed ('size' was unexpected)"
    ]
