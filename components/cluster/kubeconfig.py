"""Kubeconfig documents for EKS and GKE that authenticate with the cloud CLI, never with static tokens."""

from __future__ import annotations

import json


def _kubeconfig(name: str, endpoint: str, ca_data: str | None, exec_spec: dict[str, object]) -> str:
    server: dict[str, str] = {"server": endpoint}
    if ca_data is not None:
        server["certificate-authority-data"] = ca_data
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": server}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "interactiveMode": "Never",
                            **exec_spec,
                        }
                    },
                }
            ],
        }
    )


def eks(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    return _kubeconfig(
        cluster_name,
        endpoint,
        ca_data,
        {
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        },
    )


def gke(cluster_name: str, endpoint: str, ca_data: str) -> str:
    return _kubeconfig(
        cluster_name,
        f"https://{endpoint}",
        ca_data,
        {
            "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
        },
    )


def gke_dns(cluster_name: str, dns_endpoint: str) -> str:
    """Through GKE's DNS-based control plane endpoint (`gcloud container clusters get-credentials --dns-endpoint`):
    Google's front end checks IAM (container.clusters.connect) before the API server sees the request; it serves a
    publicly trusted certificate, so no cluster CA is pinned."""
    return _kubeconfig(
        cluster_name,
        f"https://{dns_endpoint}",
        None,
        {"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True},
    )
