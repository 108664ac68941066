"""The labels the serving layer puts on its pods, and the labels it expects on the pods that call it.

`app.kubernetes.io/component` values (written down in docs/serving.md; NetworkPolicies select by them):

| value             | pods                                                   | namespace |
|-------------------|--------------------------------------------------------|-----------|
| model-server      | vLLM and the llama.cpp CPU tier                        | serving   |
| endpoint-picker   | llm-d's endpoint picker, one Deployment per model      | serving   |
| body-router       | the body-based router (model name -> header), llm-d    | serving   |
| job               | workload Jobs; `app.kubernetes.io/name` names the job  | jobs      |

`app.kubernetes.io/name` is the served model name for model servers, `benchmark` for the benchmark Job.
"""

from __future__ import annotations

from components.namespaces import PART_OF

COMPONENT = "app.kubernetes.io/component"
NAME = "app.kubernetes.io/name"
NAMESPACE_NAME = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace; NetworkPolicies select namespaces by it."""
TIER = "leanrag.dev/serving-tier"
"""gpu (vLLM) or cpu (llama.cpp) on model-server pods."""

MODEL_SERVER = "model-server"
ENDPOINT_PICKER = "endpoint-picker"
BODY_ROUTER = "body-router"
JOB = "job"

BENCHMARK_JOB_LABELS = {NAME: "benchmark", COMPONENT: JOB}
"""The benchmark Job's pods (jobs namespace) must carry these to reach the model servers."""

HTTP_PORT = 8000
"""vLLM's OpenAI-compatible API, /health and /metrics."""
CPU_TIER_PORT = 8080
"""llama-server's port."""


def selector(name: str, component: str) -> dict[str, str]:
    """The labels a Deployment and its Service select pods by."""
    return {NAME: name, COMPONENT: component}


def labels(name: str, component: str, **extra: str) -> dict[str, str]:
    """Object and pod labels: the selector labels, part-of, and any extra ones."""
    return {**selector(name, component), **PART_OF, **extra}
