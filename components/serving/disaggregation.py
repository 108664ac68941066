"""A model served with prefill/decode disaggregation (llm-d mode): a prefill Deployment and a decode Deployment
of the same vLLM, the KV cache moved between them by NIXL (vLLM's NixlConnector).

Shapes follow llm-d-router v0.10.0 (deploy/components/vllm-prefill, vllm-decode and the p-d environment):
- both roles' pods carry the model's selector labels (the InferencePool selects both) and `llm-d.ai/role`
  (the endpoint picker's prefill-filter and decode-filter select by it);
- decode pods run llm-d's disaggregation sidecar (a native sidecar) on the model port: when the endpoint picker
  chose a prefill pod (x-prefiller-host-port) it sends the prompt there first, then lets the local vLLM (moved to
  DECODE_VLLM_PORT) read the KV blocks over NIXL and decode;
- the NetworkPolicy admits the model's own pods on every port (NIXL's side channel, UCX's ephemeral TCP ports); the
  transport (UCX over TCP, UCX over RDMA, or libfabric over EFA) follows `disaggregation.transport`, and the
  RDMA/EFA devices are requested as the device plugin's extended resources.

The pod templates are the vLLM pod of `pod.vllm_pod_template`, adjusted here by pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.serving.clients import Clients
from components.serving.engine import HTTP_PORT
from components.serving.pod import TIER, VllmPodSpec, container_security, selector_of, vllm_pod_template
from components.serving.vllm_server import service_spec
from stacks.config.serving_modes import DisaggregationConfig
from stacks.serving_modes import ROLES, Role

ROLE_LABEL = "llm-d.ai/role"
DECODE_VLLM_PORT = 8200
"""vLLM's port in a decode pod, behind the sidecar that takes the model port."""
NIXL_PORT = 5600
"""vLLM's NIXL side channel (VLLM_NIXL_SIDE_CHANNEL_PORT): prefill and decode pods exchange KV metadata."""
EFA_RESOURCE = "vpc.amazonaws.com/efa"

UCX_TLS = {"tcp": "tcp,cuda_copy", "rdma": "rc,sm,cuda_ipc,cuda_copy,tcp"}
"""UCX transports NIXL may use: TCP only, or RDMA (InfiniBand/RoCE) with TCP as the fallback."""


def kv_transfer_config(disaggregation: DisaggregationConfig) -> dict[str, Any]:
    """--kv-transfer-config of both roles: NIXL, each side both producer and consumer (kv_both, as llm-d's
    guides run it); over EFA NIXL uses its libfabric backend instead of UCX."""
    config: dict[str, Any] = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    if disaggregation.transport == "efa":
        config["kv_connector_extra_config"] = {"backends": ["LIBFABRIC"]}
    return config


def network_resource(disaggregation: DisaggregationConfig) -> tuple[str, str] | None:
    """The extended resource (name, count) a pod requests for the KV transfer network, if any."""
    if disaggregation.transport == "efa":
        return EFA_RESOURCE, "1"
    if disaggregation.transport == "rdma" and disaggregation.rdma_resource:
        return disaggregation.rdma_resource, "1"
    return None


def role_selector(model: str, role: Role) -> dict[str, str]:
    return {**selector_of(model), ROLE_LABEL: role}


