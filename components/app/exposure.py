"""How clients outside the cluster reach an endpoint of the app layer (the gateway, the RAG app): a typed choice
per endpoint (`ExposureConfig.mode`), rendered per cloud with what the cluster already has (docs/access.md).

- cluster: a ClusterIP Service only, on every cloud.
- internal: a Service of type LoadBalancer. aws: an internal NLB (TLS on 443 with `tls.certificateArn`, else
  plain HTTP in the VPC); gcp: an internal passthrough load balancer (plain HTTP in the VPC); existing: whatever
  implements LoadBalancer Services there (MetalLB, cloud-provider-kind).
- public: HTTPS on `hostname`. aws: an internet-facing NLB ending TLS with the ACM certificate on 443; gcp: a
  Gateway of class gke-l7-global-external-managed with a Google-managed certificate and a static IP; existing: an
  Ingress of `ingressClassName` with the TLS Secret `tls.secretName`.

Nothing is installed for it: EKS's built-in Service controller makes the NLBs (annotations
`service.beta.kubernetes.io/aws-load-balancer-*`, subnets tagged `kubernetes.io/role/(internal-)elb` by the
cluster layer), GKE's Gateway controller comes with the Gateway API the cluster layer turns on, and on an
existing cluster the user's ingress controller and certificate (e.g. cert-manager) are used. The in-cluster
Service keeps its name and address; the exposure adds objects named `<endpoint>-external`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp_sdk
import pulumi_kubernetes as k8s

from components import kube
from components.kube import IpBlock, Peer
from stacks.config.platform import ExposureConfig

Cloud = Literal["aws", "gcp", "existing"]

GKE_PUBLIC_CLASS = "gke-l7-global-external-managed"
GOOGLE_FRONT_ENDS = ("35.191.0.0/16", "130.211.0.0/22")
"""Source ranges of Google's front ends and health checks, from which a global external Application Load
Balancer connects to the pods."""
AWS_LB = "service.beta.kubernetes.io/aws-load-balancer-"
HTTPS_PORT = 443


@dataclass(frozen=True)
class Endpoint:
    """An app-layer endpoint to expose: its in-cluster Service and pods."""

    name: str
    """The in-cluster Service's name (gateway, rag-app); exposure objects are `<name>-external`."""
    namespace: str
    port: int
    """The Service's and the container's port (named `http`)."""
    selector: dict[str, str]
    health_path: str
    """A path that answers 200 without a key (the load balancer's health check)."""
    component: str

    @property
    def external_name(self) -> str:
        return f"{self.name}-external"

    @property
    def in_cluster_url(self) -> str:
        return kube.service_url(self.name, self.namespace, self.port, "/v1")


def uses_load_balancer_service(cloud: Cloud, exposure: ExposureConfig) -> bool:
    return exposure.mode == "internal" or (exposure.mode == "public" and cloud == "aws")


def terminates_tls(cloud: Cloud, exposure: ExposureConfig) -> bool:
    """Whether clients speak HTTPS to the exposed address."""
    if exposure.mode == "public":
        return True
    return exposure.mode == "internal" and cloud == "aws" and exposure.tls.certificate_arn is not None


def service_spec(ep: Endpoint, cloud: Cloud, exposure: ExposureConfig) -> tuple[dict[str, str], dict[str, Any]]:
    """Annotations and spec of the `LoadBalancer` Service of internal (every cloud) and public (aws) exposure.
    `externalTrafficPolicy: Local` keeps the client's address, which the NetworkPolicy checks."""
    annotations: dict[str, str] = {}
    port = ep.port
    if cloud == "aws":
        annotations[f"{AWS_LB}type"] = "nlb"
        if exposure.mode == "internal":
            annotations[f"{AWS_LB}internal"] = "true"
        if exposure.tls.certificate_arn:
            port = HTTPS_PORT
            annotations[f"{AWS_LB}ssl-cert"] = exposure.tls.certificate_arn
            annotations[f"{AWS_LB}ssl-ports"] = str(HTTPS_PORT)
            annotations[f"{AWS_LB}ssl-negotiation-policy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
            annotations[f"{AWS_LB}backend-protocol"] = "tcp"
    elif cloud == "gcp":
        annotations["networking.gke.io/load-balancer-type"] = "Internal"
    spec: dict[str, Any] = {
        "type": "LoadBalancer",
        "selector": ep.selector,
        "externalTrafficPolicy": "Local",
        "ports": [{"name": "https" if port == HTTPS_PORT else "http", "port": port, "targetPort": "http"}],
    }
    if exposure.allowed_cidrs:
        spec["loadBalancerSourceRanges"] = list(exposure.allowed_cidrs)
    return annotations, spec


def gke_gateway_spec(ep: Endpoint, exposure: ExposureConfig, address: str, certificate: str) -> dict[str, Any]:
    """GKE's global external Application Load Balancer: HTTPS only on 443 for the hostname, the static address and
    the Google-managed certificate (pre-shared)."""
    return {
        "gatewayClassName": GKE_PUBLIC_CLASS,
        "addresses": [{"type": "NamedAddress", "value": address}],
        "listeners": [
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": HTTPS_PORT,
                "hostname": exposure.hostname,
                "tls": {"mode": "Terminate", "options": {"networking.gke.io/pre-shared-certs": certificate}},
                "allowedRoutes": {"namespaces": {"from": "Same"}},
            }
        ],
    }


def http_route_spec(ep: Endpoint, exposure: ExposureConfig) -> dict[str, Any]:
    return {
        "parentRefs": [{"name": ep.external_name, "sectionName": "https"}],
        "hostnames": [exposure.hostname],
        "rules": [{"backendRefs": [{"name": ep.name, "port": ep.port}]}],
    }


