"""Preflight of how clients reach the stack: the exposure of the gateway and the RAG app (a public endpoint needs a
hostname, a certificate and authentication), and the per-client keys (`platform.clients`)."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.config.platform import ExposureConfig
from stacks.preflight.problem import Problem


def routed_models(cfg: StackConfig) -> list[str]:
    """Served names the gateway routes (chat and embedding models, the CPU tier); safety models are not routed."""
    names = [m.name for m in cfg.serving.models if m.role != "safety"]
    if cfg.serving.cpu_tier.enabled:
        names.append(cfg.serving.cpu_tier.name)
    return names


def check_exposure(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    platform = cfg.platform
    endpoints = {"platform.gateway.exposure": platform.gateway.exposure, "platform.app.exposure": platform.app.exposure}
    for path, exposure in endpoints.items():
        yield from _check_endpoint(cfg, path, exposure)
    app = platform.app.exposure
    if app.mode == "public" and not platform.app.auth:
        yield Problem(
            "platform.app.auth",
            "the RAG app is exposed publicly (platform.app.exposure.mode: public) without authentication: anyone "
            "could read and write its vector store",
            "set platform.app.auth: true (clients then send their platform.clients key, the ingest Job the app's "
            "own key), or set platform.app.exposure.mode: internal",
        )
    gateway = platform.gateway.exposure
    if gateway.hostname and gateway.hostname == app.hostname:
        yield Problem(
            "platform.app.exposure.hostname",
            f"{app.hostname!r} is also the gateway's hostname; each endpoint needs its own name",
            "use another name for the app, e.g. rag." + app.hostname.split(".", 1)[-1],
        )


def _check_endpoint(cfg: StackConfig, path: str, exposure: ExposureConfig) -> Iterator[Problem]:
    mode, tls, cloud = exposure.mode, exposure.tls, cfg.cloud
    if mode == "cluster":
        if exposure.hostname or exposure.allowed_cidrs:
            yield Problem(
                f"{path}.mode",
                "hostname and allowedCidrs apply only to an exposed endpoint, but mode is cluster",
                f"set {path}.mode: internal or public, or remove hostname and allowedCidrs",
            )
        return
    if tls.certificate_arn and cloud != "aws":
        yield Problem(
            f"{path}.tls.certificateArn", f"an ACM certificate applies only on aws (cloud is {cloud})", "remove it"
        )
    if tls.secret_name and cloud != "existing":
        yield Problem(
            f"{path}.tls.secretName",
            f"a TLS Secret applies only on an existing cluster's Ingress (cloud is {cloud})",
            "remove it" + ("; gcp creates a Google-managed certificate for the hostname" if cloud == "gcp" else ""),
        )
    if mode == "internal":
        if cloud == "aws" and tls.certificate_arn and not exposure.hostname:
            yield Problem(
                f"{path}.hostname",
                "internal TLS needs the hostname the certificate names (clients must connect by that name)",
                f"set {path}.hostname to the certificate's name, or remove tls.certificateArn",
            )
        return
    if not exposure.hostname:
        yield Problem(
            f"{path}.hostname",
            "public exposure serves HTTPS only, which needs the hostname its certificate is issued for",
            f"set {path}.hostname, e.g. api.example.com (and point it at the address in stack output dnsRecords)",
        )
    if cloud == "aws" and not tls.certificate_arn:
        yield Problem(
            f"{path}.tls.certificateArn",
            "public exposure on aws ends TLS at the load balancer with an ACM certificate, and none is set",
            "request one for the hostname (aws acm request-certificate --domain-name <hostname> "
            "--validation-method DNS) and set its ARN here",
        )
    if cloud == "gcp" and exposure.allowed_cidrs:
        yield Problem(
            f"{path}.allowedCidrs",
            "the GKE external Gateway cannot limit client addresses without a Cloud Armor policy, which this "
            "stack does not create",
            "remove allowedCidrs (clients still need a key), or use mode: internal with allowedCidrs",
        )
    if cloud == "existing":
        if not exposure.ingress_class_name:
            yield Problem(
                f"{path}.ingressClassName",
                "public exposure on an existing cluster uses an Ingress, and no IngressClass is named",
                "install an ingress controller (e.g. ingress-nginx) and set its class, e.g. ingressClassName: nginx",
            )
        if not tls.secret_name:
            yield Problem(
                f"{path}.tls.secretName",
                "public exposure on an existing cluster serves HTTPS with a TLS Secret, and none is named",
                "create a kubernetes.io/tls Secret for the hostname in the platform namespace (e.g. with "
                "cert-manager) and set its name here",
            )


def check_clients(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    clients = cfg.platform.clients
    names = [c.name for c in clients]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        yield Problem(
            "platform.clients",
            f"client names {dupes} are used more than once (a name is a key's identity)",
            "give each client its own name",
        )
    routed = routed_models(cfg)
    for i, client in enumerate(clients):
        unknown = [m for m in client.models or [] if m not in routed]
        if unknown:
            yield Problem(
                f"platform.clients[{i}].models",
                f"{unknown} are not models the gateway serves",
                f"use served names: {routed}, or leave models unset for all of them",
            )
