"""The stack outputs, documented once: name, type, whether it is secret, what it is and a client call.

`infra/assemble.py` names the outputs (`stack_outputs`); this table documents each one and generates
docs/outputs.md. A test runs every stack file and fails naming any output that is exported but not documented
here (or documented but never exported, or of another type or secrecy than the table says).

    python -m infra.outputs --write     # regenerate docs/outputs.md after changing the table
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.client_env import REDACTED

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "outputs.md"


@dataclass(frozen=True)
class StackOutput:
    name: str
    type: str
    """`string`, `list of string`, `map of string to string`, `map of string to list of string` or `object` (a
    map of named fields, listed in the description); `or null` when the output is null in some stacks."""
    secret: bool
    """Read it with `pulumi stack output NAME --show-secrets` (plain `--json` prints "[secret]")."""
    description: str
    example: str
    """A client call (shell or Python) that uses it."""


OUTPUTS: tuple[StackOutput, ...] = (
    StackOutput(
        "openaiBaseUrl",
        "string",
        False,
        "OpenAI-compatible base URL (`.../v1`) of the first served model: its vLLM Service, or the llm-d / KServe "
        "router in front of it. In-cluster address.",
        'OpenAI(base_url=out["openaiBaseUrl"], api_key=API_KEY).models.list()',
    ),
    StackOutput(
        "openaiBaseUrls",
        "map of string to string",
        False,
        "Served model name -> its OpenAI-compatible base URL (chat, embedding, safety and CPU-tier models).",
        'OpenAI(base_url=out["openaiBaseUrls"]["smollm2-cpu"], api_key=API_KEY)',
    ),
    StackOutput(
        "servedModels",
        "list of string",
        False,
        "The served model names (chat, embedding, safety and CPU-tier models), in config order.",
        "pulumi stack output servedModels --json",
    ),
    StackOutput(
        "defaultChatModel",
        "string or null",
        False,
        "The stack's default chat model: the gateway's first chat route (the app lists it as `vllm/<name>`). "
        "What `leanrag client-env` names in the `.env`; null when no chat model is served.",
        'client.chat.completions.create(model=out["defaultChatModel"], messages=[...])',
    ),
    StackOutput(
        "apiKey",
        "string",
        True,
        "Bearer key of the model servers (vLLM `--api-key`, the CPU tier). For operators; clients use the gateway.",
        'curl -H "Authorization: Bearer $(pulumi stack output apiKey --show-secrets)" $OPENAI_BASE_URL/models',
    ),
    StackOutput(
        "embedding",
        "object or null",
        False,
        "The embedding server the app and the ingest Job use: `model` (served name), `hubId`, `dimension` "
        "(number), `baseUrl` (in-cluster, OpenAI-compatible), `runtime` (`tei` or `vllm`); null when none.",
        'OpenAI(base_url=out["embedding"]["baseUrl"], api_key=API_KEY).embeddings.create('
        'model=out["embedding"]["model"], input="hi")',
    ),
    StackOutput(
        "reranker",
        "object or null",
        False,
        "The reranker (second retrieval stage): `model`, `hubId`, `rerankUrl` (in-cluster), `api`, `runtime`; "
        "null when none is served (retrieval is one stage).",
        'httpx.post(out["reranker"]["rerankUrl"], json={"query": q, "texts": docs})',
    ),
    StackOutput(
        "servingFallbacks",
        "map of string to string",
        False,
        "Model -> the CPU-tier model the gateway falls back to when it fails ({} without a CPU tier).",
        "pulumi stack output servingFallbacks --json",
    ),
    StackOutput(
        "servingMode",
        "string",
        False,
        "How models are served: `vllm`, `llm-d` or `kserve` (docs/serving.md).",
        "pulumi stack output servingMode",
    ),
    StackOutput(
        "servingRouter",
        "string or null",
        False,
        "The llm-d router: `standalone` or `gateway/<implementation>`; null in vllm mode.",
        "pulumi stack output servingRouter",
    ),
    StackOutput(
        "inferencePools",
        "map of string to string",
        False,
        "Model -> its InferencePool (Gateway API Inference Extension) in llm-d mode; {} otherwise.",
        "kubectl -n serving get inferencepool $(pulumi stack output inferencePools --json | jq -r '.[]')",
    ),
    StackOutput(
        "milvusUri",
        "string",
        False,
        "Milvus address (in-cluster) for the ingest Job and other workloads.",
        'MilvusClient(uri=out["milvusUri"], token=MILVUS_TOKEN)',
    ),
    StackOutput(
        "milvusToken",
        "string",
        True,
        "Milvus token (`root:<password>`).",
        "MilvusClient(uri=..., token=$(pulumi stack output milvusToken --show-secrets))",
    ),
    StackOutput(
        "redisUrl",
        "string",
        True,
        "The gateway cache's Redis URL with its password (`redis://:<password>@host:6379`).",
        'redis-cli -u "$(pulumi stack output redisUrl --show-secrets)" PING',
    ),
    StackOutput(
        "gatewayUrl",
        "string",
        False,
        "The LiteLLM gateway (cache, fallbacks, guardrails) OpenAI-compatible base URL a client uses: the "
        "exposure's (`platform.gateway.exposure`: `https://<hostname>/v1` public, the internal load balancer's "
        "address) or, not exposed, the in-cluster one (`leanrag client-env --port-forward` for a laptop).",
        "leanrag client-env dev --with-secrets && set -a && . ./.env && python -c "
        "'from openai import OpenAI; print(OpenAI().models.list())'",
    ),
    StackOutput(
        "gatewayInClusterUrl",
        "string",
        False,
        "The gateway's Service (`http://gateway.<ns>.svc.cluster.local:4000/v1`), for pods in the cluster.",
        'OpenAI(base_url=out["gatewayInClusterUrl"], api_key=CLIENT_KEY)  # from a pod',
    ),
    StackOutput(
        "gatewayBaseUrl",
        "string",
        False,
        "The former name of `gatewayUrl`, kept for existing users: the same value.",
        'OpenAI(base_url=out["gatewayBaseUrl"], api_key=CLIENT_KEY)',
    ),
    StackOutput(
        "clientKeys",
        "map of string to string",
        True,
        "Client name -> its own API key (`platform.clients`) for the gateway and the RAG app; `{}` without clients. "
        "Hand each client its entry (`leanrag client-env STACK --with-secrets --client NAME`); revoke one "
        "without a redeploy (docs/access.md).",
        "pulumi stack output clientKeys --show-secrets --json | jq -r '.[\"my-app\"]'",
    ),
    StackOutput(
        "gatewayMasterKey",
        "string",
        True,
        "The gateway's master key (`sk-...`): the operator's, never a client's (clients get `clientKeys`); "
        "`leanrag client-env --operator --with-secrets` writes it for the operator's own checks.",
        'OpenAI(base_url=out["gatewayUrl"], api_key=MASTER_KEY).models.list()',
    ),
    StackOutput(
        "ragAppUrl",
        "string",
        False,
        "The RAG app (OGX) OpenAI-compatible base URL a client uses (vector stores, search, chat completions, "
        "responses): the exposure's (`platform.app.exposure`) or, not exposed, the in-cluster one.",
        'OpenAI(base_url=out["ragAppUrl"], api_key=CLIENT_KEY or "none").vector_stores.list()',
    ),
    StackOutput(
        "ragAppInClusterUrl",
        "string",
        False,
        "The app's Service (`http://rag-app.<ns>.svc.cluster.local:8321/v1`): the ingest and benchmark Jobs call it.",
        'OpenAI(base_url=out["ragAppInClusterUrl"], api_key=CLIENT_KEY)  # from a pod',
    ),
    StackOutput(
        "ragAppApiKey",
        "string or null",
        True,
        "The operator's Bearer token of the RAG app's API (the ingest Job's); null when `platform.app.auth` is "
        "off. With auth on, clients use their `clientKeys` entry instead.",
        "pulumi stack output ragAppApiKey --show-secrets",
    ),
    StackOutput(
        "dnsRecords",
        "map of string to string",
        False,
        "Hostname -> load balancer address for each exposed endpoint with a hostname (AWS: the NLB's DNS name, "
        "for a CNAME; GCP: the static IP, for an A record); `{}` when nothing is exposed.",
        "pulumi stack output dnsRecords --json | jq -r 'to_entries[] | \"\\(.key) -> \\(.value)\"'",
    ),
    StackOutput(
        "vectorStoreName",
        "string",
        False,
        "Name of the app's vector store the ingest Job fills (its id changes with each ingest: find it by name).",
        'next(s for s in app.vector_stores.list() if s.name == out["vectorStoreName"])',
    ),
    StackOutput(
        "ragAppEmbeddingModel",
        "string",
        False,
        "The app's embedding model id (`<provider>/<model>`), as the app lists it.",
        'app.embeddings.create(model=out["ragAppEmbeddingModel"], input="hello")',
    ),
    StackOutput(
        "moderationUrl",
        "string or null",
        False,
        "The moderation service's OpenAI-compatible base URL (`/v1/moderations`); null without a safety model.",
        'OpenAI(base_url=out["moderationUrl"], api_key=KEY).moderations.create(input="...")',
    ),
    StackOutput(
        "prometheusUrl",
        "string or null",
        False,
        "Prometheus' in-cluster query URL (KEDA's; Grafana's datasource); null with monitoring provider `none` "
        "(docs/monitoring.md).",
        "kubectl -n monitoring port-forward svc/prometheus-server 9090:9090  # then http://127.0.0.1:9090",
    ),
    StackOutput(
        "grafanaDashboards",
        "list of string",
        False,
        "The Grafana dashboards' ConfigMap names (vLLM, gateway, RAG app); [] when dashboards are off.",
        "kubectl -n monitoring get configmap $(pulumi stack output grafanaDashboards --json | jq -r '.[]')",
    ),
    StackOutput(
        "benchmarkReports",
        "map of string to string",
        False,
        "Chat model -> URI of its benchmark runs' `latest.json` in the bucket; {} without a benchmark or bucket.",
        'aws s3 cp "$(pulumi stack output benchmarkReports --json | jq -r \'.["llama-3-1-8b"]\')" -',
    ),
    StackOutput(
        "cloud",
        "string",
        False,
        "`aws`, `gcp` or `existing`.",
        "pulumi stack output cloud",
    ),
    StackOutput(
        "kubeconfig",
        "string",
        True,
        "kubeconfig (JSON) of the cluster; authenticates with the cloud CLI (`aws eks get-token`, "
        "`gke-gcloud-auth-plugin`), never a static token. Its server is the way in of docs/deploy.md.",
        "pulumi stack output kubeconfig --show-secrets > kubeconfig.json && KUBECONFIG=kubeconfig.json kubectl get ns",
    ),
    StackOutput(
        "modelStoreUri",
        "string",
        False,
        "Where quantized and prefetched weights live: `s3://bucket`, `gs://bucket` or `pvc://claim`.",
        'aws s3 ls "$(pulumi stack output modelStoreUri)/"',
    ),
)
"""Every stack output, in the order `pulumi stack output` lists them."""

BY_NAME = {o.name: o for o in OUTPUTS}


def output_matches(output: StackOutput, value: Any) -> bool:
    """Whether an exported value is as documented: a secret may show as REDACTED whatever its type."""
    return (output.secret and value == REDACTED) or value_matches(output.type, value)


def value_matches(type_: str, value: Any) -> bool:
    """Whether an exported value has the documented type."""
    if value is None:
        return type_.endswith(" or null")
    base = type_.removesuffix(" or null")
    if base == "string":
        return isinstance(value, str)
    if base == "list of string":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if base == "map of string to string":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if base == "map of string to list of string":
        return isinstance(value, dict) and all(isinstance(v, list) for v in value.values())
    if base == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown output type {type_!r} in infra/outputs.py")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Stack outputs",
        "",
        "Generated by `python -m infra.outputs --write` from the table in `infra/outputs.py`; do not edit by hand.",
        "Read them with `pulumi stack output --json` (secrets print as `[secret]`; add `--show-secrets` to see",
        "them), or let `leanrag client-env STACK` turn them into a `.env` and OpenAI-SDK snippets",
        "(`--with-secrets` to include the keys). In the examples, `out` is `json.loads(pulumi stack output --json",
        "--show-secrets)`.",
        "",
        "`gatewayUrl` and `ragAppUrl` are what a client outside the cluster uses when the gateway or the app is",
        "exposed (`platform.*.exposure`, docs/access.md); otherwise they, like every other URL here, are",
        "cluster-internal (ClusterIP Services): from a laptop use `leanrag client-env STACK --port-forward`, which",
        "rewrites them to 127.0.0.1 and prints the `kubectl port-forward` commands. Clients get their own key",
        "(`clientKeys`), never the master key.",
        "",
        "| output | type | secret | what | example |",
        "|---|---|---|---|---|",
    ]
    for o in OUTPUTS:
        lines.append(
            f"| `{o.name}` | {o.type} | {'yes' if o.secret else 'no'} | {_cell(o.description)} | `{_cell(o.example)}` |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.outputs", description="docs/outputs.md from the table")
    parser.add_argument("--write", action="store_true", help="rewrite docs/outputs.md")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    if not DOC.exists() or DOC.read_text() != text:
        print("docs/outputs.md is out of date: run python -m infra.outputs --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
