"""Redis for the gateway's caches (responses, embeddings): one StatefulSet with AOF on a volume.

The password is generated (RandomPassword) and lives only in a Secret, mounted as files: redis-server reads it
from an included config file (never from its command line), and redis-cli in the probes from the password file
(exported as REDISCLI_AUTH to redis-cli alone; never an environment variable of the container).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube, versions
from components.cluster.base import Placement
from components.kube import Peer, SecretRef
from stacks.config.platform import RedisConfig
from stacks.quantity import memory_bytes

NAME = "redis"
PORT = 6379
UID, GID = 10001, 10001
"""A high uid/gid of no user in the image or on the node: redis-server needs no user of its own, and the data
volume is the pod's group (fsGroup), so a volume written by the image's redis user (999) stays writable."""
SECRET_NAME = "redis-auth"
PASSWORD_KEY = "password"
"""Key of the Secret that holds the bare password (for clients' env vars)."""
AUTH_CONF_KEY = "auth.conf"
MAXMEMORY_SHARE = 0.75
"""Share of the container's memory limit that Redis may fill; the rest covers the AOF rewrite fork,
client buffers and fragmentation."""
_CONF_DIR = "/etc/redis"
_AUTH_DIR = "/etc/redis/auth"


@dataclass(frozen=True)
class RedisOutputs:
    """How clients reach Redis."""

    url: pulumi.Output[str]
    """Secret: redis://:password@host:6379/0."""
    host: str
    """redis.<platform namespace>.svc.cluster.local."""
    port: int
    password_ref: SecretRef
    """The password's key of the Secret in the platform namespace, for clients' env vars."""

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "host": self.host, "port": self.port, "secretName": self.password_ref.name}


@dataclass
class RedisArgs:
    config: RedisConfig
    namespace: str
    """Namespace of the platform (where the app and the gateway run)."""
    placement: Placement
    clients: Sequence[Peer]
    """Pods allowed to connect on 6379; nobody else can, and Redis itself cannot dial out."""
    storage_class: str | None = None
    """None uses the cluster's default StorageClass."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


def redis_conf(config: RedisConfig, maxmemory_bytes: int) -> str:
    """redis.conf without the password (which comes from the included, Secret-mounted auth.conf)."""
    lines = [
        f"port {PORT}",
        "bind * -::*",
        "protected-mode yes",
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        f"maxmemory {maxmemory_bytes}",
        f"maxmemory-policy {config.maxmemory_policy}",
        "tcp-keepalive 60",
        f"include {_AUTH_DIR}/{AUTH_CONF_KEY}",
    ]
    return "\n".join(lines) + "\n"


def _probe(period_s: int, failures: int) -> dict[str, Any]:
    check = f'REDISCLI_AUTH="$(cat {_AUTH_DIR}/{PASSWORD_KEY})" redis-cli -h 127.0.0.1 -p {PORT} ping | grep -q PONG'
    return {
        "exec": {"command": ["sh", "-c", check]},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def statefulset_spec(
    config: RedisConfig, placement: Placement, storage_class: str | None, conf_checksum: str
) -> dict[str, Any]:
    pod_labels = kube.labels(NAME, "cache")
    container = {
        "name": NAME,
        "image": versions.REDIS_IMAGE,
        "command": ["redis-server", f"{_CONF_DIR}/redis.conf"],
        "ports": [{"name": "redis", "containerPort": PORT, "protocol": "TCP"}],
        "resources": kube.resources(config.resources),
        "securityContext": kube.restricted_container_security(),
        # AOF replay can take a while after a restart: startup allows 5 minutes before liveness applies.
        "startupProbe": _probe(5, 60),
        "readinessProbe": _probe(10, 3),
        "livenessProbe": _probe(20, 3),
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "config", "mountPath": f"{_CONF_DIR}/redis.conf", "subPath": "redis.conf", "readOnly": True},
            {"name": "auth", "mountPath": _AUTH_DIR, "readOnly": True},
        ],
    }
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{config.storage_gb}Gi"}},
    }
    if storage_class:
        claim_spec["storageClassName"] = storage_class
    volumes = [
        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
        kube.secret_volume("auth", SECRET_NAME, {AUTH_CONF_KEY: AUTH_CONF_KEY, PASSWORD_KEY: PASSWORD_KEY}),
    ]
    return {
        "serviceName": f"{NAME}-headless",
        "replicas": 1,
        "selector": {"matchLabels": kube.selector(NAME, "cache")},
        "template": {
            "metadata": {"labels": pod_labels, "annotations": {"leanrag.dev/config-sha256": conf_checksum}},
            "spec": kube.restricted_pod_spec(
                [container],
                volumes,
                run_as=(UID, GID),
                node_selector=placement.node_selector,
                tolerations=placement.tolerations,
            ),
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}],
    }


class Cache(pulumi.ComponentResource):
    """Redis with a generated password, AOF persistence and a NetworkPolicy."""

    outputs: RedisOutputs

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:data:Cache", name, None, opts)
        ns = args.namespace
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        resources = args.config.resources
        maxmemory = int(memory_bytes(resources.memory_limit or resources.memory) * MAXMEMORY_SHARE)
        conf = redis_conf(args.config, maxmemory)

        password = random.RandomPassword(
            f"{name}-redis-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        auth = kube.secret(
            f"{name}-redis-auth",
            SECRET_NAME,
            ns,
            {
                PASSWORD_KEY: password.result,
                AUTH_CONF_KEY: pulumi.Output.concat("requirepass ", password.result, "\n"),
            },
            after,
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-redis-config",
            metadata={"name": f"{NAME}-config", "namespace": ns, "labels": kube.labels(NAME, "cache")},
            data={"redis.conf": conf},
            opts=after,
        )
        selector = kube.selector(NAME, "cache")
        ports = [{"name": "redis", "port": PORT, "targetPort": "redis", "protocol": "TCP"}]
        headless = k8s.core.v1.Service(
            f"{name}-redis-headless",
            metadata={"name": f"{NAME}-headless", "namespace": ns, "labels": kube.labels(NAME, "cache")},
            spec={"clusterIP": "None", "selector": selector, "ports": ports},
            opts=after,
        )
        service = k8s.core.v1.Service(
            f"{name}-redis",
            metadata={"name": NAME, "namespace": ns, "labels": kube.labels(NAME, "cache")},
            spec={"type": "ClusterIP", "selector": selector, "ports": ports},
            opts=after,
        )
        checksum = hashlib.sha256(conf.encode()).hexdigest()
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-redis",
            metadata={"name": NAME, "namespace": ns, "labels": kube.labels(NAME, "cache")},
            spec=statefulset_spec(args.config, args.placement, args.storage_class, checksum),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, auth, config_map, headless]),
        )
        kube.network_policy(
            f"{name}-redis", ns, selector, [kube.ingress_rule(args.clients, [PORT])], after, name=NAME, deny_egress=True
        )

        host = kube.service_host(NAME, ns)
        self.service = service
        self.outputs = RedisOutputs(
            url=pulumi.Output.secret(pulumi.Output.concat("redis://:", password.result, f"@{host}:{PORT}/0")),
            host=host,
            port=PORT,
            password_ref=SecretRef(SECRET_NAME, PASSWORD_KEY),
        )
        self.register_outputs(self.outputs.as_dict())
