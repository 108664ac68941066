"""llm-d's endpoint picker (EPP) for one InferencePool, rendered like the llm-d-router charts v0.10.0 render it
(ServiceAccount, Role, ConfigMap, Deployment, Service) so that every object is typed, validated offline and
ordered explicitly after the InferencePool it serves. With `proxy` (the llm-d-router-standalone chart's shape) an
Envoy sidecar in the same pod takes the clients' requests and asks the EPP over localhost (router.py).

Scoring (both charts' default plugins file): prefix-cache-aware (prefix-cache-scorer: the replica most likely
to hold the request's prefix in its KV cache) plus load-aware (queue-scorer: fewest waiting requests;
kv-cache-utilization-scorer: most free KV-cache blocks); replicas are ranked by the weighted sum and the best
one is picked. A disaggregated model gets the router's P/D configuration (deploy/config/pd-epp-config.yaml of
llm-d-router v0.10.0): a decode profile and a prefill profile, each filtered to its role's pods (label
llm-d.ai/role), and the prefix-based decider that sends prompts with more than `prefillThresholdTokens`
uncached tokens to a prefill pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import kube, versions
from components.cluster.base import Placement
from components.serving.pod import container_security, pod_security
from stacks.config.serving import ScorerWeights
from stacks.config.serving_modes import DisaggregationConfig

EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
CONFIG_FILE = "plugins.yaml"
POOL_GROUP = "inference.networking.k8s.io"

_SCORERS = {
    "prefix_cache": "prefix-cache-scorer",
    "queue": "queue-scorer",
    "kv_cache_utilization": "kv-cache-utilization-scorer",
}


_METRICS_PLUGINS = [
    {"type": "metrics-data-source", "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True}},
    {"type": "core-metrics-extractor"},
]


def plugins_config(weights: ScorerWeights, disaggregation: DisaggregationConfig | None = None) -> dict[str, Any]:
    """The EndpointPickerConfig: the weighted scorers (weight 0 leaves a scorer out) and the metrics source
    they read (each vLLM pod's /metrics); for a disaggregated model, the prefill and decode profiles."""
    scorers = [(_SCORERS[k], w) for k, w in weights.model_dump().items() if w > 0]
    if not scorers:
        raise ValueError("every scorer weight is 0: the endpoint picker needs at least one scorer")
    weighted = [{"pluginRef": t, "weight": w} for t, w in scorers]
    config: dict[str, Any] = {"apiVersion": "llm-d.ai/v1alpha1", "kind": "EndpointPickerConfig"}
    if disaggregation is None or not disaggregation.enabled:
        config["plugins"] = [{"type": t} for t, _ in scorers] + _METRICS_PLUGINS
        config["schedulingProfiles"] = [{"name": "default", "plugins": weighted}]
        return config
    config["plugins"] = [
        *({"type": t} for t, _ in scorers),
        {"type": "prefill-filter"},
        {"type": "decode-filter"},
        {"type": "max-score-picker"},
        {"type": "disagg-profile-handler", "parameters": {"deciders": {"prefill": "prefix-based-pd-decider"}}},
        {
            "type": "prefix-based-pd-decider",
            "parameters": {"nonCachedTokens": disaggregation.prefill_threshold_tokens},
        },
        *_METRICS_PLUGINS,
    ]
    config["schedulingProfiles"] = [
        {
            "name": role,
            "plugins": [
                {"pluginRef": f"{role}-filter"},
                {"pluginRef": "max-score-picker"},
                *({"pluginRef": t, "weight": w} for t, w in scorers),  # fresh dicts: no YAML anchors
            ],
        }
        for role in ("prefill", "decode")
    ]
    return config


def epp_args(pool: str, namespace: str, replicas: int) -> list[str]:
    args = [
        "--pool-name",
        pool,
        "--pool-namespace",
        namespace,
        "--pool-group",
        POOL_GROUP,
        "--zap-encoder",
        "json",
        "--config-file",
        f"/config/{CONFIG_FILE}",
        "--grpc-port",
        str(EXT_PROC_PORT),
        "--grpc-health-port",
        str(HEALTH_PORT),
        "--metrics-port",
        str(METRICS_PORT),
        "--metrics-endpoint-auth=false",  # Prometheus scrapes without a token (the KEDA wake-up signal)
        "--tracing=false",
    ]
    if replicas > 1:
        args.append("--ha-enable-leader-election")
    return args


def role_rules(replicas: int) -> list[dict[str, Any]]:
    read = ["get", "watch", "list"]
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": read},
        {"apiGroups": [POOL_GROUP], "resources": ["inferencepools"], "verbs": read},
        {
            "apiGroups": ["llm-d.ai", "inference.networking.x-k8s.io"],
            "resources": ["inferenceobjectives", "inferencemodelrewrites"],
            "verbs": read,
        },
    ]
    if replicas > 1:
        rules += [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": [*read, "create", "update", "patch", "delete"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ]
    return rules


def pod_template(
    name: str,
    pool: str,
    namespace: str,
    replicas: int,
    placement: Placement,
    sidecars: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The EPP pod; `sidecars` and `volumes` add the standalone router's proxy (placed first, as the chart
    does: clients reach the proxy, the proxy reaches the EPP over localhost)."""
    single = replicas == 1
    container = {
        "name": "epp",
        "image": versions.LLM_D_EPP_IMAGE,
        "args": epp_args(pool, namespace, replicas),
        "ports": [
            {"name": "grpc", "containerPort": EXT_PROC_PORT},
            {"name": "grpc-health", "containerPort": HEALTH_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "env": [
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": kube.fixed_resources("500m", "1Gi", "2Gi"),
        "livenessProbe": kube.grpc_probe(HEALTH_PORT, 10, "inference-extension" if single else "liveness"),
        "readinessProbe": kube.grpc_probe(HEALTH_PORT, 2, "inference-extension" if single else "readiness"),
        "volumeMounts": [{"name": "plugins-config", "mountPath": "/config", "readOnly": True}],
        "securityContext": container_security(read_only_root=True),
    }
    return {
        "metadata": {"labels": kube.labels(name, kube.ENDPOINT_PICKER)},
        "spec": {
            "serviceAccountName": name,
            "containers": [kube.pulled_always(c) for c in [*(sidecars or []), container]],
            "volumes": [*(volumes or []), {"name": "plugins-config", "configMap": {"name": name}}],
            "nodeSelector": dict(placement.node_selector),
            "securityContext": pod_security(),
            "terminationGracePeriodSeconds": 130,  # mirrors the longest grace period of the pool's pods
        },
    }


@dataclass
class EndpointPickerArgs:
    pool: str
    """InferencePool name (= the served model name)."""
    namespace: str
    weights: ScorerWeights
    replicas: int
    placement: Placement
    """The system pool."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The InferencePool: the EPP exits when the pool it serves does not exist."""
    disaggregation: DisaggregationConfig | None = None
    """A disaggregated model's roles: the P/D scheduling profiles."""
    sidecars: list[dict[str, Any]] = field(default_factory=list)
    """Extra containers (the standalone router's Envoy), before the EPP's."""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    extra_ports: list[dict[str, Any]] = field(default_factory=list)
    """Extra Service ports (the standalone router's HTTP listener)."""
    extra_config: list[pulumi.Resource] = field(default_factory=list)
    """Resources the pod mounts besides its plugins file (the Envoy ConfigMap)."""


class EndpointPicker(pulumi.ComponentResource):
    """Outputs: `service_name` (what the InferencePool's endpointPickerRef names)."""

    def __init__(self, name: str, args: EndpointPickerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:EndpointPicker", name, None, opts)
        epp, ns = f"{args.pool}-epp", args.namespace
        meta = {"name": epp, "namespace": ns, "labels": kube.labels(epp, kube.ENDPOINT_PICKER)}
        child = pulumi.ResourceOptions(parent=self)
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta, opts=child)
        role = k8s.rbac.v1.Role(f"{name}-role", metadata=meta, rules=role_rules(args.replicas), opts=child)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=meta,
            subjects=[{"kind": "ServiceAccount", "name": epp, "namespace": ns}],
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": epp},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]),
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=meta,
            data={CONFIG_FILE: yaml.safe_dump(plugins_config(args.weights, args.disaggregation), sort_keys=False)},
            opts=child,
        )
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta,
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": kube.selector(epp, kube.ENDPOINT_PICKER)},
                "template": pod_template(
                    epp, args.pool, ns, args.replicas, args.placement, args.sidecars, args.volumes
                ),
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*args.depends_on, binding, config, *args.extra_config]
            ),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta,
            spec={
                "type": "ClusterIP",
                "selector": kube.selector(epp, kube.ENDPOINT_PICKER),
                "ports": [
                    {
                        "name": "grpc-ext-proc",
                        "port": EXT_PROC_PORT,
                        "targetPort": EXT_PROC_PORT,
                        "protocol": "TCP",
                        "appProtocol": "kubernetes.io/h2c",
                    },
                    {"name": "http-metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP"},
                    *args.extra_ports,
                ],
            },
            opts=child,
        )
        self.service_name = epp
        self.register_outputs({"serviceName": epp})
