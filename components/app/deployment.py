"""The RAG app (OGX 1.5.0) as a Deployment in the platform namespace.

The run configuration is `build_ogx_run_config`'s output in a ConfigMap; every secret it names is an env var
filled from a Secret (gateway key, Milvus token, the app's own API key, the moderation service's key).
Vectors live in Milvus; OGX keeps its registry, vector-store metadata, SQL stores (responses, conversations,
files metadata) and uploaded files in SQLite under /data (see `SqliteStorage` for why not in Redis): a volume
with one replica, a per-pod emptyDir with several (see `data_volume`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube, versions
from components.app.common import RenderedConfig
from components.app.moderation import ModerationEndpoint
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import (
    AuthSettings,
    EmbeddingSettings,
    InferenceSettings,
    MilvusRemote,
    RagAppSettings,
    ServerSettings,
    ShieldSettings,
    SqliteStorage,
)
from components.cluster.base import Placement
from components.data import MilvusOutputs
from components.kube import APP_POD_LABELS, Peer, SecretRef
from stacks.config.platform import AppConfig

NAME = "rag-app"
PORT = 8321
UID = GID = 10001
"""Not the image's user (1001): OGX writes only to HOME (/tmp) and the data volume (fsGroup), and reads its
world-readable installation; 10000 or more cannot clash with a node's own users (checkov CKV_K8S_40)."""
DATA_DIR = "/data"
CONFIG_PATH = "/etc/ogx/run.yaml"
GATEWAY_KEY_ENV = "GATEWAY_API_KEY"
MILVUS_TOKEN_ENV = "MILVUS_TOKEN"
APP_KEY_ENV = "OGX_API_KEY"
SHIELD_KEY_ENV = "SHIELD_API_KEY"
API_KEY_SECRET = SecretRef("rag-app-api-key", "api-key")
"""In the platform namespace, when auth is on: the Bearer token clients send."""
DATA_VOLUME_GB = 10
MULTI_REPLICA_WARNING = (
    "platform.app.replicas > 1: each OGX replica keeps its own registry and vector-store metadata (OGX 1.5 shares "
    "them only through Postgres, which this stack does not run), so a vector store the ingest Job creates through "
    "one replica is unknown to the others; run one replica for a consistent RAG path"
)


@dataclass
class RagAppArgs:
    config: AppConfig
    namespace: str
    placement: Placement
    gateway_url: str
    """OpenAI-compatible base URL for chat and embeddings (the LiteLLM gateway)."""
    gateway_key: SecretRef
    chat_models: Sequence[str]
    embedding_model: str
    """Model id of the embeddings the gateway serves (the same model the ingest job embedded with)."""
    milvus: MilvusOutputs
    """The vector store: its URI and the token's Secret key in the platform namespace."""
    moderation: ModerationEndpoint | None = None
    """The moderation service: OGX's moderation_endpoint (guardrails fail closed)."""
    clients: Sequence[Peer] = field(default_factory=list)
    """Pods allowed to call the app on 8321 (the ingest and benchmark Jobs; add an ingress controller's pods here).
    `kubectl port-forward` does not pass through NetworkPolicies."""
    storage_class: str | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


def app_settings(args: RagAppArgs) -> RagAppSettings:
    cfg = args.config
    shield = None
    if args.moderation is not None:
        shield = ShieldSettings(moderation_url=args.moderation.moderations_url, api_key_env=SHIELD_KEY_ENV)
    return RagAppSettings(
        inference=InferenceSettings(
            base_url=args.gateway_url, model_ids=list(args.chat_models), api_key_env=GATEWAY_KEY_ENV
        ),
        embeddings=EmbeddingSettings(
            base_url=args.gateway_url,
            model_id=args.embedding_model,
            dimension=cfg.embedding_dimension,
            api_key_env=GATEWAY_KEY_ENV,
        ),
        vector_store=MilvusRemote(uri=args.milvus.uri, token_env=MILVUS_TOKEN_ENV),
        # /data/sql held the SQL stores before; the key-value store joins them there.
        storage=SqliteStorage(dir=f"{DATA_DIR}/sql"),
        auth=AuthSettings(api_key_env=APP_KEY_ENV) if cfg.auth else None,
        shield=shield,
        server=ServerSettings(host="0.0.0.0", port=PORT),
        files_dir=f"{DATA_DIR}/files",
    )


def secret_refs(args: RagAppArgs) -> dict[str, SecretRef]:
    refs = {
        GATEWAY_KEY_ENV: args.gateway_key,
        MILVUS_TOKEN_ENV: args.milvus.token_ref,
        APP_KEY_ENV: API_KEY_SECRET,
    }
    if args.moderation is not None:
        refs[SHIELD_KEY_ENV] = args.moderation.key
    return refs


