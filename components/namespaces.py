"""The platform's namespaces, with Pod Security admission, a default deny of ingress, and the model-store
ServiceAccounts."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT


@dataclass
class NamespacesArgs:
    names: dict[str, str]
    """Role -> namespace name, e.g. {"serving": "serving", "rag": "rag", "jobs": "jobs"}."""
    pod_security: dict[str, str]
    """Role -> Pod Security level enforced there (restricted, or baseline where an image needs it)."""
    model_store_roles: list[str]
    """Roles whose namespace gets the model-store ServiceAccount (bound to the bucket identity)."""
    default_deny: list[str]
    """Roles whose namespace denies every incoming connection that no NetworkPolicy admits (each workload there
    brings the policy that admits its clients)."""
    service_account_annotations: pulumi.Input[dict[str, str]]


class Namespaces(pulumi.ComponentResource):
    """One namespace per role (with its default deny, where asked), and the model-store ServiceAccount in the roles
    that reach the bucket."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    """Role -> Namespace: what a layer's objects in that namespace wait for."""
    model_store_accounts: dict[str, k8s.core.v1.ServiceAccount]
    """Role -> the model-store ServiceAccount of its namespace."""

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:platform:Namespaces", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespaces = {
            role: k8s.core.v1.Namespace(
                f"{name}-{role}",
                metadata={"name": ns, "labels": kube.namespace_labels(args.pod_security[role])},
                opts=child,
            )
            for role, ns in args.names.items()
        }
        self.default_deny = {
            role: kube.default_deny_ingress(
                f"{name}-{role}-default-deny",
                args.names[role],
                pulumi.ResourceOptions(parent=self, depends_on=[self.namespaces[role]]),
            )
            for role in args.default_deny
        }
        self.model_store_accounts = {
            role: k8s.core.v1.ServiceAccount(
                f"{name}-{role}-model-store",
                metadata={
                    "name": MODEL_STORE_SERVICE_ACCOUNT,
                    "namespace": args.names[role],
                    "labels": kube.PART_OF,
                    "annotations": args.service_account_annotations,
                },
                automount_service_account_token=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespaces[role]]),
            )
            for role in args.model_store_roles
        }
        self.register_outputs({"namespaces": {r: n.metadata["name"] for r, n in self.namespaces.items()}})
