"""Small resources every layer creates the same way: Secrets, PodDisruptionBudgets and pinned Helm releases.
Each takes its `ResourceOptions` (parent, dependencies) from the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube.meta import PART_OF
from components.versions import Chart


def secret(
    resource_name: str,
    name: str,
    namespace: str,
    string_data: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """An Opaque Secret. Every value is marked a Pulumi secret: it stays encrypted in state and redacted in
    plans."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": PART_OF},
        type="Opaque",
        string_data={k: pulumi.Output.secret(v) for k, v in string_data.items()},
        opts=opts,
    )


def pod_disruption_budget(
    resource_name: str,
    name: str,
    namespace: str,
    pod_selector: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    *,
    labels: Mapping[str, str] | None = None,
    max_unavailable: int | None = None,
    unhealthy_pod_eviction_policy: str | None = None,
) -> k8s.policy.v1.PodDisruptionBudget:
    """Through voluntary disruptions (node drains, upgrades) keep one replica (the default), or let at most
    `max_unavailable` go at a time. `unhealthy_pod_eviction_policy` AlwaysAllow lets drains evict replicas
    that are not ready (a model server still loading its weights)."""
    spec: dict[str, Any] = {"maxUnavailable": max_unavailable} if max_unavailable is not None else {"minAvailable": 1}
    spec["selector"] = {"matchLabels": dict(pod_selector)}
    if unhealthy_pod_eviction_policy is not None:
        spec["unhealthyPodEvictionPolicy"] = unhealthy_pod_eviction_policy
    return k8s.policy.v1.PodDisruptionBudget(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": dict(labels or PART_OF)},
        spec=spec,
        opts=opts,
    )


def helm_release(
    resource_name: str,
    chart: Chart,
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    release_name: str | None = None,
    create_namespace: bool = True,
    timeout_s: int = 900,
) -> k8s.helm.v3.Release:
    """A Helm release from a pinned chart (components/versions.py) that waits for its workloads and rolls back
    on failure. The release is named after the resource unless `release_name` is given."""
    is_oci = chart.repo.startswith("oci://")
    optional: dict[str, Any] = {"create_namespace": True} if create_namespace else {}
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name or resource_name,
        chart=f"{chart.repo}/{chart.name}" if is_oci else chart.name,
        version=chart.version,
        repository_opts=None if is_oci else k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout_s,
        values=dict(values),
        opts=opts,
        **optional,
    )
