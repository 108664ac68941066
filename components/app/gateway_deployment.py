"""The caching and guardrail gateway (LiteLLM proxy) as a Deployment in the platform namespace.

Its config.yaml comes from `build_gateway_config` (a ConfigMap); every secret it names (master key, Redis
password, the upstreams' API key) is an env var filled from a Secret. The master key is generated here; the
serving layer's key is copied into a Secret of the platform namespace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube, versions
from components.app.common import RenderedConfig
from components.app.gateway_config import GATEWAY_PLAIN_ENV, build_gateway_config
from components.app.gateway_settings import (
    CacheSettings,
    GatewaySettings,
    GuardrailSettings,
    ModerationGuardrail,
    RedisSettings,
    Upstream,
)
from components.app.moderation import ModerationEndpoint
from components.cluster.base import Placement
from components.data import RedisOutputs
from components.kube import GATEWAY_POD_LABELS, Peer, SecretRef
from stacks.config.platform import GatewayConfig, GuardrailsConfig

NAME = "gateway"
PORT = 4000
UID = GID = 65534
"""`nobody` in LiteLLM's non-root image."""
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"
UPSTREAM_KEY_ENV = "SERVING_API_KEY"
MODERATION_KEY_ENV = "MODERATION_API_KEY"
MASTER_KEY_SECRET = SecretRef("gateway-master-key", "master-key")
"""In the platform namespace: the key clients (the RAG app) send as Bearer token."""
UPSTREAM_KEY_SECRET = SecretRef("serving-api-key", "api-key")
"""In the platform namespace: a copy of the serving layer's API key, which every model server expects."""
_CONFIG_DIR = "/etc/litellm"
_STATE_DIR = "/var/lib/litellm"
"""LiteLLM's runtime copy of its admin UI and logo (an emptyDir: the root filesystem is read-only)."""


@dataclass(frozen=True)
class UpstreamSpec:
    """An upstream whose base URL may not be known yet (llm-d: the inference gateway's address)."""

    name: str
    base_url: pulumi.Input[str | None]
    kind: Literal["chat", "embedding"] = "chat"
    fallback: str | None = None

    def resolve(self, base_url: str | None, api_key_env: str | None) -> Upstream:
        if not base_url:
            raise ValueError(
                f"the serving layer has no URL for model {self.name!r} (llm-d: the inference "
                "gateway has no address yet); check the Gateway status in the serving namespace"
            )
        return Upstream(
            name=self.name,
            base_url=base_url,
            served_model=self.name,
            kind=self.kind,
            api_key_env=api_key_env,
            fallback=self.fallback,
        )


@dataclass
class GatewayArgs:
    config: GatewayConfig
    namespace: str
    placement: Placement
    upstreams: Sequence[UpstreamSpec]
    """The model endpoints behind the gateway, with their fallbacks (see `components.app.layer`)."""
    upstream_api_key: pulumi.Input[str] | None
    """Secret: the Bearer key of the model servers (the serving layer's); None for servers without auth."""
    redis: RedisOutputs
    """The caches' store: host, port and the password's Secret key in the platform namespace."""
    clients: Sequence[Peer]
    """Pods allowed to call the gateway on 4000."""
    moderation: ModerationEndpoint | None = None
    """The moderation service: every request is checked by Llama Guard first (guardrail `llama-guard`)."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


def guardrail_settings(g: GuardrailsConfig) -> GuardrailSettings:
    """Stack config -> LiteLLM guardrails: `pii: mask` masks every known pattern, `block` rejects them,
    `off` leaves them; prompt injection is blocked when on. Nothing on: guardrails disabled."""
    every = GuardrailSettings()
    patterns = (*every.pii_mask, *every.pii_block)
    return GuardrailSettings(
        enabled=g.pii != "off" or g.prompt_injection,
        pii_mask=patterns if g.pii == "mask" else (),
        pii_block=patterns if g.pii == "block" else (),
        injection_categories=every.injection_categories if g.prompt_injection else (),
    )


def gateway_settings(args: GatewayArgs, upstreams: Sequence[Upstream]) -> GatewaySettings:
    cache = args.config.cache
    return GatewaySettings(
        upstreams=list(upstreams),
        redis=RedisSettings(host=args.redis.host, port=args.redis.port, password_env=REDIS_PASSWORD_ENV),
        cache=CacheSettings(
            enabled=cache.enabled,
            corpus_version=cache.corpus_version,
            chat_ttl_s=cache.response_ttl_s,
            embedding_ttl_s=cache.embedding_ttl_s,
        ),
        guardrails=guardrail_settings(args.config.guardrails),
        moderation=ModerationGuardrail(api_base=args.moderation.base_url, api_key_env=MODERATION_KEY_ENV)
        if args.moderation is not None
        else None,
        master_key_env=MASTER_KEY_ENV,
    )


def secret_refs(args: GatewayArgs) -> dict[str, SecretRef]:
    """Every env var the config may name -> the Secret key that fills it."""
    refs = {MASTER_KEY_ENV: MASTER_KEY_SECRET, REDIS_PASSWORD_ENV: args.redis.password_ref}
    if args.upstream_api_key is not None:
        refs[UPSTREAM_KEY_ENV] = UPSTREAM_KEY_SECRET
    if args.moderation is not None:
        refs[MODERATION_KEY_ENV] = args.moderation.key
    return refs


def render(args: GatewayArgs, base_urls: Sequence[str | None]) -> RenderedConfig:
    """The LiteLLM config once every upstream's URL is known."""
    key_env = UPSTREAM_KEY_ENV if args.upstream_api_key is not None else None
    resolved = [spec.resolve(url, key_env) for spec, url in zip(args.upstreams, base_urls, strict=True)]
    rendered = build_gateway_config(gateway_settings(args, resolved))
    unknown = set(rendered.secret_env) - set(secret_refs(args))
    if unknown:
        raise ValueError(f"the gateway config names env vars {sorted(unknown)} that no Secret provides")
    return rendered


