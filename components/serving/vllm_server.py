"""One vLLM model server: Deployment, ClusterIP Service, NetworkPolicy, and when it applies a
PodDisruptionBudget and a KEDA ScaledObject (its pods carry the prometheus.io/* scrape annotations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.serving import autoscaling
from components.serving.clients import Clients
from components.serving.engine import HTTP_PORT
from components.serving.pod import TIER, VllmPodSpec, selector_of, vllm_pod_template
from stacks.config.serving import AutoscalingConfig


@dataclass
class VllmServerArgs:
    pod: VllmPodSpec
    """The resolved pod settings (model config, placement, resources, secrets)."""
    namespace: str
    clients: Clients
    autoscaling: AutoscalingConfig
    prometheus_url: str | None = None
    """Where the ScaledObject's triggers query Prometheus (required with autoscaling)."""
    keda_ready: list[pulumi.Resource] = field(default_factory=list)
    """Resources the ScaledObject waits for: the KEDA release (its CRDs and admission webhook)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The namespace, Secrets and ServiceAccount the pods use."""


def deployment_spec(args: VllmServerArgs) -> dict[str, Any]:
    model = args.pod.model.config
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_of(model.name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "revisionHistoryLimit": 3,
        "template": vllm_pod_template(args.pod),
    }
    if not args.autoscaling.enabled:  # with KEDA the HPA owns the replica count
        spec["replicas"] = model.min_replicas
    return spec


def service_spec(selector: dict[str, str]) -> dict[str, Any]:
    """The ClusterIP Service of a model's vLLM pods (port `http`)."""
    return {
        "type": "ClusterIP",
        "selector": selector,
        "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
    }


class VllmServer(pulumi.ComponentResource):
    """Outputs: `service_name`, `base_url`."""

    service_name: str
    base_url: str
    """In-cluster OpenAI-compatible URL."""

    def __init__(self, name: str, args: VllmServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:VllmServer", name, None, opts)
        model, ns = args.pod.model.config, args.namespace
        meta_labels = kube.labels(model.name, kube.MODEL_SERVER, **{TIER: "gpu"})
        sel = selector_of(model.name)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={"name": model.name, "namespace": ns, "labels": meta_labels},
            spec=deployment_spec(args),
            opts=child,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": model.name, "namespace": ns, "labels": meta_labels},
            spec=service_spec(sel),
            opts=child,
        )
        self.network_policy = kube.network_policy(
            f"{name}-ingress",
            ns,
            sel,
            [args.clients.ingress_rule(HTTP_PORT)],
            child,
            name=model.name,
            labels=meta_labels,
        )
        self.pdb: k8s.policy.v1.PodDisruptionBudget | None = None
        if model.max_replicas > 1:
            self.pdb = kube.pod_disruption_budget(
                f"{name}-pdb",
                model.name,
                ns,
                sel,
                child,
                labels=meta_labels,
                max_unavailable=1,
                unhealthy_pod_eviction_policy="AlwaysAllow",
            )
        self.scaled_object: k8s.apiextensions.CustomResource | None = None
        if args.autoscaling.enabled:
            if args.prometheus_url is None:  # preflight reports it with the key and the fix
                raise ValueError("serving.autoscaling.enabled needs a Prometheus: see monitoring.prometheus")
            self.scaled_object = k8s.apiextensions.CustomResource(
                f"{name}-scaler",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata={"name": model.name, "namespace": ns, "labels": meta_labels},
                spec=autoscaling.scaled_object_spec(model.name, model, ns, args.autoscaling, args.prometheus_url),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.keda_ready, self.deployment]),
            )
        self.service_name = model.name
        self.base_url = kube.service_url(model.name, ns, HTTP_PORT, "/v1")
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
