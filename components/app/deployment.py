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
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube, versions
from components.app import client_keys
from components.app.client_keys import ClientKeys
from components.app.common import RenderedConfig
from components.app.exposure import Endpoint, Exposed, ExposureSite, network_peers
from components.app.moderation import ModerationEndpoint
from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import (
    AuthSettings,
    EmbeddingSettings,
    InferenceSettings,
    MilvusRemote,
    RagAppSettings,
    SearchSettings,
    ServerSettings,
    ShieldSettings,
    SqliteStorage,
)
from components.cluster.base import Placement
from components.data import MilvusOutputs
from components.kube import APP_POD_LABELS, Peer, SecretRef
from stacks.config.platform import AppConfig, RetrievalConfig

NAME = "rag-app"
PORT = 8321
METRICS_PORT = 9464
"""OGX's metrics server (OGX_METRICS_ENDPOINT_ENABLED): a port of its own without API auth, so only Prometheus
may reach it (NetworkPolicy)."""
METRICS_ENV = {
    "OGX_METRICS_ENDPOINT_ENABLED": "true",
    "OGX_METRICS_PORT": str(METRICS_PORT),
    "OGX_METRICS_HOST": "0.0.0.0",  # it binds to loopback unless told otherwise
}
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
"""In the platform namespace, when auth is on: the app's own key (the operator's and the ingest Job's)."""
HEALTH_PATH = "/v1/health"
"""A public route: it answers without the API key when auth is on (probes, load balancers' health checks)."""
KEY_CHECK_PORT = 8322
"""The auth sidecar (leanrag_keys serve) on the pod's loopback: OGX's custom auth endpoint."""
KEY_CHECK_URL = f"http://127.0.0.1:{KEY_CHECK_PORT}/auth"
_KEY_CODE_DIR = "/opt/leanrag"
_OPERATOR_KEY_FILE = f"{kube.SECRETS_DIR}/app-api-key"
"""The app's own key, as the auth sidecar reads it: a file of the mounted Secret, never an environment variable."""
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
    scraper: Peer | None = None
    """The Prometheus pods allowed to scrape METRICS_PORT (None: no Prometheus)."""
    clients: Sequence[Peer] = field(default_factory=list)
    """Pods allowed to call the app on 8321 (the ingest and benchmark Jobs; add an ingress controller's pods here).
    `kubectl port-forward` does not pass through NetworkPolicies."""
    storage_class: str | None = None
    site: ExposureSite = field(default_factory=lambda: ExposureSite("existing"))
    """Where the stack runs: how `config.exposure` is rendered."""
    client_keys: ClientKeys | None = None
    """Per-client keys (`platform.clients`): with auth on, an auth sidecar checks them besides the app's key."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


def endpoint(namespace: str) -> Endpoint:
    return Endpoint(NAME, namespace, PORT, dict(APP_POD_LABELS), HEALTH_PATH, "app")


def checks_client_keys(args: RagAppArgs) -> bool:
    """Auth on and clients declared: OGX asks the sidecar (the app's key and every client key not revoked)."""
    return args.config.auth and args.client_keys is not None


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
        auth=AuthSettings(api_key_env=APP_KEY_ENV, endpoint=KEY_CHECK_URL if checks_client_keys(args) else None)
        if cfg.auth
        else None,
        shield=shield,
        server=ServerSettings(host="0.0.0.0", port=PORT),
        search=SearchSettings(mode=answer_search_mode(cfg.retrieval)),
        files_dir=f"{DATA_DIR}/files",
    )


def answer_search_mode(retrieval: RetrievalConfig) -> Literal["vector", "hybrid"]:
    """The search the app answers with (`file_search` in the Responses API). `hybrid: ogx` is OGX's own hybrid
    search. `bm25` fuses BM25 over each chunk's title, heading path and text, which OGX cannot do (its keyword
    index sees only the stored clean text): that runs in the ingest image's query path (`context`, `evaluate`),
    and the app answers with dense search, because OGX's own hybrid lowered recall@1 on the bundled corpus
    (docs/retrieval.md)."""
    return "hybrid" if retrieval.hybrid == "ogx" else "vector"


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


