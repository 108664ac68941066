"""KServe mode: KServe installed from its pinned release, and each model served as an LLMInferenceService
(serving.kserve.io/v1alpha2).

Why LLMInferenceService rather than an InferenceService with the vLLM runtime: it is KServe's resource for
generative models and runs vLLM behind llm-d's endpoint picker (its `router.scheduler` creates the
InferencePool and EPP of llm-d-router v0.10.0, the same the llm-d mode renders), with tensor parallelism, CPU
KV offload and prefill/decode as fields, and without Knative. InferenceService would route round-robin through
a Knative or raw Deployment and give up prefix-cache-aware routing.

Install order (every release waits for the previous): cert-manager (KServe's webhook certificates), the
LLMInferenceService CRDs, the controller and its webhooks, then the well-known LLMInferenceServiceConfigs
(templates the controller merges each service with; its webhook validates them). Every LLMInferenceService
waits for all four and for the Gateway its HTTPRoute attaches to.

The model's container is the same pinned vLLM with the same engine flags and API key as the other modes;
KServe's template runs `vllm serve /mnt/models` after its storage initializer has fetched `model.uri`, which is
the model's folder in the stack's model store (the prefetch or quantize Job's copy, or artifactUri), never the
Hugging Face Hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.serving import engine
from components.serving.clients import Clients
from components.serving.gateway import GATEWAY_NAME
from components.serving.pod import TIER, VllmPodSpec, gpu_resources, pod_security, vllm_env
from stacks.config.serving_modes import KServeConfig

CERT_MANAGER_NAMESPACE = "cert-manager"
API_VERSION = "serving.kserve.io/v1alpha2"
MAIN_CONTAINER = "main"
"""The container name KServe's LLMInferenceServiceConfig templates use for vLLM (merged by name)."""
_SET_BY_TEMPLATE = ("--served-model-name", "--tensor-parallel-size", "--shutdown-timeout")
"""Flags KServe's template sets itself (from spec.model.name, spec.parallelism, the grace period)."""
_CACHE_ENV = {
    "HOME",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "VLLM_CACHE_ROOT",
    "TRITON_CACHE_DIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "FLASHINFER_WORKSPACE_BASE",
    "NUMBA_CACHE_DIR",
}
"""Cache locations of the stack's own vLLM pod (its /cache volume); KServe's template mounts its own (/home)."""


CONTROLLER_UID = 10001
"""The uid/gid cert-manager's and KServe's controllers run as instead of their charts' 1000 (their images are
static binaries that run as any user): 10000 or more cannot clash with a node's own users (checkov CKV_K8S_40)."""
CERT_MANAGER_RESOURCES = {
    "": ("50m", "128Mi", "256Mi"),
    "webhook": ("20m", "64Mi", "128Mi"),
    "cainjector": ("50m", "128Mi", "512Mi"),
    "startupapicheck": ("10m", "32Mi", "64Mi"),
}
"""cert-manager's components (the controller at the top level of its values) -> (CPU request, memory request,
memory limit); the CPU limit is kube.CPU_LIMIT_FACTOR times the request. The chart sets none."""


def cert_manager_values() -> dict[str, Any]:
    """cert-manager's values: its CRDs, and for every component resources, the pull policy every container of the
    stack has (kube.IMAGE_PULL_POLICY) and a high uid (the chart's contexts are otherwise kept)."""
    values: dict[str, Any] = {"crds": {"enabled": True}}
    for component, (cpu, memory, memory_limit) in CERT_MANAGER_RESOURCES.items():
        settings = {
            "resources": kube.fixed_resources(cpu, memory, memory_limit),
            "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
            "securityContext": {"runAsUser": CONTROLLER_UID, "runAsGroup": CONTROLLER_UID},
        }
        if component:
            values[component] = settings
        else:
            values.update(settings)
    return values


def kserve_controller_values() -> dict[str, Any]:
    """KServe's LLMInferenceService controller as a high uid (the chart sets 1000 on its container)."""
    return {"kserve": {"llmisvc": {"controller": {"containerSecurityContext": {"runAsUser": CONTROLLER_UID}}}}}


def install_kserve(name: str, config: KServeConfig, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """cert-manager (unless the cluster has it), KServe's LLMInferenceService CRDs, controller and configs, in
    that order; returns what LLMInferenceServices wait for."""
    installed: list[pulumi.Resource] = []
    if config.install_cert_manager:
        installed.append(
            kube.helm_release(
                f"{name}-cert-manager", versions.CERT_MANAGER, CERT_MANAGER_NAMESPACE, cert_manager_values(), opts
            )
        )
    if not config.install:
        return installed
    steps = [
        ("kserve-crd", versions.KSERVE_LLMISVC_CRD, {}),
        ("kserve", versions.KSERVE_LLMISVC, kserve_controller_values()),
        ("kserve-configs", versions.KSERVE_RUNTIME_CONFIGS, {"kserve": {"llmisvcConfigs": {"enabled": True}}}),
    ]
    for suffix, chart, values in steps:
        after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(installed)))
        installed.append(kube.helm_release(f"{name}-{suffix}", chart, config.namespace, values, after))
    return installed