def data_volume(args: RagAppArgs) -> dict[str, Any]:
    """One replica: a PersistentVolumeClaim. Several: an emptyDir per pod, because a ReadWriteOnce volume
    cannot follow them and OGX 1.5.0 shares state between processes only through Postgres (which this stack
    does not run): the registry, vector-store metadata, responses, conversations and uploaded files are then
    per replica and lost on restart (see `MULTI_REPLICA_WARNING`)."""
    if args.config.replicas == 1:
        return {"name": "data", "persistentVolumeClaim": {"claimName": f"{NAME}-data"}}
    return {"name": "data", "emptyDir": {"sizeLimit": f"{DATA_VOLUME_GB}Gi"}}


def pod_spec(args: RagAppArgs, rendered: RenderedConfig) -> dict[str, Any]:
    refs = secret_refs(args)
    missing = [n for n in rendered.secret_env if n not in refs]
    if missing:
        raise ValueError(f"the OGX run config needs env vars {missing} but no Secret provides them")
    container = {
        "name": "ogx",
        "image": versions.OGX_IMAGE,
        "command": ["ogx", "run", CONFIG_PATH],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [{"name": "HOME", "value": "/tmp"}, *(refs[n].env(n) for n in rendered.secret_env)],
        "resources": kube.resources(args.config.resources),
        "securityContext": kube.restricted_container_security(),
        # /v1/health is a public route: it answers without the API key when auth is on.
        "startupProbe": kube.http_probe("/v1/health", "http", 5, 60),
        "livenessProbe": kube.http_probe("/v1/health", "http", 15, 4),
        "readinessProbe": kube.http_probe("/v1/health", "http", 10, 3),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_PATH, "subPath": "run.yaml", "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    volumes = [
        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
        data_volume(args),
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    return kube.restricted_pod_spec(
        [container],
        volumes,
        run_as=(UID, GID),
        node_selector=args.placement.node_selector,
        tolerations=args.placement.tolerations,
    )


class RagApp(pulumi.ComponentResource):
    """OGX: Deployment, run-config ConfigMap, API-key Secret (auth on), data volume, Service, PDB (replicas
    > 1) and a NetworkPolicy.

    Outputs: `base_url` (http://rag-app.<ns>.svc.cluster.local:8321/v1), `api_key` (secret; None when auth
    is off)."""

    base_url: str
    api_key: pulumi.Output[str] | None

    def __init__(self, name: str, args: RagAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:app:RagApp", name, None, opts)
        ns, cfg = args.namespace, args.config
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        rendered = build_ogx_run_config(app_settings(args))
        spec = pod_spec(args, rendered)
        waits: list[pulumi.Resource] = list(args.depends_on)

        if cfg.replicas > 1:
            pulumi.log.warn(MULTI_REPLICA_WARNING, self)
        self.api_key = None
        if cfg.auth:
            key = random.RandomPassword(
                f"{name}-rag-app-api-key", length=40, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            self.api_key = pulumi.Output.secret(key.result)
            waits.append(
                kube.secret(f"{name}-rag-app-api-key", API_KEY_SECRET.name, ns, {API_KEY_SECRET.key: key.result}, after)
            )
        waits.append(
            k8s.core.v1.ConfigMap(
                f"{name}-rag-app-config",
                metadata={"name": f"{NAME}-config", "namespace": ns, "labels": kube.labels(NAME, "app")},
                data={"run.yaml": rendered.yaml},
                opts=after,
            )
        )
        if cfg.replicas == 1:
            claim: dict[str, Any] = {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{DATA_VOLUME_GB}Gi"}},
            }
            if args.storage_class:
                claim["storageClassName"] = args.storage_class
            waits.append(
                k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-rag-app-data",
                    metadata={"name": f"{NAME}-data", "namespace": ns, "labels": kube.labels(NAME, "app")},
                    spec=claim,
                    opts=after,
                )
            )
        pod_labels = kube.labels(NAME, "app")
        checksum = hashlib.sha256(rendered.yaml.encode()).hexdigest()
        # A ReadWriteOnce volume cannot be attached to the old and the new pod at once: replace, not roll.
        strategy = (
            {"type": "Recreate"}
            if cfg.replicas == 1
            else {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        )
        k8s.apps.v1.Deployment(
            f"{name}-rag-app",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "replicas": cfg.replicas,
                "selector": {"matchLabels": APP_POD_LABELS},
                "strategy": strategy,
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": {"leanrag.dev/config-sha256": checksum}},
                    "spec": spec,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        k8s.core.v1.Service(
            f"{name}-rag-app",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "type": "ClusterIP",
                "selector": APP_POD_LABELS,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=after,
        )
        if cfg.replicas > 1:
            kube.pod_disruption_budget(f"{name}-rag-app", NAME, ns, APP_POD_LABELS, after)
        kube.network_policy(
            f"{name}-rag-app", ns, APP_POD_LABELS, [kube.ingress_rule(args.clients, [PORT])], after, name=NAME
        )

        self.base_url = kube.service_url(NAME, ns, PORT, "/v1")
        outputs: Mapping[str, Any] = {"baseUrl": self.base_url, "apiKey": self.api_key}
        self.register_outputs(dict(outputs))
