"""What every model server on the system pool's CPUs shares (llama-server for the CPU tier,
text-embeddings-inference for embedding and reranker models): the pod spec around its one container, and its
Deployment, ClusterIP Service, NetworkPolicy and, with several replicas, PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import Placement
from components.serving import lifecycle
from components.serving.pod import RUN_AS
from components.serving.weights import LocalWeights

SCRATCH_GI = 1
"""Size of each writable scratch emptyDir (caches, /tmp): the weights are read, never downloaded."""


def cpu_pod_spec(
    container: dict[str, Any],
    scratch: Mapping[str, str],
    weights: LocalWeights,
    placement: Placement,
    pre_stop_s: int,
    extra_volumes: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The pod spec: `container` (with its own mounts of `extra_volumes`, e.g. its Secret files) with the
    `scratch` emptyDirs (volume name -> mount path) and the weights' read-only mounts, the init container that
    fills them from the bucket, non-root and `restricted`, on the system pool, no ServiceAccount token and no
    Service environment variables (kube.restricted_pod_spec)."""
    mounts = [{"name": n, "mountPath": path} for n, path in scratch.items()]
    volumes = [{"name": n, "emptyDir": {"sizeLimit": f"{SCRATCH_GI}Gi"}} for n in scratch]
    spec = kube.restricted_pod_spec(
        [{**container, "volumeMounts": [*mounts, *weights.mounts, *container.get("volumeMounts", [])]}],
        [*volumes, *weights.volumes, *extra_volumes],
        run_as=(RUN_AS, RUN_AS),
        node_selector=placement.node_selector,
        tolerations=placement.tolerations,
        grace_s=lifecycle.termination_grace_s(pre_stop_s, 0),
    )
    if not spec["tolerations"]:  # the system pool is untainted
        del spec["tolerations"]
    if weights.init_containers:
        spec["initContainers"] = [kube.pulled_always(c) for c in weights.init_containers]
    if weights.service_account:
        spec["serviceAccountName"] = weights.service_account
    return spec


@dataclass
class CpuServerObjects:
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    network_policy: k8s.networking.v1.NetworkPolicy
    pdb: k8s.policy.v1.PodDisruptionBudget | None


def cpu_server_objects(
    name: str,
    server: str,
    namespace: str,
    labels: dict[str, str],
    selector: dict[str, str],
    deployment_spec: dict[str, Any],
    port: int,
    ingress: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> CpuServerObjects:
    """The objects of server `server` (resources named after `name`, children as `opts` says)."""
    deployment = k8s.apps.v1.Deployment(
        name,
        metadata={"name": server, "namespace": namespace, "labels": labels},
        spec=deployment_spec,
        opts=opts,
    )
    service = k8s.core.v1.Service(
        f"{name}-svc",
        metadata={"name": server, "namespace": namespace, "labels": labels},
        spec={
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
        },
        opts=opts,
    )
    policy = kube.network_policy(f"{name}-ingress", namespace, selector, [ingress], opts, name=server, labels=labels)
    pdb = None
    if deployment_spec.get("replicas", 1) > 1:
        pdb = kube.pod_disruption_budget(
            f"{name}-pdb", server, namespace, selector, opts, labels=labels, max_unavailable=1
        )
    return CpuServerObjects(deployment, service, policy, pdb)
