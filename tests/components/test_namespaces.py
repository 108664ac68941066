"""The program's namespaces: Pod Security `restricted` wherever it can be enforced, a default deny of ingress, and
no Service left unreachable by it (every Service's pods admit some client on the Service's port)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import renderkit as rk

ENFORCE = "pod-security.kubernetes.io/enforce"
NOT_RESTRICTED = {"milvus": "the Milvus chart's MinIO sub-chart renders no container securityContext"}
"""Namespaces that enforce less than `restricted`, and why (components/data/milvus.py)."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def program_namespaces(run) -> list[str]:
    return [n["metadata"]["name"] for n in rk.of_kind(run, "Namespace")]


@pytest.mark.parametrize("stack", rk.STACKS)
def test_every_namespace_enforces_restricted_unless_listed_with_its_reason(stack):
    run = rk.run_stack(stack)
    levels = {n["metadata"]["name"]: n["metadata"]["labels"][ENFORCE] for n in rk.of_kind(run, "Namespace")}
    assert {ns for ns, level in levels.items() if level != "restricted"} == set(NOT_RESTRICTED) & set(levels)
    assert all(level == "baseline" for ns, level in levels.items() if ns in NOT_RESTRICTED)


@pytest.mark.parametrize("stack", rk.STACKS)
def test_every_namespace_denies_ingress_by_default(stack):
    run = rk.run_stack(stack)
    denies = {
        p["metadata"]["namespace"]
        for p in rk.of_kind(run, "NetworkPolicy")
        if not any(p["spec"]["podSelector"].values())  # every pod of the namespace
        and not p["spec"].get("ingress")
        and "Ingress" in p["spec"]["policyTypes"]
    }
    namespaces = set(program_namespaces(run))
    assert namespaces <= denies
    policies = rk.of_kind(run, "NetworkPolicy")
    stranger = ("default", {"app.kubernetes.io/name": "debug"})
    for ns in denies:
        assert not rk.admits(policies, stranger, (ns, {"app.kubernetes.io/name": "anything"}), 8080), ns


def _target_port(service_port: dict[str, Any], pods: list[dict[str, Any]]) -> int:
    target = service_port.get("targetPort", service_port["port"])
    if isinstance(target, int):
        return target
    for pod in pods:
        for container in rk.containers(pod):
            for port in container.get("ports", []):
                if port.get("name") == target:
                    return port["containerPort"]
    raise AssertionError(f"named port {target} is on no selected container")


def _admits_someone(policies: list[dict[str, Any]], namespace: str, labels: dict[str, str], port: int) -> bool:
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == namespace
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and rk._selects(p["spec"]["podSelector"], labels)
    ]
    if not selecting:
        return True
    return any(rk._port_matches(rule.get("ports"), port) for p in selecting for rule in p["spec"].get("ingress") or [])


def _default_deny_namespaces(policies: list[dict[str, Any]]) -> set[str]:
    return {
        p["metadata"]["namespace"]
        for p in policies
        if not any(p["spec"]["podSelector"].values()) and not p["spec"].get("ingress")
    }


@pytest.mark.parametrize("stack", rk.STACKS)
def test_no_service_is_cut_off_by_the_default_deny(stack):
    """In the namespaces that deny by default, every Service port admits some client. (Elsewhere a workload's own
    policy may close a port on purpose, e.g. an endpoint picker's ext-proc port that only its sidecar uses.)"""
    run = rk.run_stack(stack)
    policies = rk.of_kind(run, "NetworkPolicy")
    denying = _default_deny_namespaces(policies)
    workloads = [m for m in rk.manifests(run) if m["kind"] in WORKLOAD_KINDS]
    unreachable = []
    for service in rk.of_kind(run, "Service"):
        ns, selector = service["metadata"]["namespace"], service["spec"].get("selector")
        if not selector or ns not in denying:
            continue
        pods = [
            w["spec"]["template"]
            for w in workloads
            if w["metadata"]["namespace"] == ns
            and rk._selects({"matchLabels": selector}, w["spec"]["template"]["metadata"]["labels"])
        ]
        assert pods, f"Service {ns}/{service['metadata']['name']} selects no workload"
        for port in service["spec"]["ports"]:
            number = _target_port(port, [p["spec"] for p in pods])
            for pod in pods:
                if not _admits_someone(policies, ns, pod["metadata"]["labels"], number):
                    unreachable.append(f"{ns}/{service['metadata']['name']}:{number}")
    assert unreachable == []


def test_the_reachability_check_sees_a_pod_cut_off_by_a_default_deny():
    deny = {"metadata": {"namespace": "rag"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}}
    allow = {
        "metadata": {"namespace": "rag"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "a"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 80}]}],
        },
    }
    assert not _admits_someone([deny], "rag", {"app": "a"}, 80)
    assert _admits_someone([deny, allow], "rag", {"app": "a"}, 80)
    assert not _admits_someone([deny, allow], "rag", {"app": "a"}, 81)
    assert _admits_someone([deny], "other", {"app": "a"}, 80)