def key_check_container(args: RagAppArgs) -> dict[str, Any]:
    """`leanrag_keys.py serve` on 127.0.0.1:8322 with the OGX image's Python: the app's key (a file of its
    Secret) is the operator, the clients' digests and the revocations come from the mounted ConfigMaps."""
    probe = {
        "exec": {
            "command": [
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{KEY_CHECK_PORT}/health', timeout=3)",
            ]
        },
        "periodSeconds": 30,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    return {
        "name": "key-check",
        "image": versions.OGX_IMAGE,
        "command": [
            "python",
            f"{_KEY_CODE_DIR}/{client_keys.CODE_FILE}",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(KEY_CHECK_PORT),
        ],
        "env": kube.env_vars(client_keys.check_env(operator_key_file=_OPERATOR_KEY_FILE)),
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "securityContext": kube.restricted_container_security(),
        "livenessProbe": probe,
        "readinessProbe": probe,
        "volumeMounts": [
            {"name": "key-check-code", "mountPath": _KEY_CODE_DIR, "readOnly": True},
            {"name": "operator-key", "mountPath": kube.SECRETS_DIR, "readOnly": True},
            *client_keys.volume_mounts(),
        ],
    }


def pod_spec(args: RagAppArgs, rendered: RenderedConfig) -> dict[str, Any]:
    refs = secret_refs(args)
    missing = [n for n in rendered.secret_env if n not in refs]
    if missing:
        raise ValueError(f"the OGX run config needs env vars {missing} but no Secret provides them")
    container = {
        "name": "ogx",
        "image": versions.OGX_IMAGE,
        "command": ["ogx", "run", CONFIG_PATH],
        "ports": [
            {"name": "http", "containerPort": PORT, "protocol": "TCP"},
            kube.metrics_container_port(METRICS_PORT),
        ],
        "env": [
            *kube.env_vars({"HOME": "/tmp", **METRICS_ENV}),
            *(refs[n].env(n) for n in rendered.secret_env),
        ],
        "resources": kube.resources(args.config.resources),
        "securityContext": kube.restricted_container_security(),
        "startupProbe": kube.http_probe(HEALTH_PATH, "http", 5, 60),
        "livenessProbe": kube.http_probe(HEALTH_PATH, "http", 15, 4),
        "readinessProbe": kube.http_probe(HEALTH_PATH, "http", 10, 3),
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
    containers = [container]
    if checks_client_keys(args):
        containers.append(key_check_container(args))
        volumes += [
            {"name": "key-check-code", "configMap": {"name": client_keys.CODE_CONFIGMAP}},
            kube.secret_volume(
                "operator-key", API_KEY_SECRET.name, {API_KEY_SECRET.key: _OPERATOR_KEY_FILE.rsplit("/", 1)[-1]}
            ),
            *client_keys.volumes(),
        ]
    return kube.restricted_pod_spec(
        containers,
        volumes,
        run_as=(UID, GID),
        node_selector=args.placement.node_selector,
        tolerations=args.placement.tolerations,
    )


class RagApp(pulumi.ComponentResource):
    """OGX: Deployment, run-config ConfigMap, API-key Secret (auth on), data volume, Service, PDB (replicas
    > 1), a NetworkPolicy, its exposure (`config.exposure`) and, with auth and clients, the auth sidecar.

    Outputs: `base_url` (http://rag-app.<ns>.svc.cluster.local:8321/v1), `url` (what a client outside the
    cluster uses; `base_url` when not exposed), `address` (the load balancer's), `api_key` (secret; None when
    auth is off)."""

    base_url: str
    url: pulumi.Output[str]
    address: pulumi.Output[str]
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
        if checks_client_keys(args) and args.client_keys is not None:
            waits += args.client_keys.ready
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
                    "metadata": {
                        "labels": pod_labels,
                        "annotations": {
                            "leanrag.dev/config-sha256": checksum,
                            **kube.scrape_annotations(METRICS_PORT),
                        },
                    },
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
        outside = network_peers(args.site.cloud, cfg.exposure)
        rules = [kube.ingress_rule(args.clients, [PORT])]
        if outside:
            rules.append(kube.ingress_rule(outside, [PORT]))
        if args.scraper is not None:
            rules.append(kube.ingress_rule([args.scraper], [METRICS_PORT]))
        kube.network_policy(f"{name}-rag-app", ns, APP_POD_LABELS, rules, after, name=NAME)
        exposed = Exposed(f"{name}-rag-app", endpoint(ns), args.site, cfg.exposure, after)

        self.base_url = endpoint(ns).in_cluster_url
        self.url, self.address = exposed.url, exposed.address
        outputs: Mapping[str, Any] = {"baseUrl": self.base_url, "url": self.url, "apiKey": self.api_key}
        self.register_outputs(dict(outputs))
