"""llm-d on every cloud: the one router choice (standalone router, or a Gateway with a named implementation the
stack installs and pins), the same outputs everywhere, and every custom resource created after its CRD."""

from __future__ import annotations

import copy

import pytest
import yaml

from components import versions
from components.serving.gateway import GATEWAY_NAME
from components.serving.router import DESTINATION_HEADER, ROUTER_PORT
from infra.mocks import ProgramRun, Registered
from infra.plan import plain
from infra.validate import validate
from policy import rules
from stacks.config.serving import ServingConfig
from stacks.load import validated
from stacks.serving_modes import router_choice
from tests.renderkit import (
    admits,
    container,
    depends_on,
    helm_values,
    obj,
    objects_of,
    pod_spec,
    release,
    resource_named,
    run_stack,
    run_variant,
    serving_objects,
    stack_values,
)

EKS, EXISTING = "eks-llmd", "kind-llmd"
CRD_INSTALLERS = {
    "Gateway": "gateway-api-crds",
    "HTTPRoute": "gateway-api-crds",
    "InferencePool": "inference-pool-crds",
    "LLMInferenceService": "kserve-crd",
    "ScaledObject": "keda",
}
"""Custom kinds -> the suffix of the resource that installs their CRD (or, for KEDA, its release)."""


def waits_for(run: ProgramRun, resource: Registered) -> set[str]:
    """Names of everything `resource` waits for, directly or through what it waits for."""
    by_urn = {r.urn: r for r in run.resources}
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        todo += by_urn[urn].dependencies
    return {by_urn[u].name for u in seen}


def custom_resources(run: ProgramRun) -> list[tuple[str, Registered]]:
    return [
        (r.inputs["kind"], r)
        for r in run.resources
        if r.type.startswith("kubernetes:") and r.inputs.get("kind") in CRD_INSTALLERS
    ]


@pytest.mark.parametrize("stack", [EKS, EXISTING, "kserve", "prod", "eks-pd"])
def test_every_custom_resource_is_created_after_the_resource_that_installs_its_crd(stack):
    run = run_stack(stack)
    found = custom_resources(run)
    assert found
    installers = {r.name for r in run.resources}
    for kind, resource in found:
        suffix = CRD_INSTALLERS[kind]
        if stack == "prod" and kind in ("Gateway", "HTTPRoute", "InferencePool"):
            continue  # GKE installs these CRDs itself (test_serving_llm_d: awaited through the node pools)
        installer = f"leanrag-{stack}-{suffix}"
        assert installer in installers, f"{stack}: nothing installs the CRD of {kind}"
        assert installer in waits_for(run, resource), f"{kind} {resource.name} is not created after {installer}"


def test_eks_renders_the_gateway_router_with_the_pinned_agentgateway():
    run = run_stack(EKS)
    crds = release(run, "leanrag-eks-llmd-agentgateway-crds")
    control = release(run, "leanrag-eks-llmd-agentgateway")
    assert (crds.inputs["chart"], crds.inputs["version"]) == (
        f"{versions.AGENTGATEWAY_CRDS.repo}/{versions.AGENTGATEWAY_CRDS.name}",
        versions.AGENTGATEWAY_CRDS.version,
    )
    assert control.inputs["version"] == versions.AGENTGATEWAY.version
    assert helm_values(run, "leanrag-eks-llmd-agentgateway") == {"inferenceExtension": {"enabled": True}}
    # CRDs before the controller, the Gateway API CRDs before both; the Gateway after the controller
    assert "leanrag-eks-llmd-agentgateway-crds" in depends_on(run, control)
    assert "leanrag-eks-llmd-gateway-api-crds" in depends_on(run, crds)
    gateway = resource_named(run, "leanrag-eks-llmd-gateway-gateway")
    assert {"leanrag-eks-llmd-agentgateway", "leanrag-eks-llmd-gateway-api-crds"} <= depends_on(run, gateway)
    assert obj(run, "Gateway", GATEWAY_NAME)["spec"]["gatewayClassName"] == "agentgateway"
    pool = obj(run, "InferencePool", "llama-3-1-8b")
    assert pool["spec"]["endpointPickerRef"]["name"] == "llama-3-1-8b-epp"
    assert obj(run, "Deployment", "llama-3-1-8b")["spec"]["template"]["metadata"]["labels"].items() >= (
        pool["spec"]["selector"]["matchLabels"].items()
    )
    assert run.outputs["openaiBaseUrl"] == "http://inference-gateway.serving.svc.cluster.local/llama-3-1-8b/v1"
    assert run.outputs["servingRouter"] == "gateway/agentgateway"


def test_the_gateway_proxy_pods_may_reach_the_model_servers():
    run = run_stack(EKS)
    policies = objects_of(run, "NetworkPolicy")
    server = obj(run, "Deployment", "llama-3-1-8b")["spec"]["template"]["metadata"]["labels"]
    proxy = {"gateway.networking.k8s.io/gateway-name": GATEWAY_NAME}
    assert admits(policies, ("serving", proxy), ("serving", server), 8000)
    assert not admits(policies, ("serving", {"app": "other"}), ("serving", server), 8000)