def health_check_policy_spec(ep: Endpoint) -> dict[str, Any]:
    """The load balancer's health check on a path that answers without a key (GKE's default `/` does not)."""
    return {
        "default": {"config": {"type": "HTTP", "httpHealthCheck": {"port": ep.port, "requestPath": ep.health_path}}},
        "targetRef": {"group": "", "kind": "Service", "name": ep.name},
    }


def ingress_spec(ep: Endpoint, exposure: ExposureConfig) -> dict[str, Any]:
    """An Ingress of the cluster's own controller with the named TLS Secret (existing clusters)."""
    return {
        "ingressClassName": exposure.ingress_class_name,
        "tls": [{"hosts": [exposure.hostname], "secretName": exposure.tls.secret_name}],
        "rules": [
            {
                "host": exposure.hostname,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": ep.name, "port": {"number": ep.port}}},
                        }
                    ]
                },
            }
        ],
    }


def network_peers(cloud: Cloud, exposure: ExposureConfig) -> list[Peer | IpBlock]:
    """Who may reach the pods through the exposure (added to the endpoint's NetworkPolicy): the allowed client
    networks behind a load balancer Service (anywhere when none is listed: the load balancer decides), Google's
    front ends behind the GKE Gateway, the ingress controller's pods behind an Ingress."""
    if exposure.mode == "cluster":
        return []
    if uses_load_balancer_service(cloud, exposure):
        return [IpBlock(c) for c in exposure.allowed_cidrs or ["0.0.0.0/0"]]
    if cloud == "gcp":
        return [IpBlock(c) for c in GOOGLE_FRONT_ENDS]
    return [Peer(exposure.ingress_namespace, {})]


def load_balancer_address(status: Any) -> str:
    """The first hostname (aws) or IP (gcp, MetalLB) in a Service's `status.loadBalancer.ingress`; "" until the
    load balancer exists."""
    lb = getattr(status, "load_balancer", None) if status is not None else None
    for entry in getattr(lb, "ingress", None) or []:
        found = getattr(entry, "hostname", None) or getattr(entry, "ip", None)
        if found:
            return str(found)
    return ""


@dataclass(frozen=True)
class ExposureSite:
    """Where the stack runs, as the exposure needs it (resolved by infra/assemble.py)."""

    cloud: Cloud
    gcp_project: str | None = None
    """gcp: the project of the Gateway's static address and certificate."""


class Exposed(pulumi.ComponentResource):
    """An endpoint's exposure. Outputs: `url` (what a client outside the cluster uses, .../v1; the in-cluster URL
    for mode cluster) and `address` (the load balancer's hostname or IP that `hostname` should point at; empty
    until known, and for mode cluster)."""

    url: pulumi.Output[str]
    address: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        ep: Endpoint,
        site: ExposureSite,
        exposure: ExposureConfig,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("leanrag:app:Exposure", name, None, opts)
        cloud = site.cloud
        child = pulumi.ResourceOptions(parent=self)
        labels = kube.labels(ep.name, ep.component)
        meta = {"name": ep.external_name, "namespace": ep.namespace, "labels": labels}
        scheme = "https" if terminates_tls(cloud, exposure) else "http"
        address: pulumi.Output[str] = pulumi.Output.from_input("")
        if exposure.mode == "cluster":
            self.url = pulumi.Output.from_input(ep.in_cluster_url)
        elif uses_load_balancer_service(cloud, exposure):
            annotations, spec = service_spec(ep, cloud, exposure)
            service = k8s.core.v1.Service(
                f"{name}-external", metadata={**meta, "annotations": annotations}, spec=spec, opts=child
            )
            address = service.status.apply(load_balancer_address)
            port = spec["ports"][0]["port"]
            suffix = "" if port == HTTPS_PORT else f":{port}"
            host: pulumi.Input[str] = exposure.hostname or address
            self.url = pulumi.Output.concat(f"{scheme}://", host, f"{suffix}/v1")
        elif cloud == "gcp":
            address = self._gke_gateway(name, ep, exposure, site.gcp_project, meta, child)
            self.url = pulumi.Output.from_input(f"https://{exposure.hostname}/v1")
        else:
            k8s.networking.v1.Ingress(f"{name}-external", metadata=meta, spec=ingress_spec(ep, exposure), opts=child)
            self.url = pulumi.Output.from_input(f"https://{exposure.hostname}/v1")
        self.address = address
        self.register_outputs({"url": self.url, "address": self.address})

    def _gke_gateway(
        self,
        name: str,
        ep: Endpoint,
        exposure: ExposureConfig,
        project: str | None,
        meta: dict[str, Any],
        child: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        if exposure.hostname is None:
            raise ValueError("public exposure needs a hostname (preflight refuses it without one)")
        ip = gcp_sdk.compute.GlobalAddress(f"{name}-external", project=project, opts=child)
        certificate = gcp_sdk.compute.ManagedSslCertificate(
            f"{name}-external",
            project=project,
            managed={"domains": [exposure.hostname]},
            opts=child,
        )
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-external",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata=meta,
            spec=pulumi.Output.all(ip.name, certificate.name).apply(
                lambda names: gke_gateway_spec(ep, exposure, names[0], names[1])
            ),
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-external-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=meta,
            spec=http_route_spec(ep, exposure),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-external-health",
            api_version="networking.gke.io/v1",
            kind="HealthCheckPolicy",
            metadata=meta,
            spec=health_check_policy_spec(ep),
            opts=child,
        )
        return ip.address
