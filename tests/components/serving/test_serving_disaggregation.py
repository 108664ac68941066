"""Prefill/decode disaggregation and CPU KV offload: what the model servers and the endpoint picker render."""

from __future__ import annotations

import copy
import json

import yaml

from components import versions
from components.serving.disaggregation import DECODE_VLLM_PORT, EFA_RESOURCE, NIXL_PORT, ROLE_LABEL
from components.serving.engine import flag_value
from infra.validate import validate
from tests.renderkit import (
    admits,
    container,
    obj,
    objects_of,
    pod_spec,
    run_stack,
    run_variant,
    serving_objects,
    stack_values,
)

STACK = "eks-pd"
MODEL = "llama-3-1-8b"


def _kv_config(deployment):
    return json.loads(flag_value(container(deployment)["args"], "--kv-transfer-config"))


def test_prefill_and_decode_run_as_their_own_deployments_under_one_inference_pool():
    run = run_stack(STACK)
    assert MODEL not in {d["metadata"]["name"] for d in objects_of(run, "Deployment")}
    prefill, decode = obj(run, "Deployment", f"{MODEL}-prefill"), obj(run, "Deployment", f"{MODEL}-decode")
    pool = obj(run, "InferencePool", MODEL)["spec"]["selector"]["matchLabels"]
    for role, d in (("prefill", prefill), ("decode", decode)):
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert labels[ROLE_LABEL] == role and labels.items() >= pool.items()
        assert d["spec"]["replicas"] == 1
        assert container(d)["resources"]["limits"]["nvidia.com/gpu"] == "2"
        assert _kv_config(d) == {
            "kv_connector": "NixlConnector",
            "kv_role": "kv_both",
            "kv_connector_extra_config": {"backends": ["LIBFABRIC"]},
        }
        assert container(d)["resources"]["limits"][EFA_RESOURCE] == "1"
        env = {e["name"]: e for e in container(d)["env"]}
        assert env["VLLM_NIXL_SIDE_CHANNEL_PORT"]["value"] == str(NIXL_PORT)
    # the Service (and whole requests) go to decode pods
    assert obj(run, "Service", MODEL)["spec"]["selector"][ROLE_LABEL] == "decode"


def test_decode_pods_run_the_sidecar_in_front_of_vllm():
    decode = obj(run_stack(STACK), "Deployment", f"{MODEL}-decode")
    [sidecar] = pod_spec(decode)["initContainers"]
    assert sidecar["image"] == versions.LLM_D_DISAGG_SIDECAR_IMAGE and sidecar["restartPolicy"] == "Always"
    assert "--port=8000" in sidecar["args"] and f"--model-server-port={DECODE_VLLM_PORT}" in sidecar["args"]
    assert "--kv-connector=nixlv2" in sidecar["args"]
    vllm = container(decode)
    assert flag_value(vllm["args"], "--port") == str(DECODE_VLLM_PORT)
    assert vllm["startupProbe"]["httpGet"]["port"] == "vllm"
    assert {"name": "vllm", "containerPort": DECODE_VLLM_PORT, "protocol": "TCP"} in vllm["ports"]
    prefill = obj(run_stack(STACK), "Deployment", f"{MODEL}-prefill")
    assert "initContainers" not in pod_spec(prefill) and flag_value(container(prefill)["args"], "--port") == "8000"


def test_the_endpoint_picker_schedules_prefill_and_decode_profiles():
    run = run_stack(STACK)
    config = yaml.safe_load(obj(run, "ConfigMap", f"{MODEL}-epp")["data"]["plugins.yaml"])
    assert [p["name"] for p in config["schedulingProfiles"]] == ["prefill", "decode"]
    types = {p["type"]: p.get("parameters") for p in config["plugins"]}
    assert types["prefix-based-pd-decider"] == {"nonCachedTokens": 16}
    assert types["disagg-profile-handler"] == {"deciders": {"prefill": "prefix-based-pd-decider"}}
    assert {"prefill-filter", "decode-filter", "max-score-picker"} <= set(types)
    assert "&id" not in obj(run, "ConfigMap", f"{MODEL}-epp")["data"]["plugins.yaml"]


def test_the_roles_reach_each_other_and_strangers_do_not():
    run = run_stack(STACK)
    policies = objects_of(run, "NetworkPolicy")
    labels = {
        role: obj(run, "Deployment", f"{MODEL}-{role}")["spec"]["template"]["metadata"]["labels"]
        for role in ("prefill", "decode")
    }
    assert admits(policies, ("serving", labels["decode"]), ("serving", labels["prefill"]), 8000)
    assert admits(policies, ("serving", labels["prefill"]), ("serving", labels["decode"]), NIXL_PORT)
    assert admits(policies, ("serving", labels["decode"]), ("serving", labels["prefill"]), 41234)  # UCX over TCP
    assert not admits(policies, ("rag", {"any": "pod"}), ("serving", labels["prefill"]), NIXL_PORT)


def test_tcp_transport_uses_ucx_over_tcp_and_no_device():
    vals = copy.deepcopy(stack_values(STACK))
    vals["serving"]["models"][0]["disaggregation"]["transport"] = "tcp"
    run = run_variant(vals)
    prefill = obj(run, "Deployment", f"{MODEL}-prefill")
    env = {e["name"]: e.get("value") for e in container(prefill)["env"]}
    assert env["UCX_TLS"] == "tcp,cuda_copy"
    assert EFA_RESOURCE not in container(prefill)["resources"]["limits"]
    assert _kv_config(prefill) == {"kv_connector": "NixlConnector", "kv_role": "kv_both"}


def test_every_serving_object_of_the_disaggregated_stack_validates():
    errors = {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in serving_objects(run_stack(STACK))}
    assert {k: v for k, v in errors.items() if v} == {}


def test_cpu_kv_offload_sets_vllms_native_offloading_flags():
    args = container(obj(run_stack("eks-llmd"), "Deployment", "llama-3-1-8b"))["args"]
    assert flag_value(args, "--kv-offloading-size") == "12"
    assert flag_value(args, "--kv-offloading-backend") == "native"
    assert "--kv-offloading-size" not in container(obj(run_stack("dev"), "Deployment", "llama-3-1-8b"))["args"]
