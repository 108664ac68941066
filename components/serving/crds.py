"""The CRDs and the controller that llm-d mode and autoscaling need, from pinned upstream releases.

Every custom resource of the serving layer names these in `depends_on`, so the API server knows the kinds
(and KEDA's admission webhook answers) before the objects are sent: the most reported install failure of
inference gateways and KEDA is a custom resource applied before its CRD or webhook is ready.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube, versions

KEDA_NAMESPACE = "keda"
KEDA_UID = 10001
"""The uid/gid of KEDA's pods instead of its images' 1000 (static binaries that run as any user; the operator's
certificates are on an emptyDir the fsGroup makes writable): 10000 or more cannot clash with a node's own users
(checkov CKV_K8S_40)."""


@dataclass
class InferenceCrds:
    """What Gateway API objects and InferencePools wait for."""

    gateway_api: list[pulumi.Resource]
    inference_pool: list[pulumi.Resource]


def install_inference_crds(name: str, opts: pulumi.ResourceOptions, gateway_api: bool = True) -> InferenceCrds:
    """The Gateway API (standard channel) and InferencePool CRDs from their release manifests; the standalone
    router needs only the InferencePool's (`gateway_api` False)."""
    pool = k8s.yaml.v2.ConfigFile(f"{name}-inference-pool-crds", file=versions.INFERENCE_POOL_CRDS, opts=opts)
    if not gateway_api:
        return InferenceCrds(gateway_api=[], inference_pool=[pool])
    gateway = k8s.yaml.v2.ConfigFile(f"{name}-gateway-api-crds", file=versions.GATEWAY_API_CRDS, opts=opts)
    return InferenceCrds(gateway_api=[gateway], inference_pool=[pool])


def managed_inference_crds(cluster_ready: list[pulumi.Resource]) -> InferenceCrds:
    """GKE with the Gateway API enabled installs both CRD sets itself (1.34+): wait for the cluster."""
    return InferenceCrds(gateway_api=list(cluster_ready), inference_pool=list(cluster_ready))


def install_keda(name: str, placement_selector: dict[str, str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """KEDA's operator, metrics server and admission webhook on the system pool; the release waits until all
    are ready (atomic), so ScaledObjects that depend on it meet registered CRDs and a serving webhook."""
    high_uid = {"runAsNonRoot": True, "runAsUser": KEDA_UID, "runAsGroup": KEDA_UID, "fsGroup": KEDA_UID}
    values = {
        "nodeSelector": dict(placement_selector),
        "webhooks": {"enabled": True},
        "podSecurityContext": {pod: dict(high_uid) for pod in ("operator", "metricServer", "webhooks")},
    }
    return kube.helm_release(f"{name}-keda", versions.KEDA, KEDA_NAMESPACE, values, opts)
