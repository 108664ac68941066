"""The moderation service (workloads/moderation) as a Deployment in the platform namespace: OpenAI's
`/v1/moderations` in front of the stack's `role: safety` model (Llama Guard), so that it sits on the request path.

Two callers, both failing closed: the RAG app (OGX 1.5's `moderation_endpoint` on the responses provider) and the
gateway (LiteLLM's `openai_moderation` guardrail, pre-call, on every request). The Bearer key they send is
generated here and lives only in the `moderation-api-key` Secret, beside a copy of the serving layer's key that
the service sends to the safety model. Only the app and the gateway may connect (NetworkPolicy); the service
itself reaches the safety model, whose servers admit every pod of the platform namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube
from components.cluster.base import Placement
from components.kube import MODERATION_POD_LABELS, Peer, SecretRef
from stacks.config.platform import ModerationConfig

NAME = "moderation"
PORT = 8080
"""The service's port (MODERATION_PORT)."""
UID = GID = 10001
"""The `moderation` user of the image (workloads/moderation/Dockerfile)."""
KEY = SecretRef("moderation-api-key", "api-key")
"""In the platform namespace: the Bearer key the app and the gateway send (MODERATION_API_KEY)."""
SAFETY_KEY = SecretRef("moderation-api-key", "safety-api-key")
"""In the platform namespace: the safety model's key (a copy of the serving layer's), sent by the service."""


@dataclass(frozen=True)
class ModerationEndpoint:
    """How the app and the gateway call the moderation service."""

    base_url: str
    """http://moderation.<ns>.svc.cluster.local:8080/v1 (LiteLLM appends /moderations)."""
    key: SecretRef
    """The Bearer key's Secret key in the platform namespace."""

    @property
    def moderations_url(self) -> str:
        """The full /v1/moderations URL (OGX's moderation_endpoint)."""
        return f"{self.base_url}/moderations"


@dataclass
class ModerationArgs:
    config: ModerationConfig
    namespace: str
    placement: Placement
    """The system pool."""
    image: str
    """The moderation image built from this repository (workloadImages)."""
    safety_model: str
    """Served name of the `role: safety` model (SAFETY_MODEL)."""
    safety_base_url: str
    """Its OpenAI-compatible base URL, ending in /v1 (SAFETY_BASE_URL)."""
    safety_api_key: pulumi.Input[str]
    """Secret: the serving layer's key, which the safety model's server expects."""
    clients: Sequence[Peer]
    """Pods allowed to call the service on 8080: the app and the gateway."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


def plain_env(args: ModerationArgs) -> dict[str, str]:
    """The service's settings that are not secrets (workloads/moderation/README.md, Configuration)."""
    return {
        "SAFETY_BASE_URL": args.safety_base_url.rstrip("/"),
        "SAFETY_MODEL": args.safety_model,
        "SAFETY_TIMEOUT_S": f"{args.config.timeout_s:g}",
        "MODERATION_HOST": "0.0.0.0",
        "MODERATION_PORT": str(PORT),
    }


def key_files() -> list[kube.SecretFile]:
    """The service's key and the safety model's, as files of the key Secret (workloads/moderation/config.py)."""
    return [
        kube.SecretFile("MODERATION_API_KEY_FILE", KEY.name, KEY.key),
        kube.SecretFile("SAFETY_API_KEY_FILE", SAFETY_KEY.name, SAFETY_KEY.key),
    ]


def pod_spec(args: ModerationArgs) -> dict[str, Any]:
    container = {
        "name": NAME,
        "image": args.image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # the keys as files the service reads (MODERATION_API_KEY_FILE, SAFETY_API_KEY_FILE), never variables
        "env": [*kube.env_vars(plain_env(args)), *(f.env() for f in key_files())],
        "resources": kube.resources(args.config.resources),
        "securityContext": kube.restricted_container_security(),
        # /health answers without the key and without calling the model: a slow safety model does not restart
        # the service (its requests then fail closed with 503).
        "startupProbe": kube.http_probe("/health", "http", 2, 30),
        "livenessProbe": kube.http_probe("/health", "http", 15, 4),
        "readinessProbe": kube.http_probe("/health", "http", 10, 3),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *kube.secret_mounts(key_files())],
    }
    return kube.restricted_pod_spec(
        [container],
        [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, kube.secrets_volume(key_files())],
        run_as=(UID, GID),
        node_selector=args.placement.node_selector,
        tolerations=args.placement.tolerations,
    )


class Moderation(pulumi.ComponentResource):
    """The moderation service: key Secret, Deployment, ClusterIP Service, NetworkPolicy, PDB (replicas > 1).

    Outputs: `endpoint` (base URL and the key's Secret key)."""

    endpoint: ModerationEndpoint
    key_secret: k8s.core.v1.Secret
    """The app and the gateway wait for it (their pods read the key from it)."""

    def __init__(self, name: str, args: ModerationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:app:Moderation", name, None, opts)
        ns, cfg = args.namespace, args.config
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        key = random.RandomPassword(
            f"{name}-moderation-api-key", length=40, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.key_secret = kube.secret(
            f"{name}-moderation-api-key",
            KEY.name,
            ns,
            {KEY.key: key.result, SAFETY_KEY.key: args.safety_api_key},
            after,
        )
        pod_labels = kube.labels(NAME, "moderation")
        k8s.apps.v1.Deployment(
            f"{name}-moderation",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "replicas": cfg.replicas,
                "selector": {"matchLabels": MODERATION_POD_LABELS},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {
                        "labels": pod_labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(PORT),
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": pod_spec(args),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, self.key_secret]),
        )
        k8s.core.v1.Service(
            f"{name}-moderation",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "type": "ClusterIP",
                "selector": MODERATION_POD_LABELS,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=after,
        )
        if cfg.replicas > 1:
            kube.pod_disruption_budget(f"{name}-moderation", NAME, ns, MODERATION_POD_LABELS, after)
        kube.network_policy(
            f"{name}-moderation", ns, MODERATION_POD_LABELS, [kube.ingress_rule(args.clients, [PORT])], after, name=NAME
        )
        self.endpoint = ModerationEndpoint(base_url=kube.service_url(NAME, ns, PORT, "/v1"), key=KEY)
        self.register_outputs({"baseUrl": self.endpoint.base_url})
