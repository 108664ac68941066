"""Embedding and reranker models on CPU: Hugging Face text-embeddings-inference (TEI) on the system pool.

Where a small pooling model is cheapest: MiniLM needs well under a GB and a CPU core, no GPU. TEI serves the
OpenAI-compatible `POST /v1/embeddings` for an embedding model and `POST /rerank` ({"query", "texts"} ->
[{"index", "score"}]) for a sequence-classification (cross-encoder) model. It reads the model from a local
folder only: the store's claim mounted read-only, or an emptyDir an init container fills from the bucket
(components/serving/weights.py). Chosen over a hand-written server: maintained by Hugging Face, dynamic
batching, Prometheus metrics, API-key auth, and the model families the stack uses (BERT, XLM-RoBERTa, GTE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import Placement
from components.serving import lifecycle
from components.serving.clients import Clients
from components.serving.cpu_server import cpu_pod_spec, cpu_server_objects
from components.serving.pod import API_KEY_KEY, TIER, container_security, prometheus_annotations, selector_of
from components.serving.weights import LocalWeights
from stacks.models import ServedModel

PORT = 8080
"""TEI's HTTP port (the image defaults to 80, which a non-root process cannot bind)."""
DATA_DIR = "/data"
"""TEI's Hugging Face cache (HUGGINGFACE_HUB_CACHE): unused for a local folder, but must be writable."""
DEFAULT_MAX_BATCH_TOKENS = 16384
"""TEI's own default of --max-batch-tokens."""
ROLE = "leanrag.dev/model-role"
"""Label of TEI pods: embedding or reranker."""


def tei_args(model: ServedModel, model_path: str) -> list[str]:
    """text-embeddings-router flags. --hostname is given because Kubernetes sets HOSTNAME (the pod's name), which
    TEI would otherwise read as the address to listen on."""
    e = model.config.engine
    return [
        "--model-id",
        model_path,
        "--served-model-name",
        model.name,
        "--hostname",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--max-batch-tokens",
        str(e.max_num_batched_tokens or DEFAULT_MAX_BATCH_TOKENS),
        "--max-client-batch-size",
        str(e.max_num_seqs),
        "--json-output",
    ]


def pod_labels(model: ServedModel) -> dict[str, str]:
    return kube.labels(model.name, kube.MODEL_SERVER, **{TIER: "cpu", ROLE: model.config.role})


def pod_template(
    model: ServedModel,
    weights: LocalWeights,
    placement: Placement,
    api_key_secret: str,
    pre_stop_s: int,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    cpu, memory = model.requests
    container = {
        "name": "text-embeddings",
        "image": versions.TEXT_EMBEDDINGS_CPU_IMAGE,
        "args": tei_args(model, weights.path),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            *kube.env_vars({"HUGGINGFACE_HUB_CACHE": DATA_DIR, "HF_HUB_OFFLINE": "1", "HOME": DATA_DIR}),
            kube.secret_env("API_KEY", api_key_secret, API_KEY_KEY),
        ],
        "resources": kube.fixed_resources(cpu, memory),
        **lifecycle.model_server_probes(lifecycle.MIN_STARTUP_BUDGET_S, pre_stop_s),
        "securityContext": container_security(read_only_root=True),
    }
    spec = cpu_pod_spec(container, {"data": DATA_DIR, "tmp": "/tmp"}, weights, placement, pre_stop_s)
    return {
        "metadata": {
            "labels": pod_labels(model),
            "annotations": {**prometheus_annotations(PORT), **(annotations or {})},
        },
        "spec": spec,
    }


@dataclass
class TextEmbeddingsArgs:
    model: ServedModel
    """An embedding or reranker model on the system pool (runtime tei)."""
    weights: LocalWeights
    namespace: str
    placement: Placement
    api_key_secret: str
    clients: Clients
    pre_stop_s: int
    depends_on: list[pulumi.Resource]
    """The namespace, the API key Secret and the model's prefetch Job."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """What the prefetch Job copied (a new copy rolls the pods)."""


class TextEmbeddingsServer(pulumi.ComponentResource):
    """Deployment, ClusterIP Service, NetworkPolicy and (replicas > 1) a PodDisruptionBudget.

    Outputs: `service_name`, `base_url` (OpenAI-compatible, /v1), `rerank_url`."""

    service_name: str
    base_url: str
    rerank_url: str

    def __init__(self, name: str, args: TextEmbeddingsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:TextEmbeddingsServer", name, None, opts)
        model, ns = args.model, args.namespace
        meta = pod_labels(model)
        sel = selector_of(model.name)
        objects = cpu_server_objects(
            name,
            model.name,
            ns,
            meta,
            sel,
            {
                "replicas": model.config.max_replicas,
                "selector": {"matchLabels": sel},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": pod_template(
                    model, args.weights, args.placement, args.api_key_secret, args.pre_stop_s, args.pod_annotations
                ),
            },
            PORT,
            args.clients.ingress_rule(PORT),
            pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.deployment, self.service = objects.deployment, objects.service
        self.network_policy, self.pdb = objects.network_policy, objects.pdb
        self.service_name = model.name
        self.base_url = kube.service_url(model.name, ns, PORT, "/v1")
        self.rerank_url = kube.service_url(model.name, ns, PORT, "/rerank")
        self.register_outputs({"serviceName": self.service_name, "baseUrl": self.base_url})
