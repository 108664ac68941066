"""The one Kubernetes helper library of the program, used by every layer.

- `meta`: labels (the selector labels, part-of, the pod labels NetworkPolicies admit), namespace labels,
  in-cluster addresses of Services;
- `pod`: Pod Security `restricted` contexts, container resources, environment variables (plain and from
  Secrets), probes and the preStop sleep;
- `network`: NetworkPolicy peers, rules and the policy resource;
- `objects`: Secrets, PodDisruptionBudgets and pinned Helm releases;
- `metrics`: the scrape contract (prometheus.io/* pod annotations, the `metrics` container port).

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
from components.kube.metrics import metrics_container_port, scrape_annotations
from components.kube.network import IpBlock, Peer, ingress_rule, network_policy
from components.kube.objects import helm_release, pod_disruption_budget, secret
from components.kube.pod import (
    SecretRef,
    env_vars,
    grpc_probe,
    http_probe,
    pre_stop_sleep,
    resources,
    restricted_container_security,
    restricted_pod_security,
    restricted_pod_spec,
    secret_env,
)

__all__ = [
    "APP_POD_LABELS",
    "BENCHMARK_JOB_POD_LABELS",
    "BODY_ROUTER",
    "COMPONENT",
    "ENDPOINT_PICKER",
    "GATEWAY_POD_LABELS",
    "INGEST_JOB_POD_LABELS",
    "JOB",
    "MODEL_SERVER",
    "MODERATION_POD_LABELS",
    "NAME",
    "NAMESPACE_NAME",
    "PART_OF",
    "IpBlock",
    "Peer",
    "SecretRef",
    "env_vars",
    "grpc_probe",
    "helm_release",
    "http_probe",
    "ingress_rule",
    "job_selector",
    "labels",
    "metrics_container_port",
    "namespace_labels",
    "network_policy",
    "pod_disruption_budget",
    "pre_stop_sleep",
    "resources",
    "restricted_container_security",
    "restricted_pod_security",
    "restricted_pod_spec",
    "scrape_annotations",
    "secret",
    "secret_env",
    "selector",
    "service_host",
    "service_url",
]