def test_existing_cluster_renders_the_standalone_router_without_any_gateway():
    run = run_stack(EXISTING)
    assert not objects_of(run, "Gateway") and not objects_of(run, "HTTPRoute")
    config_files = {r.name for r in run.of_type("kubernetes:yaml/v2:ConfigFile")}
    assert config_files == {"leanrag-kind-llmd-inference-pool-crds"}  # no Gateway API CRDs needed
    model = "qwen-2-5-7b"
    assert obj(run, "InferencePool", model)["spec"]["endpointPickerRef"]["name"] == f"{model}-epp"
    epp = obj(run, "Deployment", f"{model}-epp")
    names = [c["name"] for c in pod_spec(epp)["containers"]]
    assert names == ["envoy-proxy", "epp"]
    envoy = pod_spec(epp)["containers"][0]
    assert envoy["image"] == versions.ENVOY_IMAGE
    assert envoy["securityContext"]["readOnlyRootFilesystem"] is True
    ports = {p["name"]: p["port"] for p in obj(run, "Service", f"{model}-epp")["spec"]["ports"]}
    assert ports["http"] == ROUTER_PORT and ports["grpc-ext-proc"] == 9002
    assert run.outputs["openaiBaseUrls"][model] == f"http://{model}-epp.serving.svc.cluster.local:{ROUTER_PORT}/v1"
    assert run.outputs["servingRouter"] == "standalone"
    assert run.outputs["inferencePools"] == {model: model}


def test_standalone_envoy_asks_the_local_endpoint_picker_and_forwards_to_the_picked_pod():
    run = run_stack(EXISTING)
    config = yaml.safe_load(obj(run, "ConfigMap", "qwen-2-5-7b-epp-envoy")["data"]["envoy.yaml"])
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    ext_proc = clusters["ext_proc"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert ext_proc["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9002}
    assert clusters["original_destination_cluster"]["original_dst_lb_config"]["http_header_name"] == (
        DESTINATION_HEADER
    )
    [listener] = [x for x in config["static_resources"]["listeners"] if x["name"] == "vllm"]
    assert listener["address"]["socket_address"]["port_value"] == ROUTER_PORT
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert [f["name"] for f in hcm["http_filters"]] == ["envoy.filters.http.ext_proc", "envoy.filters.http.router"]
    assert hcm["http_filters"][0]["typed_config"]["processing_mode"]["request_body_mode"] == "FULL_DUPLEX_STREAMED"


def test_standalone_router_admits_the_app_and_not_other_namespaces():
    run = run_stack(EXISTING)
    policies = objects_of(run, "NetworkPolicy")
    router = pod_spec(obj(run, "Deployment", "qwen-2-5-7b-epp"))
    labels = obj(run, "Deployment", "qwen-2-5-7b-epp")["spec"]["template"]["metadata"]["labels"]
    assert router
    assert admits(policies, ("rag", {"any": "pod"}), ("serving", labels), ROUTER_PORT)
    assert not admits(policies, ("default", {"any": "pod"}), ("serving", labels), ROUTER_PORT)
    # the Envoy sidecar runs in the endpoint picker's pod, which the model servers admit
    server = obj(run, "Deployment", "qwen-2-5-7b")["spec"]["template"]["metadata"]["labels"]
    assert admits(policies, ("serving", labels), ("serving", server), 8000)


@pytest.mark.parametrize("stack", [EKS, EXISTING])
def test_llm_d_stacks_render_router_pool_and_model_servers_that_validate(stack):
    run = run_stack(stack)
    kinds = {o["kind"] for o in serving_objects(run)}
    assert {"InferencePool", "Deployment", "Service", "ConfigMap", "NetworkPolicy"} <= kinds
    errors = {f"{o['kind']}/{o['metadata']['name']}": validate(o) for o in serving_objects(run)}
    assert {k: v for k, v in errors.items() if v} == {}


@pytest.mark.parametrize("stack", ["dev", "prod", EKS, EXISTING, "kserve", "eks-pd", "local"])
def test_every_stack_has_the_same_serving_outputs(stack):
    outputs = run_stack(stack).outputs
    assert {"openaiBaseUrl", "openaiBaseUrls", "servedModels", "servingMode", "servingRouter", "inferencePools"} <= (
        set(outputs)
    )
    assert set(outputs["openaiBaseUrls"]) == set(outputs["servedModels"])
    assert outputs["servingMode"] in ("vllm", "llm-d", "kserve")


def test_the_router_defaults_to_gke_on_gcp_and_to_standalone_elsewhere():
    llm_d = ServingConfig(mode="llm-d")
    assert router_choice(llm_d, "gcp").class_name == "gke-l7-rilb"
    assert router_choice(llm_d, "aws").kind == "standalone"
    assert router_choice(llm_d, "existing").kind == "standalone"
    kserve = ServingConfig(mode="kserve")
    assert router_choice(kserve, "aws").implementation == "agentgateway"
    external = ServingConfig.model_validate(
        {"mode": "llm-d", "router": {"kind": "gateway", "implementation": "external"}, "inferenceGateway": {}}
    )
    assert router_choice(external, "aws").class_name is None
    vals = copy.deepcopy(stack_values(EKS))
    vals["serving"].pop("router")
    run = run_variant(vals)
    assert run.outputs["servingRouter"] == "standalone"
    assert container(obj(run, "Deployment", "llama-3-1-8b-epp"))["name"] == "envoy-proxy"


def test_an_installed_gateway_implementation_can_be_skipped():
    vals = copy.deepcopy(stack_values(EKS))
    vals["serving"]["router"]["install"] = False
    run = run_variant(vals)
    assert not [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if "agentgateway" in r.name]
    assert obj(run, "Gateway", GATEWAY_NAME)["spec"]["gatewayClassName"] == "agentgateway"


@pytest.mark.parametrize("stack", [EKS, EXISTING, "kserve", "eks-pd"])
def test_the_serving_mode_example_stacks_pass_the_policy_pack(stack):
    declared = [rules.Resource(r.type, r.name, plain(r.inputs)) for r in run_stack(stack).resources if r.custom]
    assert rules.check_all(declared, validated(stack_values(stack))) == []  # the budget: the stack's own
