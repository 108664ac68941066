"""Preflight of exposure and client keys: each rule fails on a bad config with the key path and the fix, and the
stacks in the repo (and correct exposures on each cloud) pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.load import parse
from stacks.preflight import PreflightError
from tests.renderkit import stack_values

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e"
SECRETS = {"dev": frozenset({"hfToken"}), "prod": frozenset({"hfToken"}), "local": frozenset()}


def problems(stack: str, gateway: Any = None, app: Any = None, **platform: Any) -> dict[str, str]:
    vals = copy.deepcopy(stack_values(stack))
    plat = vals.setdefault("platform", {})
    if gateway is not None:
        plat["gateway"] = {**plat.get("gateway", {}), "exposure": gateway}
    if app is not None:
        plat["app"] = {**plat.get("app", {}), **app}
    plat.update(platform)
    try:
        parse(vals, SECRETS[stack])
    except PreflightError as e:
        return {p.path: f"{p.message} | {p.fix}" for p in e.problems}
    return {}


@pytest.mark.parametrize(
    ("stack", "gateway", "app"),
    [
        ("dev", {"mode": "internal", "allowedCidrs": ["10.0.0.0/8"]}, None),
        ("dev", {"mode": "internal", "hostname": "llm.corp.example.com", "tls": {"certificateArn": CERT}}, None),
        (
            "dev",
            {"mode": "public", "hostname": "llm.example.com", "tls": {"certificateArn": CERT}},
            {
                "auth": True,
                "exposure": {"mode": "public", "hostname": "rag.example.com", "tls": {"certificateArn": CERT}},
            },
        ),
        ("prod", {"mode": "public", "hostname": "llm.example.com"}, {"exposure": {"mode": "internal"}}),
        (
            "local",
            {"mode": "internal"},
            {
                "auth": True,
                "exposure": {
                    "mode": "public",
                    "hostname": "rag.example.com",
                    "ingressClassName": "nginx",
                    "tls": {"secretName": "rag-tls"},
                },
            },
        ),
    ],
)
def test_correct_exposures_pass(stack, gateway, app):
    assert problems(stack, gateway, app) == {}


def test_public_app_without_auth_is_refused_with_the_key_and_the_fix():
    found = problems("prod", app={"auth": False, "exposure": {"mode": "public", "hostname": "rag.example.com"}})
    assert set(found) == {"platform.app.auth"}
    assert "without authentication" in found["platform.app.auth"]
    assert "set platform.app.auth: true" in found["platform.app.auth"]


def test_public_needs_a_hostname_and_on_aws_an_acm_certificate():
    found = problems("dev", gateway={"mode": "public"})
    assert set(found) == {"platform.gateway.exposure.hostname", "platform.gateway.exposure.tls.certificateArn"}
    assert "aws acm request-certificate" in found["platform.gateway.exposure.tls.certificateArn"]


def test_gcp_public_refuses_allowed_cidrs_it_cannot_enforce():
    found = problems("prod", gateway={"mode": "public", "hostname": "llm.example.com", "allowedCidrs": ["1.2.3.0/24"]})
    assert set(found) == {"platform.gateway.exposure.allowedCidrs"}
    assert "mode: internal with allowedCidrs" in found["platform.gateway.exposure.allowedCidrs"]


def test_existing_public_needs_an_ingress_class_and_a_tls_secret():
    found = problems("local", app={"auth": True, "exposure": {"mode": "public", "hostname": "rag.example.com"}})
    assert set(found) == {"platform.app.exposure.ingressClassName", "platform.app.exposure.tls.secretName"}
    assert "cert-manager" in found["platform.app.exposure.tls.secretName"]


def test_settings_of_another_cloud_or_mode_are_refused():
    found = problems("prod", gateway={"mode": "internal", "tls": {"certificateArn": CERT, "secretName": "x-tls"}})
    assert set(found) == {"platform.gateway.exposure.tls.certificateArn", "platform.gateway.exposure.tls.secretName"}
    found = problems("dev", gateway={"mode": "cluster", "hostname": "llm.example.com"})
    assert set(found) == {"platform.gateway.exposure.mode"}
    found = problems("dev", gateway={"mode": "internal", "tls": {"certificateArn": CERT}})
    assert set(found) == {"platform.gateway.exposure.hostname"}


def test_the_gateway_and_the_app_need_their_own_hostnames():
    found = problems(
        "prod",
        gateway={"mode": "public", "hostname": "ai.example.com"},
        app={"exposure": {"mode": "public", "hostname": "ai.example.com"}},
    )
    assert set(found) == {"platform.app.exposure.hostname"}


def test_bad_cidrs_and_hostnames_are_refused_at_parse():
    with pytest.raises(PreflightError) as e:
        parse({**stack_values("local"), "platform": {"gateway": {"exposure": {"allowedCidrs": ["10.0.0.1/8"]}}}})
    assert "host bits set" in str(e.value) and "allowedCidrs" in str(e.value)


def test_clients_pass_with_served_models_and_fail_with_unknown_ones_or_twice_the_same_name():
    assert problems("prod") == {}  # docs-portal (llama-3-1-8b) and analytics
    found = problems("local", clients=[{"name": "a", "models": ["smollm2-cpu"]}, {"name": "b"}])
    assert found == {}
    found = problems("local", clients=[{"name": "a", "models": ["gpt-4", "smollm2-cpu"]}, {"name": "a"}, {"name": "b"}])
    assert set(found) == {"platform.clients", "platform.clients[0].models"}
    assert "['gpt-4'] are not models the gateway serves" in found["platform.clients[0].models"]
    assert "smollm2-cpu" in found["platform.clients[0].models"]  # the fix names the served ones
    assert "llama-guard-3-1b-cpu" not in found["platform.clients[0].models"]  # safety models are not routed
