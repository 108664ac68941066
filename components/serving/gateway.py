"""The gateway router of llm-d mode (and KServe mode's ingress): one Gateway for the stack, routed per model.

- `InferenceGateway`: the Gateway; on GKE also the body-based router (BBR), which copies the request's JSON
  `model` field into the X-Gateway-Model-Name header, put in front of route matching by a GCPRoutingExtension.
- `ModelRoute`, one per model: an InferencePool over the model's vLLM pods, its endpoint picker, and an
  HTTPRoute for the model; on GKE the pool's health check (/health, unauthenticated) and backend timeout. A
  Service backend (the CPU tier) gets a route and health check too.

Routing: on GKE by the model-name header (one base URL for every model). Elsewhere (agentgateway, or an external
implementation) by path: /<model>/v1/... is rewritten to /v1/... (core Gateway API, no implementation-specific
extension to run the BBR), so each model has its own base URL, http://<gateway>/<model>/v1.

Ordering: Gateway and HTTPRoutes wait for the Gateway API CRDs, InferencePools for the InferencePool CRD, the
endpoint picker for its pool, routes for their pools and the Gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions
from components.cluster.base import Placement
from components.serving.clients import Clients
from components.serving.crds import InferenceCrds
from components.serving.engine import HTTP_PORT
from components.serving.epp import EXT_PROC_PORT, METRICS_PORT, EndpointPicker, EndpointPickerArgs
from components.serving.pod import container_security, pod_security, selector_of
from stacks.config.serving import ScorerWeights
from stacks.config.serving_modes import DisaggregationConfig

GATEWAY_NAME = "inference-gateway"
MODEL_HEADER = "X-Gateway-Model-Name"
BBR_NAME = "body-based-router"
BBR_PORT, BBR_HEALTH_PORT = 9004, 9005
GKE_DEFAULT_CLASS = "gke-l7-rilb"
WAIT_PROGRAMMED = {"pulumi.com/waitFor": "condition=Programmed"}
"""Pulumi waits until the implementation has programmed the Gateway (its address is serving)."""


def is_gke_class(class_name: str) -> bool:
    return class_name.startswith("gke-")


def gateway_spec(class_name: str, address: str) -> dict[str, Any]:
    """One HTTP listener for routes of the same namespace. On GKE the internal load balancer takes the given
    IP, so the URL is known before it exists; other implementations expose the Gateway through a Service."""
    spec: dict[str, Any] = {
        "gatewayClassName": class_name,
        "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}
        ],
    }
    if is_gke_class(class_name):
        spec["addresses"] = [{"type": "IPAddress", "value": address}]
    return spec


def gateway_base_url(address: str) -> str:
    return f"http://{address}/v1"


def model_base_url(address: str, model: str, gke: bool) -> str:
    """A model's OpenAI-compatible URL through the Gateway: the shared one on GKE (header routing), else the
    model's path prefix."""
    return gateway_base_url(address) if gke else f"http://{address}/{model}/v1"


def route_spec(model: str, backend: dict[str, Any], gke: bool, timeout_s: int) -> dict[str, Any]:
    rule: dict[str, Any]
    if gke:  # GKE takes the timeout from the GCPBackendPolicy
        rule = {
            "matches": [
                {
                    "path": {"type": "PathPrefix", "value": "/"},
                    "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model}],
                }
            ],
            "backendRefs": [backend],
        }
    else:
        rule = {
            "matches": [{"path": {"type": "PathPrefix", "value": f"/{model}/v1"}}],
            "filters": [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v1"}},
                }
            ],
            "backendRefs": [backend],
            "timeouts": {"request": f"{timeout_s}s"},
        }
    return {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}],
        "rules": [rule],
    }


