"""Exposure of the gateway and the RAG app under the SDK's mocks: per cloud and mode, the load balancer Service,
the GKE Gateway with its managed certificate and static address, or the Ingress; the NetworkPolicy admitting
what comes through it; and the outputs carrying the URL a client uses plus the in-cluster one."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from components.app.exposure import GKE_PUBLIC_CLASS, GOOGLE_FRONT_ENDS
from infra.validate import validate
from stacks.load import parse
from stacks.preflight import PreflightError
from tests import renderkit as rk
from tests.renderkit import exposed_values, run_variant, stack_values

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-123456789012"
AWS_LB = "service.beta.kubernetes.io/aws-load-balancer-"
IN_CLUSTER_GATEWAY = "http://gateway.rag.svc.cluster.local:4000/v1"
IN_CLUSTER_APP = "http://rag-app.rag.svc.cluster.local:8321/v1"


def exposed(
    stack: str, gateway: dict[str, Any] | None = None, app: dict[str, Any] | None = None, app_auth: bool = False
):
    """A repo stack with the gateway's and the app's exposure set (and the app's auth on when asked)."""
    return run_variant(exposed_values(stack, gateway, app, app_auth))


def ingress_from(run, pod: str) -> list[dict[str, Any]]:
    """The `from` entries of the rules of NetworkPolicy `pod` in the platform namespace."""
    policy = rk.find(run, "NetworkPolicy", pod, "rag")
    return [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]


def external_objects(run) -> list[dict[str, Any]]:
    return [m for m in rk.manifests(run) if m["metadata"]["name"].endswith("-external")]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_default_is_cluster_only_and_the_urls_are_the_services(stack):
    run = rk.run_stack(stack)
    assert external_objects(run) == []
    assert run.outputs["gatewayUrl"] == run.outputs["gatewayInClusterUrl"] == IN_CLUSTER_GATEWAY
    assert run.outputs["gatewayBaseUrl"] == IN_CLUSTER_GATEWAY  # the former name keeps working
    assert run.outputs["ragAppUrl"] == run.outputs["ragAppInClusterUrl"] == IN_CLUSTER_APP
    assert run.outputs["dnsRecords"] == {}
    assert not [p for p in ingress_from(run, "gateway") if "ipBlock" in p]


def test_aws_internal_renders_an_internal_nlb_limited_to_the_cidrs():
    run = exposed("dev", gateway={"mode": "internal", "allowedCidrs": ["10.20.0.0/16"]})
    service = rk.find(run, "Service", "gateway-external", "rag")
    annotations = service["metadata"]["annotations"]
    assert annotations[f"{AWS_LB}type"] == "nlb" and annotations[f"{AWS_LB}internal"] == "true"
    assert f"{AWS_LB}ssl-cert" not in annotations  # no certificate: plain HTTP inside the VPC
    spec = service["spec"]
    assert spec["type"] == "LoadBalancer" and spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == ["10.20.0.0/16"]
    assert spec["ports"] == [{"name": "http", "port": 4000, "targetPort": "http"}]
    assert rk.find(run, "Service", "gateway", "rag")["spec"]["type"] == "ClusterIP"  # in-cluster address kept
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} in ingress_from(run, "gateway")
    assert not [p for p in ingress_from(run, "rag-app") if "ipBlock" in p]  # the app stays cluster-only
    # The URL is the load balancer's own address (no hostname set), from the Service's status.
    assert re.fullmatch(
        r"http://leanrag-test-gateway-external-[0-9a-f]+\.elb\.us-east-1\.amazonaws\.com:4000/v1",
        run.outputs["gatewayUrl"],
    )
    assert run.outputs["gatewayInClusterUrl"] == IN_CLUSTER_GATEWAY
    assert run.outputs["ragAppUrl"] == IN_CLUSTER_APP
    assert validate(service) == []


def test_aws_public_ends_tls_at_an_internet_facing_nlb_with_the_acm_certificate():
    run = exposed(
        "dev",
        gateway={"mode": "public", "hostname": "llm.example.com", "tls": {"certificateArn": CERT}},
        app={"mode": "public", "hostname": "rag.example.com", "tls": {"certificateArn": CERT}},
        app_auth=True,
    )
    for name in ("gateway-external", "rag-app-external"):
        service = rk.find(run, "Service", name, "rag")
        annotations = service["metadata"]["annotations"]
        assert f"{AWS_LB}internal" not in annotations
        assert annotations[f"{AWS_LB}ssl-cert"] == CERT and annotations[f"{AWS_LB}ssl-ports"] == "443"
        assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "http"}]
        assert "loadBalancerSourceRanges" not in service["spec"]
        assert validate(service) == []
    assert run.outputs["gatewayUrl"] == "https://llm.example.com/v1"
    assert run.outputs["ragAppUrl"] == "https://rag.example.com/v1"
    assert run.outputs["ragAppInClusterUrl"] == IN_CLUSTER_APP
    records = run.outputs["dnsRecords"]
    assert set(records) == {"llm.example.com", "rag.example.com"}
    assert all(v.endswith(".elb.us-east-1.amazonaws.com") for v in records.values())
    # The ingest Job still calls the app in the cluster.
    (ingest,) = [j for j in run.of_type("kubernetes:batch/v1:Job") if j.name.endswith("-ingest")]
    env = rk.env_of(ingest.inputs["spec"]["template"]["spec"]["containers"][0])
    assert env["INGEST_APP_URL"] == IN_CLUSTER_APP.removesuffix("/v1")


