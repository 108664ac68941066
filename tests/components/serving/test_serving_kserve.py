"""KServe mode: KServe installed from its pinned release in order, models as LLMInferenceServices with the same
typed model config (weights, GPUs, engine flags, API key) behind the Gateway, validated against the CRD schema of
the pinned release."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components import versions
from components.cluster.base import Placement
from components.serving.engine import CACHE_DIR
from components.serving.gateway import GATEWAY_NAME
from components.serving.kserve import model_uri
from components.serving.pod import VllmPodSpec
from infra.validate import validate
from stacks.load import parse
from stacks.models import served_models
from tests.renderkit import (
    depends_on,
    helm_values,
    obj,
    objects_of,
    release,
    resource_named,
    run_stack,
    serving_objects,
    stack_values,
)

STACK = "kserve"
MODEL = "qwen-2-5-7b"
SHARED_CHARTS = Path(__file__).resolve().parents[4] / "shared" / "charts"


def test_kserve_is_installed_in_order_from_the_pinned_release():
    run = run_stack(STACK)
    order = [
        ("leanrag-kserve-cert-manager", versions.CERT_MANAGER),
        ("leanrag-kserve-kserve-crd", versions.KSERVE_LLMISVC_CRD),
        ("leanrag-kserve-kserve", versions.KSERVE_LLMISVC),
        ("leanrag-kserve-kserve-configs", versions.KSERVE_RUNTIME_CONFIGS),
    ]
    for i, (name, chart) in enumerate(order):
        r = release(run, name)
        assert r.inputs["version"] == chart.version
        assert {n for n, _ in order[:i]} <= depends_on(run, r), name
    # with its CRDs; resources, pull policy and uid: on the rendered chart (tests/infra/test_helm_releases.py)
    assert helm_values(run, "leanrag-kserve-cert-manager")["crds"] == {"enabled": True}
    assert helm_values(run, "leanrag-kserve-kserve-configs") == {"kserve": {"llmisvcConfigs": {"enabled": True}}}
    isvc = resource_named(run, "leanrag-kserve-qwen-2-5-7b", ":LLMInferenceService")
    assert {n for n, _ in order} | {"leanrag-kserve-gateway-gateway"} <= depends_on(run, isvc)


@pytest.mark.parametrize("chart", ["kserve-llmisvc-crd", "kserve-llmisvc-resources", "kserve-runtime-configs"])
def test_the_pinned_kserve_charts_are_the_shared_ones(chart):
    pinned = {c.name: c.version for c in vars(versions).values() if isinstance(c, versions.Chart)}
    assert pinned[chart] == versions.KSERVE_VERSION
    if SHARED_CHARTS.exists():
        assert (SHARED_CHARTS / chart / versions.KSERVE_VERSION / "Chart.yaml").exists()


def test_the_model_is_an_llm_inference_service_with_the_stacks_model_config():
    run = run_stack(STACK)
    spec = obj(run, "LLMInferenceService", MODEL)["spec"]
    assert spec["model"] == {"uri": "pvc://model-store/Qwen/Qwen2.5-7B-Instruct", "name": MODEL}
    assert spec["replicas"] == 1 and spec["parallelism"] == {"tensor": 2}
    [main] = spec["template"]["containers"]
    assert main["name"] == "main" and main["image"] == versions.VLLM_IMAGE
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "2"
    env = {e["name"]: e for e in main["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "serving-api-key"
    extra = env["VLLM_ADDITIONAL_ARGS"]["value"]
    assert "--max-model-len 16384" in extra and "--max-num-seqs 64" in extra
    assert "--served-model-name" not in extra and "--tensor-parallel-size" not in extra  # KServe's template sets them
    assert "HOME" not in env  # KServe's template mounts its own home
    # ... and not the stack's /cache volume: no variable may point there
    assert not [n for n, e in env.items() if str(e.get("value", "")).startswith(CACHE_DIR)]
    assert spec["template"]["nodeSelector"] == {"leanrag.dev/pool": "gpu"}
    assert spec["router"] == {
        "scheduler": {},
        "route": {},
        "gateway": {"refs": [{"name": GATEWAY_NAME, "namespace": "serving"}]},
    }
    assert MODEL not in {d["metadata"]["name"] for d in objects_of(run, "Deployment")}  # KServe creates it
    assert run.outputs["openaiBaseUrl"] == f"http://inference-gateway.serving.svc.cluster.local/serving/{MODEL}/v1"
    assert run.outputs["servingMode"] == "kserve" and run.outputs["servingRouter"] == "gateway/agentgateway"


def test_the_model_uri_is_the_model_stores_copy_never_the_hub():
    """A prefetched model (no artifactUri) on a bucket: KServe's storage initializer reads the prefetch Job's
    copy (its prefix is known at deploy time), not hf://<id>."""
    [model] = [m for m in served_models(parse(stack_values("dev"))) if m.runtime == "vllm"]
    assert (model.source.kind, model.source.artifact) == ("prefetched", None)
    copy_prefix = "s3://leanrag-dev-models/models/llama-3-1-8b/w4a16"
    spec = VllmPodSpec(model, Placement({"leanrag.dev/pool": "gpu-l4"}), 20, "serving-api-key", quantized=copy_prefix)
    assert model_uri(spec) == copy_prefix
    with pytest.raises(ValueError, match="model-store prefix"):
        model_uri(VllmPodSpec(model, spec.placement, 20, "serving-api-key"))


def test_every_serving_object_of_the_kserve_stack_validates_and_the_schema_is_strict():
    run = run_stack(STACK)
    errors = {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in serving_objects(run)}
    assert {k: v for k, v in errors.items() if v} == {}
    good = obj(run, "LLMInferenceService", MODEL)
    typo = copy.deepcopy(good)
    typo["spec"]["replica"] = 2
    assert validate(typo)
    negative = copy.deepcopy(good)
    negative["spec"]["parallelism"]["tensor"] = 0  # minimum 1 in the CRD
    assert validate(negative)
    no_uri = copy.deepcopy(good)
    del no_uri["spec"]["model"]["uri"]
    assert any("uri" in e for e in validate(no_uri))
