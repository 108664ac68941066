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

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "outputs.md"


@dataclass(frozen=True)
class StackOutput:
    name: str
    type: str
    """`string`, `list of string`, `map of string to string` or `map of string to list of string`; `or null`
    when the output is null in some stacks."""
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
        "The served model names, in config order; the first is the default chat model (the gateway's and the app's).",
        'client.chat.completions.create(model=out["servedModels"][0], messages=[...])',
    ),
    StackOutput(
        "apiKey",
        "string",
        True,
        "Bearer key of the model servers (vLLM `--api-key`, the CPU tier). For operators; clients use the gateway.",
        'curl -H "Authorization: Bearer $(pulumi stack output apiKey --show-secrets)" $OPENAI_BASE_URL/models',
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
        "gatewayBaseUrl",
        "string",
        False,
        "The LiteLLM gateway (cache, fallbacks, guardrails) OpenAI-compatible base URL: what clients call. "
        "In-cluster address (`leanrag client-env --port-forward` for a laptop).",
        "leanrag client-env dev --with-secrets && set -a && . ./.env && python -c "
        "'from openai import OpenAI; print(OpenAI().models.list())'",
    ),
    StackOutput(
        "gatewayMasterKey",
        "string",
        True,
        "The gateway's master key (`sk-...`): the key `leanrag client-env --with-secrets` puts in the `.env`.",
        'OpenAI(base_url=out["gatewayBaseUrl"], api_key=GATEWAY_KEY)',
    ),
    StackOutput(
        "ragAppUrl",
        "string",
        False,
        "The RAG app (OGX) OpenAI-compatible base URL: vector stores, search, chat completions, responses.",
        'OpenAI(base_url=out["ragAppUrl"], api_key=RAG_APP_KEY or "none").vector_stores.list()',
    ),
    StackOutput(
        "ragAppApiKey",
        "string or null",
        True,
        "Bearer token of the RAG app's API; null when `platform.app.auth` is off.",
        "pulumi stack output ragAppApiKey --show-secrets",
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


def value_matches(type_: str, value: Any) -> bool:
    """Whether an exported value has the documented type (secrets are checked as the redacted string)."""
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
        "The URLs are cluster-internal (ClusterIP Services) unless an exposure is configured: from a laptop use",
        "`leanrag client-env STACK --port-forward`, which rewrites them to 127.0.0.1 and prints the `kubectl",
        "port-forward` commands.",
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