def pod_spec(args: GatewayArgs) -> dict[str, Any]:
    refs = secret_refs(args)
    # LiteLLM copies its admin UI and logo into LITELLM_UI_PATH / LITELLM_ASSETS_PATH at start-up (1.103: a
    # writable runtime copy, so the packaged files are never changed): an emptyDir, with a read-only root
    state = {"LITELLM_UI_PATH": f"{_STATE_DIR}/ui", "LITELLM_ASSETS_PATH": f"{_STATE_DIR}/assets"}
    plain_env = kube.env_vars({**GATEWAY_PLAIN_ENV, "HOME": "/tmp", **state})
    container = {
        "name": NAME,
        "image": versions.LITELLM_IMAGE,
        "args": [
            "--config",
            f"{_CONFIG_DIR}/config.yaml",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
            "--num_workers",
            "1",
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [*plain_env, *(ref.env(var) for var, ref in sorted(refs.items()))],
        "resources": kube.resources(args.config.resources),
        "securityContext": kube.restricted_container_security(read_only_root=True),
        "startupProbe": kube.http_probe("/health/liveliness", "http", 5, 36),
        "livenessProbe": kube.http_probe("/health/liveliness", "http", 15, 4),
        "readinessProbe": kube.http_probe("/health/readiness", "http", 10, 3, timeout_s=5),
        "volumeMounts": [
            {"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "state", "mountPath": _STATE_DIR},
        ],
    }
    volumes = [
        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "state", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    return kube.restricted_pod_spec(
        [container],
        volumes,
        run_as=(UID, GID),
        node_selector=args.placement.node_selector,
        tolerations=args.placement.tolerations,
    )


class Gateway(pulumi.ComponentResource):
    """LiteLLM proxy: Deployment, ConfigMap, master-key Secret, Service, PDB (replicas > 1), NetworkPolicy.

    Outputs: `base_url` (http://gateway.<ns>.svc.cluster.local:4000/v1), `master_key` (secret),
    `master_key_ref` and `upstream_key_ref` (Secret keys in the platform namespace)."""

    base_url: str
    master_key: pulumi.Output[str]
    master_key_ref: SecretRef
    upstream_key_ref: SecretRef | None

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:app:Gateway", name, None, opts)
        ns = args.namespace
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        spec = pod_spec(args)
        config_yaml: pulumi.Output[str] = pulumi.Output.all(*[u.base_url for u in args.upstreams]).apply(
            lambda urls: render(args, urls).yaml
        )

        key = random.RandomPassword(
            f"{name}-gateway-master-key", length=40, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.master_key = pulumi.Output.secret(pulumi.Output.concat("sk-", key.result))
        secrets = [
            kube.secret(
                f"{name}-gateway-master-key",
                MASTER_KEY_SECRET.name,
                ns,
                {MASTER_KEY_SECRET.key: self.master_key},
                after,
            )
        ]
        if args.upstream_api_key is not None:
            secrets.append(
                kube.secret(
                    f"{name}-gateway-upstream-key",
                    UPSTREAM_KEY_SECRET.name,
                    ns,
                    {UPSTREAM_KEY_SECRET.key: args.upstream_api_key},
                    after,
                )
            )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-gateway-config",
            metadata={"name": f"{NAME}-config", "namespace": ns, "labels": kube.labels(NAME, "gateway")},
            data={"config.yaml": config_yaml},
            opts=after,
        )
        pod_labels = kube.labels(NAME, "gateway")
        checksum = config_yaml.apply(lambda text: hashlib.sha256(text.encode()).hexdigest())
        k8s.apps.v1.Deployment(
            f"{name}-gateway",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "replicas": args.config.replicas,
                "selector": {"matchLabels": GATEWAY_POD_LABELS},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": {"leanrag.dev/config-sha256": checksum}},
                    "spec": spec,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *secrets, config_map]),
        )
        k8s.core.v1.Service(
            f"{name}-gateway",
            metadata={"name": NAME, "namespace": ns, "labels": pod_labels},
            spec={
                "type": "ClusterIP",
                "selector": GATEWAY_POD_LABELS,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=after,
        )
        if args.config.replicas > 1:
            kube.pod_disruption_budget(f"{name}-gateway", NAME, ns, GATEWAY_POD_LABELS, after)
        kube.network_policy(
            f"{name}-gateway", ns, GATEWAY_POD_LABELS, [kube.ingress_rule(args.clients, [PORT])], after, name=NAME
        )

        self.base_url = kube.service_url(NAME, ns, PORT, "/v1")
        self.master_key_ref = MASTER_KEY_SECRET
        self.upstream_key_ref = UPSTREAM_KEY_SECRET if args.upstream_api_key is not None else None
        self.register_outputs({"baseUrl": self.base_url, "masterKey": self.master_key})
