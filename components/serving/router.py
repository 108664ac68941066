"""llm-d's router, the one typed choice of llm-d mode (stacks.serving_modes.router_choice):

- `StandaloneRouter`, per model, the shape of the llm-d-router-standalone chart v0.10.0: an InferencePool over
  the model's vLLM pods, and the endpoint picker with an Envoy sidecar in the same pod. Envoy listens on
  ROUTER_PORT, asks the EPP (ext-proc over localhost, TLS) which pod serves the request and forwards it there
  (original-destination cluster on the x-gateway-destination-endpoint header). No Gateway API implementation
  and no Gateway API CRDs: clients call the router's ClusterIP Service.
- `install_agentgateway`: the Gateway implementation the gateway router installs outside GKE, from its pinned
  Helm charts (CRDs, then the control plane with its inference extension on), after the Gateway API CRDs.

The objects are rendered as typed Kubernetes objects rather than a Helm release: the llm-d-router charts are
published only to an OCI registry that no test environment here reaches, so a release could not be rendered
offline; typed objects are schema-validated and ordered by explicit dependencies (CRD before use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import kube, versions
from components.cluster.base import Placement
from components.serving.clients import Clients
from components.serving.crds import InferenceCrds
from components.serving.epp import EXT_PROC_PORT, METRICS_PORT, EndpointPicker, EndpointPickerArgs
from components.serving.gateway import inference_pool
from components.serving.pod import container_security
from stacks.config.serving import ScorerWeights
from stacks.config.serving_modes import DisaggregationConfig

ROUTER_PORT = 8081
"""The standalone router's HTTP listener (the chart's `http` Service port)."""
ENVOY_READY_PORT = 19001
ENVOY_ADMIN_PORT = 19000
DESTINATION_HEADER = "x-gateway-destination-endpoint"
"""Where the EPP writes the picked pod (<ip>:<port>) for the proxy."""
AGENTGATEWAY_NAMESPACE = "agentgateway-system"

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_STDOUT_LOG = {
    "name": "envoy.access_loggers.file",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        "path": "/dev/stdout",
    },
}


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "0.0.0.0", "port_value": port}}


def _ready_listener() -> dict[str, Any]:
    """/ready for the readiness probe, /stats/prometheus from the admin interface (localhost only)."""
    return {
        "name": "envoy-ready",
        "address": _address(ENVOY_READY_PORT),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": _HCM,
                            "stat_prefix": "envoy-ready-http",
                            "route_config": {
                                "name": "local_route",
                                "virtual_hosts": [
                                    {
                                        "name": "prometheus_stats",
                                        "domains": ["*"],
                                        "routes": [
                                            {
                                                "match": {"prefix": "/stats/prometheus"},
                                                "route": {"cluster": "prometheus_stats"},
                                            }
                                        ],
                                    }
                                ],
                            },
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.health_check",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3"
                                        ".HealthCheck",
                                        "pass_through_mode": False,
                                        "headers": [{"name": ":path", "string_match": {"exact": "/ready"}}],
                                    },
                                },
                                {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}},
                            ],
                        },
                    }
                ]
            }
        ],
    }


def _vllm_listener(request_timeout_s: int, fail_open: bool) -> dict[str, Any]:
    """Every request goes through the EPP (full-duplex streamed bodies: the EPP reads the prompt), then to the
    pod it picked."""
    return {
        "name": "vllm",
        "address": _address(ROUTER_PORT),
        "per_connection_buffer_limit_bytes": 32768,
        "filter_chains": [
            {
                "name": "vllm",
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": _HCM,
                            "stat_prefix": f"http-{ROUTER_PORT}",
                            "route_config": {
                                "name": "vllm",
                                "virtual_hosts": [
                                    {
                                        "name": "vllm-default",
                                        "domains": ["*"],
                                        "routes": [
                                            {
                                                "match": {"prefix": "/"},
                                                "route": {
                                                    "cluster": "original_destination_cluster",
                                                    "timeout": f"{request_timeout_s}s",
                                                    "idle_timeout": f"{request_timeout_s}s",
                                                },
                                            }
                                        ],
                                    }
                                ],
                            },
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.ext_proc",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3"
                                        ".ExternalProcessor",
                                        "failure_mode_allow": fail_open,
                                        "grpc_service": {
                                            "envoy_grpc": {
                                                "cluster_name": "ext_proc",
                                                "authority": f"localhost:{EXT_PROC_PORT}",
                                            },
                                            "timeout": "10s",
                                        },
                                        "processing_mode": {
                                            "request_header_mode": "SEND",
                                            "response_header_mode": "SEND",
                                            "request_body_mode": "FULL_DUPLEX_STREAMED",
                                            "response_body_mode": "FULL_DUPLEX_STREAMED",
                                            "request_trailer_mode": "SEND",
                                            "response_trailer_mode": "SEND",
                                        },
                                        "message_timeout": "1000s",
                                    },
                                },
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {"@type": _ROUTER, "suppress_envoy_headers": True},
                                },
                            ],
                            "http2_protocol_options": {
                                "max_concurrent_streams": 100,
                                "initial_stream_window_size": 65536,
                                "initial_connection_window_size": 1048576,
                            },
                            "use_remote_address": True,
                            "normalize_path": True,
                            "merge_slashes": True,
                            "common_http_protocol_options": {"headers_with_underscores_action": "REJECT_REQUEST"},
                            "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
                            "access_log": [_STDOUT_LOG],
                        },
                    }
                ],
            }
        ],
    }


def _clusters() -> list[dict[str, Any]]:
    http2 = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {
                "http2_protocol_options": {
                    "initial_stream_window_size": 65536,
                    "initial_connection_window_size": 1048576,
                }
            },
        }
    }
    limits = {"max_connections": 40000, "max_pending_requests": 40000, "max_requests": 40000}
    return [
        {
            "name": "prometheus_stats",
            "type": "STATIC",
            "connect_timeout": "0.250s",
            "load_assignment": {
                "cluster_name": "prometheus_stats",
                "endpoints": [
                    {
                        "lb_endpoints": [
                            {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 19000}}}}
                        ]
                    }
                ],
            },
        },
        {
            "name": "original_destination_cluster",
            "type": "ORIGINAL_DST",
            "connect_timeout": "1000s",
            "lb_policy": "CLUSTER_PROVIDED",
            "circuit_breakers": {"thresholds": [limits]},
            "original_dst_lb_config": {"use_http_header": True, "http_header_name": DESTINATION_HEADER},
        },
        {
            "name": "ext_proc",
            "type": "STATIC",
            "connect_timeout": "86400s",
            "lb_policy": "LEAST_REQUEST",
            "circuit_breakers": {"thresholds": [{**limits, "max_retries": 1024}]},
            "health_checks": [
                {
                    "timeout": "2s",
                    "interval": "10s",
                    "unhealthy_threshold": 3,
                    "healthy_threshold": 2,
                    "reuse_connection": True,
                    "grpc_health_check": {"service_name": "envoy.service.ext_proc.v3.ExternalProcessor"},
                    "tls_options": {"alpn_protocols": ["h2"]},
                }
            ],
            # the EPP serves ext-proc over TLS with a self-signed certificate (its default), as the chart expects
            "transport_socket": {
                "name": "envoy.transport_sockets.tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "common_tls_context": {"validation_context": {}},
                },
            },
            "typed_extension_protocol_options": http2,
            "load_assignment": {
                "cluster_name": "ext_proc",
                "endpoints": [
                    {
                        "lb_endpoints": [
                            {
                                "endpoint": {
                                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": EXT_PROC_PORT}}
                                }
                            }
                        ]
                    }
                ],
            },
        },
    ]


def envoy_config(request_timeout_s: int, fail_open: bool = True) -> dict[str, Any]:
    """The Envoy bootstrap of the standalone router (the chart's envoy preset, IPv4 listeners, no debug
    logging): the admin interface on localhost, a readiness listener and the router's listener."""
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": ENVOY_ADMIN_PORT}},
            "access_log": [
                {
                    "name": "envoy.access_loggers.file",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                        "path": "/dev/null",
                    },
                }
            ],
        },
        "static_resources": {
            "listeners": [_ready_listener(), _vllm_listener(request_timeout_s, fail_open)],
            "clusters": _clusters(),
        },
    }


