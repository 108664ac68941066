"""Labels and in-cluster addresses: what objects are called, and the labels NetworkPolicies select pods by.

`app.kubernetes.io/component` values (NetworkPolicies select by them; see docs/serving.md):

| value           | pods                                                    | namespace |
|-----------------|---------------------------------------------------------|-----------|
| model-server    | vLLM and the llama.cpp CPU tier                         | serving   |
| endpoint-picker | llm-d's endpoint picker, one Deployment per model       | serving   |
| body-router     | the body-based router (model name -> header), llm-d     | serving   |
| app             | the RAG app (OGX)                                       | platform  |
| gateway         | the LiteLLM gateway                                     | platform  |
| moderation      | the moderation service (/v1/moderations, Llama Guard)   | platform  |
| cache           | Redis                                                   | platform  |
| job             | workload Jobs; `app.kubernetes.io/name` names the job   | jobs      |

`app.kubernetes.io/name` is the served model name for model servers and the job's name for Jobs.
"""

from __future__ import annotations

PART_OF = {"app.kubernetes.io/part-of": "leanrag"}
"""On every object the program creates."""
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
NAMESPACE_NAME = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (1.22+); NetworkPolicies select namespaces by it."""

MODEL_SERVER = "model-server"
ENDPOINT_PICKER = "endpoint-picker"
BODY_ROUTER = "body-router"
JOB = "job"


def selector(name: str, component: str) -> dict[str, str]:
    """The labels a workload and its Service select pods by."""
    return {NAME: name, COMPONENT: component}


def labels(name: str, component: str, **extra: str) -> dict[str, str]:
    """Object and pod labels: the selector labels, part-of, and any extra ones."""
    return {**selector(name, component), **PART_OF, **extra}


def job_selector(job: str) -> dict[str, str]:
    """The labels of a workload Job's pods (quantize, ingest, benchmark)."""
    return selector(job, JOB)


# --- who talks to whom: the pod labels NetworkPolicies admit (each layer labels its pods with these) --------
APP_POD_LABELS = selector("rag-app", "app")
"""The RAG app (OGX) pods, in the platform namespace: they reach Milvus, Redis and the gateway."""
GATEWAY_POD_LABELS = selector("gateway", "gateway")
"""The LiteLLM gateway pods, in the platform namespace: they reach Redis."""
MODERATION_POD_LABELS = selector("moderation", "moderation")
"""The moderation service's pods, in the platform namespace: they reach the safety model."""
INGEST_JOB_POD_LABELS = job_selector("ingest")
"""The ingest Job's pods (jobs namespace): they reach the RAG app."""
BENCHMARK_JOB_POD_LABELS = job_selector("benchmark")
"""The benchmark Job's pods (jobs namespace): they reach the model servers, the gateway and the app."""


def namespace_labels(enforce: str) -> dict[str, str]:
    """A namespace's labels: Pod Security `enforce` at the given level, warn and audit at `restricted`."""
    return {
        **PART_OF,
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def service_host(name: str, namespace: str) -> str:
    """The cluster DNS name of a Service."""
    return f"{name}.{namespace}.svc.cluster.local"


def service_url(name: str, namespace: str, port: int, path: str = "") -> str:
    """http://<service>.<namespace>.svc.cluster.local:<port><path>."""
    return f"http://{service_host(name, namespace)}:{port}{path}"