def pool_backend(pool: str) -> dict[str, Any]:
    return {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": pool}


def service_backend(service: str, port: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": service, "port": port}


def inference_pool_spec(model: str, epp_service: str) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": selector_of(model)},
        "targetPorts": [{"number": HTTP_PORT}],
        "appProtocol": "http",
        "endpointPickerRef": {
            "kind": "Service",
            "name": epp_service,
            "port": {"number": EXT_PROC_PORT},
            "failureMode": "FailOpen",
        },
    }


def inference_pool(
    parent: pulumi.Resource,
    name: str,
    model: str,
    metadata: dict[str, Any],
    crds: InferenceCrds,
    depends_on: list[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """A model's InferencePool (its endpoint picker is the Service `<model>-epp`), after the InferencePool CRD."""
    return k8s.apiextensions.CustomResource(
        f"{name}-pool",
        api_version="inference.networking.k8s.io/v1",
        kind="InferencePool",
        metadata=metadata,
        spec=inference_pool_spec(model, f"{model}-epp"),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*crds.inference_pool, *depends_on]),
    )


def health_check_policy_spec(target: dict[str, str], port: int, config_type: str = "HTTP") -> dict[str, Any]:
    check = (
        {"httpHealthCheck": {"requestPath": "/health", "port": port}}
        if config_type == "HTTP"
        else {"grpcHealthCheck": {"port": port, "portSpecification": "USE_FIXED_PORT"}}
    )
    return {
        "targetRef": target,
        "default": {"timeoutSec": 2, "checkIntervalSec": 5, "config": {"type": config_type, **check}},
    }


def backend_policy_spec(target: dict[str, str], timeout_s: int) -> dict[str, Any]:
    return {"targetRef": target, "default": {"timeoutSec": timeout_s, "logging": {"enabled": True}}}


def pool_target(pool: str) -> dict[str, str]:
    return {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": pool}


def bbr_args() -> list[str]:
    extractor = {"fieldName": "model", "headerName": MODEL_HEADER}
    return [
        "--streaming",
        "--v",
        "3",
        "--plugin",
        f"body-field-to-header:model-extractor:{json.dumps(extractor)}",
        "--tracing=false",
    ]


def bbr_pod_template(placement: Placement) -> dict[str, Any]:
    return {
        "metadata": {"labels": kube.labels(BBR_NAME, kube.BODY_ROUTER)},
        "spec": {
            "serviceAccountName": BBR_NAME,
            "containers": [
                kube.pulled_always(
                    {
                        "name": "bbr",
                        "image": versions.BBR_IMAGE,
                        "args": bbr_args(),
                        "ports": [
                            {"name": "grpc", "containerPort": BBR_PORT},
                            {"name": "grpc-health", "containerPort": BBR_HEALTH_PORT},
                        ],
                        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                        "resources": kube.fixed_resources("250m", "256Mi", "512Mi"),
                        "readinessProbe": kube.grpc_probe(BBR_HEALTH_PORT, 5),
                        "livenessProbe": kube.grpc_probe(BBR_HEALTH_PORT, 10),
                        "securityContext": container_security(read_only_root=True),
                    }
                )
            ],
            "nodeSelector": dict(placement.node_selector),
            "securityContext": pod_security(),
        },
    }


@dataclass
class InferenceGatewayArgs:
    namespace: str
    class_name: str
    address: str
    """Where in-cluster clients reach the Gateway (resolve.gateway_address)."""
    placement: Placement
    """Where the body-based router runs (the system pool)."""
    crds: InferenceCrds
    clients: Clients
    """Who calls the Gateway (its proxy pods, when in the cluster) and who the Gateway is (the body-based
    router's callers)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class InferenceGateway(pulumi.ComponentResource):
    """Outputs: `gateway`, `base_url` (the OpenAI-compatible URL of the Gateway, in-cluster)."""

    def __init__(self, name: str, args: InferenceGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:InferenceGateway", name, None, opts)
        ns, gke = args.namespace, is_gke_class(args.class_name)
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata={
                "name": GATEWAY_NAME,
                "namespace": ns,
                "labels": kube.labels(GATEWAY_NAME, "gateway"),
                "annotations": WAIT_PROGRAMMED,
            },
            spec=gateway_spec(args.class_name, args.address),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.crds.gateway_api, *args.depends_on]),
        )
        if not gke:  # an in-cluster implementation: its proxy pods, in this namespace, take the clients' requests
            kube.network_policy(
                f"{name}-gateway-ingress",
                ns,
                dict(args.clients.gateway_pods or {}),
                # every port: the proxy's container port for the listener is the implementation's choice
                [{"from": [p.rule() for p in args.clients.gateway_callers()]}],
                pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
                name=GATEWAY_NAME,
                labels=kube.labels(GATEWAY_NAME, "gateway"),
            )
        self.bbr: k8s.apps.v1.Deployment | None = None
        if gke:  # the BBR runs in front of GKE's route matching only
            meta = {"name": BBR_NAME, "namespace": ns, "labels": kube.labels(BBR_NAME, kube.BODY_ROUTER)}
            child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
            account = k8s.core.v1.ServiceAccount(f"{name}-bbr-sa", metadata=meta, opts=child)
            role = k8s.rbac.v1.Role(
                f"{name}-bbr-role",
                metadata=meta,
                rules=[{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
                opts=child,
            )
            binding = k8s.rbac.v1.RoleBinding(
                f"{name}-bbr-binding",
                metadata=meta,
                subjects=[{"kind": "ServiceAccount", "name": BBR_NAME, "namespace": ns}],
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": BBR_NAME},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]),
            )
            self.bbr = k8s.apps.v1.Deployment(
                f"{name}-bbr",
                metadata=meta,
                spec={
                    "replicas": 1,
                    "selector": {"matchLabels": kube.selector(BBR_NAME, kube.BODY_ROUTER)},
                    "template": bbr_pod_template(args.placement),
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, binding]),
            )
            kube.network_policy(
                f"{name}-bbr-ingress",
                ns,
                kube.selector(BBR_NAME, kube.BODY_ROUTER),
                [kube.ingress_rule(args.clients.gateway_peers(), [BBR_PORT, BBR_HEALTH_PORT])],
                child,
                name=BBR_NAME,
                labels=kube.labels(BBR_NAME, kube.BODY_ROUTER),
            )
            bbr_service = k8s.core.v1.Service(
                f"{name}-bbr-svc",
                metadata=meta,
                spec={
                    "type": "ClusterIP",
                    "selector": kube.selector(BBR_NAME, kube.BODY_ROUTER),
                    "ports": [
                        {
                            "name": "grpc",
                            "port": BBR_PORT,
                            "targetPort": BBR_PORT,
                            "protocol": "TCP",
                            "appProtocol": "HTTP2",
                        }
                    ],
                },
                opts=child,
            )
            service_ref = {"group": "", "kind": "Service", "name": BBR_NAME}
            after = pulumi.ResourceOptions(parent=self, depends_on=[self.gateway, bbr_service])
            k8s.apiextensions.CustomResource(
                f"{name}-bbr-extension",
                api_version="networking.gke.io/v1",
                kind="GCPRoutingExtension",
                metadata=meta,
                spec={
                    "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}],
                    "extensionChains": [
                        {
                            "name": "model-name",
                            "extensions": [
                                {
                                    "name": "body-based-router",
                                    "authority": "bbr.internal",
                                    "timeout": "1s",
                                    "supportedEvents": ["RequestHeaders", "RequestBody", "RequestTrailers"],
                                    "requestBodySendMode": "FullDuplexStreamed",
                                    "backendRef": {**service_ref, "port": BBR_PORT},
                                }
                            ],
                        }
                    ],
                },
                opts=after,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-bbr-health",
                api_version="networking.gke.io/v1",
                kind="HealthCheckPolicy",
                metadata=meta,
                spec=health_check_policy_spec(service_ref, BBR_HEALTH_PORT, "GRPC"),
                opts=after,
            )
        self.base_url = gateway_base_url(args.address)
        self.register_outputs({"gateway": GATEWAY_NAME, "baseUrl": self.base_url})


@dataclass
class ModelRouteArgs:
    model: str
    namespace: str
    gateway: InferenceGateway
    class_name: str
    crds: InferenceCrds
    request_timeout_s: int
    placement: Placement
    """Where the endpoint picker runs (the system pool)."""
    weights: ScorerWeights | None = None
    """A GPU model gets an InferencePool and an endpoint picker with these scorer weights; None routes to the
    Service (the CPU tier)."""
    epp_replicas: int = 1
    service_port: int = HTTP_PORT
    disaggregation: DisaggregationConfig | None = None
    """A disaggregated model: the endpoint picker's prefill and decode profiles."""
    clients: Clients | None = None
    """With an endpoint picker: its callers (the Gateway's proxies on the ext-proc port, Prometheus on metrics)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ModelRoute(pulumi.ComponentResource):
    """Outputs: `route` (the HTTPRoute name), `pool` (the InferencePool name, None for a Service backend)."""

    def __init__(self, name: str, args: ModelRouteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:ModelRoute", name, None, opts)
        ns, gke, model = args.namespace, is_gke_class(args.class_name), args.model
        meta = {"name": model, "namespace": ns, "labels": kube.labels(model, "route")}
        after_route: list[pulumi.Resource] = []
        self.pool: k8s.apiextensions.CustomResource | None = None
        self.endpoint_picker: EndpointPicker | None = None
        if args.weights is not None:
            self.pool = inference_pool(self, name, model, meta, args.crds, args.depends_on)
            self.endpoint_picker = EndpointPicker(
                f"{name}-epp",
                EndpointPickerArgs(
                    pool=model,
                    namespace=ns,
                    weights=args.weights,
                    replicas=args.epp_replicas,
                    placement=args.placement,
                    depends_on=[self.pool, *args.depends_on],
                    disaggregation=args.disaggregation,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.clients is None:
                raise ValueError(f"model {model}: an endpoint picker needs its clients (its NetworkPolicy)")
            epp = f"{model}-epp"
            kube.network_policy(
                f"{name}-epp-ingress",
                ns,
                kube.selector(epp, kube.ENDPOINT_PICKER),
                [
                    kube.ingress_rule(args.clients.gateway_peers(), [EXT_PROC_PORT]),
                    kube.ingress_rule([kube.Peer(args.clients.prometheus_namespace)], [METRICS_PORT]),
                ],
                pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
                name=epp,
                labels=kube.labels(epp, kube.ENDPOINT_PICKER),
            )
            backend, target = pool_backend(model), pool_target(model)
            after_route = [self.pool]
        else:
            backend = service_backend(model, args.service_port)
            target = {"group": "", "kind": "Service", "name": model}
        self.route = k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=meta,
            spec=route_spec(model, backend, gke, args.request_timeout_s),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *args.crds.gateway_api,
                    *args.crds.inference_pool,
                    args.gateway.gateway,
                    *after_route,
                    *args.depends_on,
                ],
            ),
        )
        if gke:
            after_pool = pulumi.ResourceOptions(parent=self, depends_on=[*after_route, *args.depends_on])
            k8s.apiextensions.CustomResource(
                f"{name}-health",
                api_version="networking.gke.io/v1",
                kind="HealthCheckPolicy",
                metadata=meta,
                spec=health_check_policy_spec(target, args.service_port),
                opts=after_pool,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-backend",
                api_version="networking.gke.io/v1",
                kind="GCPBackendPolicy",
                metadata=meta,
                spec=backend_policy_spec(target, args.request_timeout_s),
                opts=after_pool,
            )
        self.route_name = model
        self.register_outputs({"route": model, "pool": model if self.pool else None})