def _vllm_container(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")


def sidecar_container() -> dict[str, Any]:
    """llm-d's disaggregation sidecar as a native sidecar (an init container that keeps running)."""
    return kube.pulled_always(
        {
            "name": "routing-sidecar",
            "image": versions.LLM_D_DISAGG_SIDECAR_IMAGE,
            "restartPolicy": "Always",
            "args": [
                f"--port={HTTP_PORT}",
                f"--model-server-port={DECODE_VLLM_PORT}",
                "--kv-connector=nixlv2",
                "--secure-proxy=false",
            ],
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "resources": kube.fixed_resources("250m", "256Mi", "1Gi"),
            "securityContext": container_security(read_only_root=True),
        }
    )


def _copy_tree(value: Any) -> Any:
    """A copy of the dicts and lists of a pod template; other values are shared (immutable strings and numbers,
    and Pulumi Outputs such as the model store's prefix, which cannot be deep-copied)."""
    if isinstance(value, Mapping):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


def role_pod_template(base: Mapping[str, Any], role: Role, disaggregation: DisaggregationConfig) -> dict[str, Any]:
    """The vLLM pod of one role: role label, NIXL flags and side channel, the transport's environment and
    device, and on decode pods the sidecar in front of vLLM."""
    pod = _copy_tree(base)
    pod["metadata"]["labels"][ROLE_LABEL] = role
    spec = pod["spec"]
    vllm = _vllm_container(pod)
    vllm["args"] = [*vllm["args"], "--kv-transfer-config", json.dumps(kv_transfer_config(disaggregation))]
    env = [
        {"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": str(NIXL_PORT)},
    ]
    if disaggregation.transport in UCX_TLS:
        env.append({"name": "UCX_TLS", "value": UCX_TLS[disaggregation.transport]})
    vllm["env"] = [*vllm["env"], *env]
    vllm["ports"] = [*vllm["ports"], {"name": "nixl", "containerPort": NIXL_PORT, "protocol": "TCP"}]
    device = network_resource(disaggregation)
    if device is not None:
        name, count = device
        vllm["resources"]["requests"][name] = count
        vllm["resources"]["limits"][name] = count
    if role == "decode":
        args = vllm["args"]
        args[args.index("--port") + 1] = str(DECODE_VLLM_PORT)
        vllm["ports"] = [
            {**p, "name": "vllm", "containerPort": DECODE_VLLM_PORT} if p["name"] == "http" else p
            for p in vllm["ports"]
        ]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            vllm[probe]["httpGet"]["port"] = "vllm"
        spec["initContainers"] = [*spec.get("initContainers", []), sidecar_container()]
    return pod


@dataclass
class DisaggregatedServerArgs:
    roles: Mapping[Role, VllmPodSpec]
    """The resolved pod settings of the prefill and decode servers (stacks.serving_modes.role_models)."""
    disaggregation: DisaggregationConfig
    namespace: str
    clients: Clients
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class DisaggregatedServer(pulumi.ComponentResource):
    """Outputs: `service_name`, `base_url` (the decode pods' Service: they take whole requests too)."""

    service_name: str
    base_url: str

    def __init__(self, name: str, args: DisaggregatedServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:DisaggregatedServer", name, None, opts)
        ns = args.namespace
        model = args.roles["decode"].model.name
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.deployments: dict[Role, k8s.apps.v1.Deployment] = {}
        for role in ROLES:
            spec = args.roles[role]
            config = spec.model.config
            labels = {**kube.labels(model, kube.MODEL_SERVER, **{TIER: "gpu"}), ROLE_LABEL: role}
            self.deployments[role] = k8s.apps.v1.Deployment(
                f"{name}-{role}",
                metadata={"name": f"{model}-{role}", "namespace": ns, "labels": labels},
                spec={
                    "replicas": config.min_replicas,
                    "selector": {"matchLabels": role_selector(model, role)},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "revisionHistoryLimit": 3,
                    "template": role_pod_template(vllm_pod_template(spec), role, args.disaggregation),
                },
                opts=child,
            )
            if config.max_replicas > 1:
                kube.pod_disruption_budget(
                    f"{name}-{role}-pdb",
                    f"{model}-{role}",
                    ns,
                    role_selector(model, role),
                    child,
                    labels=labels,
                    max_unavailable=1,
                    unhealthy_pod_eviction_policy="AlwaysAllow",
                )
        meta_labels = kube.labels(model, kube.MODEL_SERVER, **{TIER: "gpu"})
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": model, "namespace": ns, "labels": meta_labels},
            spec=service_spec(role_selector(model, "decode")),
            opts=child,
        )
        self.network_policy = kube.network_policy(
            f"{name}-ingress",
            ns,
            selector_of(model),
            [
                args.clients.ingress_rule(HTTP_PORT),
                # decode sidecars send prompts to prefill pods; both sides exchange KV metadata over NIXL's side
                # channel and KV blocks over UCX, whose TCP transport listens on ephemeral ports: every port
                kube.ingress_rule([kube.Peer(ns, selector_of(model))], []),
            ],
            child,
            name=model,
            labels=meta_labels,
        )
        self.service_name = model
        self.base_url = kube.service_url(model, ns, HTTP_PORT, "/v1")
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
