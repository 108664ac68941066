"""The one Kubernetes helper library of the program, used by every layer.

- `meta`: labels (the selector labels, part-of, the pod labels NetworkPolicies admit), namespace labels,
  in-cluster addresses of Services;
- `pod`: Pod Security `restricted` contexts, container resources (CPU and memory limits), the image pull
  policy, environment variables (plain and from Secrets), Secrets as files, probes and the preStop sleep;
- `network`: NetworkPolicy peers, rules, the policy resource and a namespace's default deny;
- `objects`: Secrets, PodDisruptionBudgets and pinned Helm releases.

Everything is re-exported here: layers write `from components import kube` and `kube.labels(...)`.
This package imports no layer (only `components.versions` and the config types of `stacks`).
"""

from components.kube.meta import (
    APP_POD_LABELS,
    BENCHMARK_JOB_POD_LABELS,
    BODY_ROUTER,
    COMPONENT,
    ENDPOINT_PICKER,
    GATEWAY_POD_LABELS,
    INGEST_JOB_POD_LABELS,
    JOB,
    MODEL_SERVER,
    MODERATION_POD_LABELS,
    NAME,
    NAMESPACE_NAME,
    PART_OF,
    job_selector,
    labels,
    namespace_labels,
    selector,
    service_host,
    service_url,
)
from components.kube.network import IpBlock, Peer, default_deny_ingress, ingress_rule, network_policy
from components.kube.objects import helm_release, pod_disruption_budget, secret
from components.kube.pod import (
    CPU_LIMIT_FACTOR,
    IMAGE_PULL_POLICY,
    SECRETS_DIR,
    SecretRef,
    cpu_limit,
    env_vars,
    grpc_probe,
    http_probe,
    pre_stop_sleep,
    pulled_always,
    resources,
    restricted_container_security,
    restricted_pod_security,
    restricted_pod_spec,
    secret_env,
    secret_volume,
)

__all__ = [
    "APP_POD_LABELS",
    "BENCHMARK_JOB_POD_LABELS",
    "BODY_ROUTER",
    "COMPONENT",
    "CPU_LIMIT_FACTOR",
    "ENDPOINT_PICKER",
    "GATEWAY_POD_LABELS",
    "IMAGE_PULL_POLICY",
    "INGEST_JOB_POD_LABELS",
    "JOB",
    "MODEL_SERVER",
    "MODERATION_POD_LABELS",
    "NAME",
    "NAMESPACE_NAME",
    "PART_OF",
    "SECRETS_DIR",
    "IpBlock",
    "Peer",
    "SecretRef",
    "cpu_limit",
    "default_deny_ingress",
    "env_vars",
    "grpc_probe",
    "helm_release",
    "http_probe",
    "ingress_rule",
    "job_selector",
    "labels",
    "namespace_labels",
    "network_policy",
    "pod_disruption_budget",
    "pre_stop_sleep",
    "pulled_always",
    "resources",
    "restricted_container_security",
    "restricted_pod_security",
    "restricted_pod_spec",
    "secret",
    "secret_env",
    "secret_volume",
    "selector",
    "service_host",
    "service_url",
]
