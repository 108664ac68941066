"""Milvus from the official Helm chart (zilliztech/milvus-helm), with authentication and MinIO storage.

Standalone (dev) or distributed (prod), in a namespace of its own. Milvus and etcd run as Pod Security
`restricted` allows (non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp): Milvus as the
image's own `milvus` user (uid 999, which owns /milvus in the 2.6 images), etcd as its image's 1001. The
namespace still enforces only `baseline` (and warns and audits at `restricted`): the chart's MinIO sub-chart
(minio 8.0.17) renders no container securityContext, so its pods cannot meet `restricted`; MinIO runs non-root
there (uid 10001). Enforcing `restricted` needs MinIO from elsewhere (its own hardened StatefulSet, or the
cloud's bucket through `externalS3`). Every credential is generated and lives only in Secrets:

- the root password reaches Milvus as COMMON_SECURITY_DEFAULT_ROOT_PASSWORD from a Secret; Milvus reads
  environment variables over its YAML files (key `common.security.defaultRootPassword`);
- MinIO gets its keys through the chart's `minio.existingSecret`; Milvus gets the same keys as
  MINIO_ACCESS_KEY_ID / MINIO_SECRET_ACCESS_KEY (keys `minio.accessKeyID` / `minio.secretAccessKey`). The
  chart would write `minio.accessKey`/`secretKey` into its ConfigMap in plain text, so they are set empty.

Clients (the app, the ingest job) get a Secret in their own namespace with the URI and a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import kube, versions
from components.cluster.base import Placement
from components.kube import Peer, SecretRef
from stacks.config.platform import MilvusConfig

RELEASE = "milvus"
"""Helm release name; the chart names the client Service after it (milvus.<namespace>)."""
PORT = 19530
ROOT_USER = "root"
ROOT_SECRET = "milvus-root"
ROOT_PASSWORD_KEY = "password"
MINIO_SECRET = "milvus-minio"
MINIO_ACCESS_KEY, MINIO_SECRET_KEY = "accesskey", "secretkey"
"""The key names the MinIO sub-chart reads from `existingSecret`."""
CLIENT_SECRET = "milvus-credentials"
"""Secret in each client namespace: `uri`, `token` (user:password), `username`, `password`."""
ETCD_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
ETCD_STORAGE_GB = 10
MILVUS_UID = 999
"""The `milvus` user of the Milvus 2.6 images, owner of /milvus (a user other than the owner cannot run it)."""
ETCD_UID = 1001
"""The user of the etcd image the chart pins (Bitnami's layout: /opt/bitnami/etcd belongs to it)."""
MINIO_UID = 10001
"""MinIO runs as any user: its data is on the volume, group-writable through fsGroup."""
SERVICE_ACCOUNT = "milvus-pods"
"""The ServiceAccount of every pod of the release (Milvus, etcd, MinIO), created by the program without an API
token: none of them calls the Kubernetes API."""


def _restricted_pod(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _restricted_container(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass(frozen=True)
class MilvusOutputs:
    """How clients reach Milvus."""

    uri: str
    """http://milvus.<namespace>.svc.cluster.local:19530."""
    token: pulumi.Output[str]
    """Secret: user:password."""
    token_ref: SecretRef
    """The token's key of the `milvus-credentials` Secret in each client namespace."""
    namespace: str
    """Milvus' own namespace."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "token": self.token,
            "namespace": self.namespace,
            "clientSecretName": self.token_ref.name,
        }


@dataclass
class MilvusArgs:
    config: MilvusConfig
    placement: Placement
    clients: Sequence[Peer]
    """Pods allowed to reach Milvus on 19530 (the app, the ingest job); nothing else outside its namespace."""
    client_namespaces: Sequence[str]
    """Namespaces that get the `milvus-credentials` Secret."""
    storage_class: str | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)
    """Resources the client Secrets wait for (the client namespaces)."""


def user_config() -> str:
    """Milvus settings merged over its defaults (user.yaml); no secrets here."""
    return yaml.safe_dump(
        {
            "common": {"security": {"authorizationEnabled": True}},
            "mq": {"type": "woodpecker"},
        },
        sort_keys=False,
    )


def milvus_env() -> list[dict[str, Any]]:
    """Credentials as env vars from Secrets, for every Milvus component."""
    return [
        kube.secret_env("COMMON_SECURITY_DEFAULT_ROOT_PASSWORD", ROOT_SECRET, ROOT_PASSWORD_KEY),
        kube.secret_env("MINIO_ACCESS_KEY_ID", MINIO_SECRET, MINIO_ACCESS_KEY),
        kube.secret_env("MINIO_SECRET_ACCESS_KEY", MINIO_SECRET, MINIO_SECRET_KEY),
    ]


def _persistence(size_gb: int, storage_class: str | None) -> dict[str, Any]:
    size = {"size": f"{size_gb}Gi"}
    return {**size, "storageClass": storage_class} if storage_class else size


def milvus_values(config: MilvusConfig, placement: Placement, storage_class: str | None) -> dict[str, Any]:
    """Helm values of the Milvus chart. Only Secret names, never secret values."""
    distributed = config.mode == "distributed"
    env = milvus_env()
    node = {"resources": kube.resources(config.resources), "extraEnv": env}
    coordinator = {"resources": kube.resources(config.coordinator_resources), "extraEnv": env}
    values: dict[str, Any] = {
        "cluster": {"enabled": distributed},
        "image": {"all": {"pullPolicy": kube.IMAGE_PULL_POLICY}},
        "nodeSelector": dict(placement.node_selector),
        "tolerations": list(placement.tolerations),
        "securityContext": _restricted_pod(MILVUS_UID),
        "containerSecurityContext": _restricted_container(MILVUS_UID),
        "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
        "extraConfigFiles": {"user.yaml": user_config()},
        "service": {"type": "ClusterIP", "port": PORT},
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "log": {"persistence": {"enabled": False}},
        "attu": {"enabled": False},
        "streaming": {"enabled": True, "woodpecker": {"embedded": True, "storage": {"type": "minio"}}},
        "woodpecker": {"enabled": False},
        "pulsarv3": {"enabled": False},
        "pulsar": {"enabled": False},
        "kafka": {"enabled": False},
        "minio": {
            "enabled": True,
            "mode": "distributed" if distributed else "standalone",
            "existingSecret": MINIO_SECRET,
            "accessKey": "",
            "secretKey": "",
            "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
            "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
            "securityContext": {"enabled": True, "runAsUser": MINIO_UID, "runAsGroup": MINIO_UID, "fsGroup": MINIO_UID},
            "resources": kube.resources(config.minio_resources),
            "persistence": {"enabled": True, **_persistence(config.storage_gb, storage_class)},
            "nodeSelector": dict(placement.node_selector),
            "podDisruptionBudget": {"enabled": distributed},
        },
        "etcd": {
            "replicaCount": 3 if distributed else 1,
            "image": {"pullPolicy": kube.IMAGE_PULL_POLICY},
            "serviceAccount": {"create": False, "name": SERVICE_ACCOUNT},
            "podSecurityContext": {"enabled": True, **_restricted_pod(ETCD_UID)},
            "containerSecurityContext": {"enabled": True, **_restricted_container(ETCD_UID)},
            "resources": ETCD_RESOURCES,
            "persistence": {"enabled": True, **_persistence(ETCD_STORAGE_GB, storage_class)},
            "nodeSelector": dict(placement.node_selector),
            "pdb": {"create": distributed},
        },
    }
    if distributed:
        values.update(
            {
                "standalone": {"extraEnv": env},
                "proxy": {"replicas": 1, **coordinator},
                "mixCoordinator": {"replicas": 1, **coordinator},
                "queryNode": {"replicas": config.query_node_replicas, **node},
                "dataNode": {"replicas": 1, **node},
                "streamingNode": {"replicas": 1, **node},
                "indexNode": {"enabled": False},
            }
        )
    else:
        values["standalone"] = {
            **node,
            "messageQueue": "woodpecker",
            "persistence": {
                "enabled": True,
                "persistentVolumeClaim": {
                    **_persistence(config.local_disk_gb, storage_class),
                    "accessModes": "ReadWriteOnce",
                },
            },
        }
    return values


def client_pod_labels(mode: str) -> dict[str, str]:
    """Labels of the Milvus pods that serve clients: the standalone pod, or the proxies."""
    component = "proxy" if mode == "distributed" else "standalone"
    return {"app.kubernetes.io/name": "milvus", "app.kubernetes.io/instance": RELEASE, "component": component}


def _password(resource_name: str, length: int, parent: pulumi.Resource) -> random.RandomPassword:
    """Letters and digits only: the values travel in URIs and tokens without escaping."""
    return random.RandomPassword(
        resource_name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )


class VectorStore(pulumi.ComponentResource):
    """Milvus (Helm chart), its namespace, generated credentials, client Secrets and NetworkPolicies."""

    outputs: MilvusOutputs

    def __init__(self, name: str, args: MilvusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:data:VectorStore", name, None, opts)
        cfg = args.config
        ns = cfg.namespace
        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-milvus-ns",
            metadata={"name": ns, "labels": kube.namespace_labels("baseline")},
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace_resource])
        root = _password(f"{name}-milvus-root-password", 32, self)
        access = _password(f"{name}-milvus-minio-access-key", 20, self)
        secret_key = _password(f"{name}-milvus-minio-secret-key", 40, self)
        root_secret = kube.secret(f"{name}-milvus-root", ROOT_SECRET, ns, {ROOT_PASSWORD_KEY: root.result}, in_ns)
        minio_secret = kube.secret(
            f"{name}-milvus-minio",
            MINIO_SECRET,
            ns,
            {MINIO_ACCESS_KEY: access.result, MINIO_SECRET_KEY: secret_key.result},
            in_ns,
        )

        account = k8s.core.v1.ServiceAccount(
            f"{name}-milvus-pods",
            metadata={"name": SERVICE_ACCOUNT, "namespace": ns, "labels": kube.PART_OF},
            automount_service_account_token=False,
            opts=in_ns,
        )
        self.release = kube.helm_release(
            f"{name}-milvus",
            versions.MILVUS,
            ns,
            milvus_values(cfg, args.placement, args.storage_class),
            pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace_resource, root_secret, minio_secret, account]
            ),
            release_name=RELEASE,
            create_namespace=False,  # the namespace above, with its Pod Security labels
            timeout_s=1200,
        )
        self._network_policies(name, ns, cfg.mode, args.clients, in_ns)

        self.outputs = MilvusOutputs(
            uri=kube.service_url(RELEASE, ns, PORT),
            token=pulumi.Output.secret(pulumi.Output.concat(f"{ROOT_USER}:", root.result)),
            token_ref=SecretRef(CLIENT_SECRET, "token"),
            namespace=ns,
        )
        client_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        for client_ns in dict.fromkeys(args.client_namespaces):
            kube.secret(
                f"{name}-milvus-credentials-{client_ns}",
                CLIENT_SECRET,
                client_ns,
                {
                    "uri": self.outputs.uri,
                    "token": self.outputs.token,
                    "username": ROOT_USER,
                    "password": root.result,
                },
                client_opts,
            )
        self.register_outputs(self.outputs.as_dict())

    def _network_policies(
        self, name: str, ns: str, mode: str, clients: Sequence[Peer], opts: pulumi.ResourceOptions
    ) -> None:
        """Nothing reaches the Milvus namespace except its own pods and, on 19530 only, the clients."""
        kube.network_policy(f"{name}-milvus-default-deny", ns, {}, [], opts, name="default-deny-ingress")
        kube.network_policy(
            f"{name}-milvus-same-namespace",
            ns,
            {},
            [{"from": [{"podSelector": {}}]}],
            opts,
            name="allow-same-namespace",
        )
        kube.network_policy(
            f"{name}-milvus-clients",
            ns,
            client_pod_labels(mode),
            [kube.ingress_rule(clients, [PORT])],
            opts,
            name="allow-milvus-clients",
        )
