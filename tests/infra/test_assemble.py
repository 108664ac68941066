"""The real program under the SDK's mocks, for every stack file in the repo: config -> cluster -> platform ->
outputs, assembled by infra/assemble.py."""

import re

import pytest

from infra.mocks import REDACTED
from infra.plan import is_kubernetes_object
from tests.renderkit import STACKS, run_stack, stack_values

CLUSTER_TYPES = {
    "aws": "leanrag:cluster:AwsGpuCluster",
    "gcp": "leanrag:cluster:GcpGpuCluster",
    "existing": "leanrag:cluster:ExistingCluster",
}


def test_the_repo_has_the_three_stacks():
    assert {"dev", "prod", "local"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_wires_config_to_cluster_to_platform_to_outputs(stack):
    run = run_stack(stack)
    cloud = run.outputs["cloud"]
    cluster = run.one(CLUSTER_TYPES[cloud])
    namespaces = run.one("leanrag:platform:Namespaces")
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.parent == cluster.urn
    # every Kubernetes object hangs under a component and is created through the cluster's provider
    for r in run.resources:
        if is_kubernetes_object(r):
            assert r.parent is not None
    assert namespaces.parent is not None and "Stack" in namespaces.parent
    assert run.outputs["kubeconfig"] == REDACTED and "kubeconfig" in run.secret_outputs
    assert re.match(r"^(s3|gs|pvc)://", run.outputs["modelStoreUri"])


def test_namespaces_enforce_pod_security():
    for ns in run_stack("dev").of_type("kubernetes:core/v1:Namespace"):
        labels = ns.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] in ("restricted", "baseline")
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


MOVED_UNDER_A_LAYER = {
    "leanrag:data:VectorStore",
    "leanrag:data:Cache",
    "leanrag:app:Gateway",
    "leanrag:app:RagApp",
    "leanrag:jobs:WorkloadJob",
}
"""Components that were created at the stack's root before the data, app and jobs layers existed."""


@pytest.mark.parametrize("stack", STACKS)
def test_every_layer_is_one_component_and_what_moved_under_it_keeps_its_old_urn(stack):
    run = run_stack(stack)
    by_urn = {r.urn: r for r in run.resources}
    roots = sorted(r.type for r in run.resources if r.parent not in by_urn)
    layers = {"leanrag:platform:Namespaces", "leanrag:serving:ModelServing", "leanrag:data:DataLayer"}
    layers |= {"leanrag:app:AppLayer", "leanrag:jobs:QuantizeJobs", "leanrag:jobs:IngestAndBenchmarkJobs"}
    layers |= {"leanrag:monitoring:Monitoring"}
    assert layers <= set(roots) and len(roots) == len(layers) + 1  # + the cluster component
    moved = [r for r in run.resources if r.type in MOVED_UNDER_A_LAYER]
    assert moved
    for r in moved:
        assert by_urn[r.parent].type.split(":")[1] == r.type.split(":")[1]  # under its own layer
        assert {"noParent": True} in r.aliases, (r.type, r.name)  # `pulumi up` moves it, does not replace it


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_name_the_embedding_model_and_the_reranker(stack):
    """`embedding` and `reranker` (stack outputs, from ServingOutputs): what the app points OGX at."""
    outputs = run_stack(stack).outputs
    embedding = outputs["embedding"]
    assert set(embedding) == {"model", "hubId", "dimension", "baseUrl", "runtime"}
    assert embedding["model"] in outputs["servedModels"] and embedding["baseUrl"].endswith("/v1")
    assert outputs["reranker"] is None  # off in the shipped stacks


@pytest.mark.parametrize("stack", STACKS)
def test_the_rag_path_outputs_name_the_store_the_embedding_model_moderation_and_reports(stack):
    """New outputs of issue #11: the store's name (its id changes with each ingest generation: find it by name,
    GET <ragAppUrl>/vector_stores), the app's embedding model id, the moderation service and the reports."""
    out = run_stack(stack).outputs
    assert out["vectorStoreName"] == "docs"
    # the app's embedding model is the served one (ServingOutputs.embedding), reached through the gateway
    assert out["ragAppEmbeddingModel"] == f"embeddings/{out['embedding']['model']}" == "embeddings/all-minilm-l6-v2"
    assert out["embedding"]["hubId"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert out["embedding"]["dimension"] == 384
    assert out["moderationUrl"] == "http://moderation.rag.svc.cluster.local:8080/v1"
    bucket = out["modelStoreUri"]
    benchmark = stack_values(stack).get("jobs", {}).get("benchmark", {}).get("enabled", False)
    if benchmark and bucket.startswith(("s3://", "gs://")):
        assert out["benchmarkReports"] and all(
            uri.startswith(f"{bucket}/benchmarks/") and uri.endswith("/latest.json")
            for uri in out["benchmarkReports"].values()
        )
    else:  # no benchmark Job (off by default: eks-llmd, eks-pd), or no bucket
        assert out["benchmarkReports"] == {}
    for key in ("vectorStoreName", "ragAppEmbeddingModel", "moderationUrl", "benchmarkReports"):
        assert key not in run_stack(stack).secret_outputs