def envoy_container(config_map: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(container, volume) of the Envoy sidecar. Requests are smaller than the chart's (4 CPUs, 8 GiB): the proxy
    only relays OpenAI requests of one model, and the stack's system pool has 4-8 vCPU nodes."""
    container = {
        "name": "envoy-proxy",
        "image": versions.ENVOY_IMAGE,
        "command": ["envoy"],
        "args": [
            "--service-node",
            "envoy-proxy",
            "--log-level",
            "warn",
            "--cpuset-threads",
            "--drain-strategy",
            "immediate",
            "--drain-time-s",
            "60",
            "-c",
            "/etc/envoy/envoy.yaml",
        ],
        "ports": [
            {"name": "http", "containerPort": ROUTER_PORT, "protocol": "TCP"},
            {"name": "envoy-metrics", "containerPort": ENVOY_READY_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": ENVOY_READY_PORT, "scheme": "HTTP"},
            "periodSeconds": 5,
            "failureThreshold": 1,
            "timeoutSeconds": 1,
        },
        # alive while it listens: /ready also turns 503 while draining, which must not restart the proxy
        "livenessProbe": {"tcpSocket": {"port": ENVOY_READY_PORT}, "periodSeconds": 10, "failureThreshold": 3},
        "resources": kube.fixed_resources("500m", "512Mi", "1Gi"),
        "volumeMounts": [{"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": True}],
        "securityContext": container_security(read_only_root=True),
    }
    volume = {
        "name": "envoy-config",
        "configMap": {"name": config_map, "items": [{"key": "envoy.yaml", "path": "envoy.yaml"}]},
    }
    return container, volume


def standalone_base_url(model: str, namespace: str) -> str:
    """The OpenAI-compatible URL of a model's standalone router (its EPP Service's HTTP port)."""
    return kube.service_url(f"{model}-epp", namespace, ROUTER_PORT, "/v1")


@dataclass
class StandaloneRouterArgs:
    model: str
    namespace: str
    weights: ScorerWeights
    placement: Placement
    """The system pool."""
    clients: Clients
    """Who may call the router (NetworkPolicy)."""
    crds: InferenceCrds
    request_timeout_s: int
    epp_replicas: int = 1
    disaggregation: DisaggregationConfig | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class StandaloneRouter(pulumi.ComponentResource):
    """Outputs: `pool` (the InferencePool), `base_url` (in-cluster OpenAI-compatible URL)."""

    def __init__(self, name: str, args: StandaloneRouterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:StandaloneRouter", name, None, opts)
        model, ns = args.model, args.namespace
        epp = f"{model}-epp"
        meta = {"name": model, "namespace": ns, "labels": kube.labels(model, "router")}
        self.pool = inference_pool(self, name, model, meta, args.crds, args.depends_on)
        envoy_cm = f"{epp}-envoy"
        config = k8s.core.v1.ConfigMap(
            f"{name}-envoy",
            metadata={"name": envoy_cm, "namespace": ns, "labels": kube.labels(epp, kube.ENDPOINT_PICKER)},
            data={"envoy.yaml": yaml.safe_dump(envoy_config(args.request_timeout_s), sort_keys=False)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        container, volume = envoy_container(envoy_cm)
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
                sidecars=[container],
                volumes=[volume],
                extra_ports=[
                    {"name": "http", "port": ROUTER_PORT, "targetPort": ROUTER_PORT, "protocol": "TCP"},
                ],
                extra_config=[config],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        selector = kube.selector(epp, kube.ENDPOINT_PICKER)
        kube.network_policy(
            f"{name}-ingress",
            ns,
            selector,
            [
                args.clients.ingress_rule(ROUTER_PORT),
                kube.ingress_rule([kube.Peer(args.clients.prometheus_namespace)], [METRICS_PORT, ENVOY_READY_PORT]),
                # the ext-proc port the InferencePool names: only the pod's own Envoy calls it (over localhost)
                kube.ingress_rule([kube.Peer(ns, selector)], [EXT_PROC_PORT]),
            ],
            pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
            name=epp,
            labels=kube.labels(epp, kube.ENDPOINT_PICKER),
        )
        self.base_url = standalone_base_url(model, ns)
        self.register_outputs({"pool": model, "baseUrl": self.base_url})


def install_agentgateway(name: str, crds: InferenceCrds, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """agentgateway's CRDs, then its control plane with the inference extension (InferencePool backends, the EPP
    as ext-proc), after the Gateway API CRDs; returns what Gateways wait for (the control plane registers the
    `agentgateway` GatewayClass)."""
    after_gateway_api = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=crds.gateway_api))
    crd_release = kube.helm_release(
        f"{name}-agentgateway-crds", versions.AGENTGATEWAY_CRDS, AGENTGATEWAY_NAMESPACE, {}, after_gateway_api
    )
    control_plane = kube.helm_release(
        f"{name}-agentgateway",
        versions.AGENTGATEWAY,
        AGENTGATEWAY_NAMESPACE,
        {"inferenceExtension": {"enabled": True}},
        pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[crd_release, *crds.gateway_api, *crds.inference_pool])
        ),
    )
    return [crd_release, control_plane]