def model_uri(spec: VllmPodSpec) -> pulumi.Input[str]:
    """spec.model.uri, always in the stack's model store (KServe's storage initializer fills /mnt/models from it
    as the pod's ServiceAccount, the model-store identity): the quantize or prefetch Job's copy (its bucket prefix,
    known at deploy time, or its folder on the store's claim), or the artifact's s3://, gs:// or pvc:// URI. Never
    hf://<id>, a hub download at every start (preflight refuses a model that is neither in the store nor
    prefetched)."""
    source = spec.model.source
    if source.artifact is not None:
        return source.artifact.uri
    if source.kind in ("quantized", "prefetched"):
        if spec.quantized is None:
            raise ValueError(f"{source.hub_id} is copied by a Job of the stack: pass its model-store prefix")
        return spec.quantized
    raise ValueError(f"{source.hub_id} is not in the model store: set serving.prefetch.enabled: true or artifactUri")


def additional_args(spec: VllmPodSpec) -> str:
    """VLLM_ADDITIONAL_ARGS: the engine flags KServe's template does not set itself."""
    args = engine.engine_args(spec.model.config)
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in _SET_BY_TEMPLATE:
            skip = True
            continue
        out.append(arg)
    return " ".join(out)


def llm_inference_service_spec(spec: VllmPodSpec, namespace: str) -> dict[str, Any]:
    """The LLMInferenceService of one model: its weights, replicas and tensor parallelism, the pinned vLLM with
    the stack's engine flags and API key on the model's GPU pool, and llm-d's scheduler behind the stack's
    Gateway."""
    model = spec.model.config
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "image": versions.VLLM_IMAGE,
        "env": [
            *(e for e in vllm_env(spec) if e["name"] not in _CACHE_ENV),
            {"name": "VLLM_ADDITIONAL_ARGS", "value": additional_args(spec)},
        ],
        "resources": gpu_resources(spec),
    }
    template: dict[str, Any] = {
        "containers": [container],
        "nodeSelector": dict(spec.placement.node_selector),
        "tolerations": [dict(t) for t in spec.placement.tolerations],
        "securityContext": pod_security(),
    }
    if spec.service_account:
        template["serviceAccountName"] = spec.service_account
    return {
        "model": {"uri": model_uri(spec), "name": model.name},
        "replicas": model.min_replicas,
        "parallelism": {"tensor": model.tensor_parallel},
        "labels": {TIER: "gpu"},
        "template": template,
        "router": {
            "scheduler": {},
            "route": {},
            "gateway": {"refs": [{"name": GATEWAY_NAME, "namespace": namespace}]},
        },
    }


KSERVE_POD_LABELS = {"app.kubernetes.io/part-of": "llminferenceservice"}
"""What KServe labels the pods of every LLMInferenceService with (its vLLM workload and its scheduler)."""
KSERVE_PORTS = (8000, 9002, 9090)
"""vLLM (KServe's workload port), the scheduler's ext-proc and metrics ports (kserve-runtime-configs v0.20.0)."""


def kserve_pods_policy(
    name: str, namespace: str, clients: Clients, opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """Ingress to the pods KServe creates: the model servers' clients (the Gateway's proxies among them) on
    KServe's ports, and the pods of the services themselves on any port (the scheduler scrapes the workload's
    metrics; prefill and decode pods exchange KV caches)."""
    own = kube.Peer(namespace, KSERVE_POD_LABELS)
    return kube.network_policy(
        f"{name}-kserve-ingress",
        namespace,
        KSERVE_POD_LABELS,
        [kube.ingress_rule(clients.peers(), list(KSERVE_PORTS)), {"from": [own.rule()]}],
        opts,
        name="llminferenceservices",
    )


def kserve_base_url(gateway_address: str, namespace: str, model: str) -> str:
    """Where KServe's HTTPRoute serves a model: /<namespace>/<name>/v1/... on the Gateway."""
    return f"http://{gateway_address}/{namespace}/{model}/v1"


@dataclass
class KServeModelArgs:
    pod: VllmPodSpec
    namespace: str
    gateway_address: str
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """KServe's releases, the Gateway, the namespace and the Secrets the pods use."""


class KServeModel(pulumi.ComponentResource):
    """One LLMInferenceService. Outputs: `base_url` (through the Gateway)."""

    def __init__(self, name: str, args: KServeModelArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:KServeModel", name, None, opts)
        model = args.pod.model.name
        self.service = k8s.apiextensions.CustomResource(
            name,
            api_version=API_VERSION,
            kind="LLMInferenceService",
            metadata={
                "name": model,
                "namespace": args.namespace,
                "labels": kube.labels(model, kube.MODEL_SERVER, **{TIER: "gpu"}),
            },
            spec=llm_inference_service_spec(args.pod, args.namespace),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.base_url = kserve_base_url(args.gateway_address, args.namespace, model)
        self.register_outputs({"baseUrl": self.base_url})