def test_gcp_public_renders_the_gke_gateway_with_a_managed_certificate_and_a_static_address():
    run = exposed("prod", app={"mode": "public", "hostname": "rag.example.com"})
    gateway = rk.find(run, "Gateway", "rag-app-external", "rag")
    spec = gateway["spec"]
    assert spec["gatewayClassName"] == GKE_PUBLIC_CLASS
    (listener,) = spec["listeners"]
    assert listener["protocol"] == "HTTPS" and listener["port"] == 443 and listener["hostname"] == "rag.example.com"
    certificate = rk.resource_named(run, "leanrag-test-rag-app-external", "ManagedSslCertificate")
    assert certificate.inputs["managed"]["domains"] == ["rag.example.com"]
    # The certificate's and the address's names (generated by Pulumi, here by the mocks).
    assert listener["tls"]["options"]["networking.gke.io/pre-shared-certs"].startswith("leanrag-test-rag-app-external-")
    assert listener["tls"]["mode"] == "Terminate"
    address = rk.resource_named(run, "leanrag-test-rag-app-external", "GlobalAddress")
    assert spec["addresses"][0]["type"] == "NamedAddress"
    assert spec["addresses"][0]["value"].startswith("leanrag-test-rag-app-external")
    assert address.inputs["project"]
    route = rk.find(run, "HTTPRoute", "rag-app-external", "rag")["spec"]
    assert route["hostnames"] == ["rag.example.com"]
    assert route["rules"][0]["backendRefs"] == [{"name": "rag-app", "port": 8321}]
    health = rk.find(run, "HealthCheckPolicy", "rag-app-external", "rag")["spec"]
    assert health["default"]["config"]["httpHealthCheck"]["requestPath"] == "/v1/health"
    assert health["targetRef"]["name"] == "rag-app"
    peers = ingress_from(run, "rag-app")
    assert all({"ipBlock": {"cidr": c}} in peers for c in GOOGLE_FRONT_ENDS)
    for kind in ("HTTPRoute", "HealthCheckPolicy"):
        assert validate(rk.find(run, kind, "rag-app-external", "rag")) == []
    # the whole Gateway, NamedAddress included (schemas/crds/update.py keeps oneOf branches open)
    assert validate(gateway) == []
    assert run.outputs["ragAppUrl"] == "https://rag.example.com/v1"
    assert run.outputs["dnsRecords"] == {"rag.example.com": "203.0.113.20"}
    assert run.outputs["gatewayUrl"] == IN_CLUSTER_GATEWAY


def test_gcp_internal_renders_an_internal_passthrough_load_balancer():
    run = exposed("prod", gateway={"mode": "internal", "hostname": "llm.internal.example.com"})
    service = rk.find(run, "Service", "gateway-external", "rag")
    assert service["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
    assert service["spec"]["ports"][0]["port"] == 4000
    assert run.outputs["gatewayUrl"] == "http://llm.internal.example.com:4000/v1"
    assert run.outputs["dnsRecords"] == {"llm.internal.example.com": "10.0.8.17"}
    assert {"ipBlock": {"cidr": "0.0.0.0/0"}} in ingress_from(run, "gateway")  # the load balancer is VPC-only


def test_existing_cluster_internal_is_a_plain_load_balancer_service_and_public_an_ingress():
    run = exposed(
        "local",
        gateway={"mode": "internal", "allowedCidrs": ["172.18.0.0/16"]},
        app={
            "mode": "public",
            "hostname": "rag.example.com",
            "ingressClassName": "nginx",
            "tls": {"secretName": "rag-example-com-tls"},
        },
        app_auth=True,
    )
    service = rk.find(run, "Service", "gateway-external", "rag")
    assert "annotations" not in service["metadata"] or not service["metadata"]["annotations"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerSourceRanges"] == ["172.18.0.0/16"]
    assert run.outputs["gatewayUrl"] == "http://10.0.8.17:4000/v1"
    ingress = rk.find(run, "Ingress", "rag-app-external", "rag")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["rag.example.com"], "secretName": "rag-example-com-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "rag-app", "port": {"number": 8321}}
    assert validate(ingress) == [] and validate(service) == []
    ingress_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
        "podSelector": {"matchLabels": {}},
    }
    assert ingress_peer in ingress_from(run, "rag-app")
    assert run.outputs["ragAppUrl"] == "https://rag.example.com/v1"


def test_public_app_without_auth_is_refused_with_the_key_and_the_fix():
    vals = copy.deepcopy(stack_values("dev"))
    vals["platform"]["app"] = {"auth": False, "exposure": {"mode": "public", "hostname": "rag.example.com"}}
    with pytest.raises(PreflightError) as e:
        parse(vals, frozenset({"hfToken"}))
    found = {p.path: p for p in e.value.problems}
    assert "platform.app.auth" in found and "set platform.app.auth: true" in found["platform.app.auth"].fix
    assert "platform.app.exposure.tls.certificateArn" in found  # and aws needs the certificate
