"""The reliability and security defaults of every model server, in dev (plain vLLM) and prod (llm-d)."""

from __future__ import annotations

import pytest

from components.cluster.base import GPU_TAINT_KEY, POOL_LABEL
from components.kube import BENCHMARK_JOB_POD_LABELS as BENCHMARK_JOB_LABELS
from components.kube import COMPONENT, ENDPOINT_PICKER, NAMESPACE_NAME
from components.serving import lifecycle as probes
from components.serving.engine import STREAMER_GBPS
from components.serving.pod import GPU_RESOURCE
from stacks.models import default_requests
from tests.renderkit import (
    container,
    dev,
    local,
    obj,
    objects_of,
    pod_spec,
    prod,
    restricted_violations,
    run_variant,
    stack_values,
    workloads,
)

STACKS = {"dev": dev, "prod": prod, "local": local}
GPU_MODELS = {"dev": ["llama-3-1-8b"], "prod": ["llama-3-1-8b", "llama-guard-3-1b"], "local": []}


def gpu_deployments(stack: str) -> list[dict]:
    return [obj(STACKS[stack](), "Deployment", m) for m in GPU_MODELS[stack]]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gpu_pods_request_gpus_tolerate_the_taint_and_select_their_pool(stack):
    for d in gpu_deployments(stack):
        pod, c = pod_spec(d), container(d)
        assert c["resources"]["requests"][GPU_RESOURCE] == c["resources"]["limits"][GPU_RESOURCE] == "1"
        assert pod["nodeSelector"] == {POOL_LABEL: "gpu-l4"}
        assert [t["key"] for t in pod["tolerations"]] == [GPU_TAINT_KEY]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_only_gpu_pods_get_gpu_requests_or_tolerations(stack):
    gpu = set(GPU_MODELS[stack])
    for d in workloads(STACKS[stack]()):
        if d["metadata"]["name"] in gpu:
            continue
        pod = pod_spec(d)
        assert not pod.get("tolerations"), d["metadata"]["name"]
        assert pod["nodeSelector"] == {POOL_LABEL: "system"}, d["metadata"]["name"]
        for c in pod["containers"]:
            assert GPU_RESOURCE not in str(c.get("resources")), d["metadata"]["name"]


def test_resources_default_to_the_models_share_of_its_node():
    # dev: g6.xlarge = 4 vCPU, 16 GB, 1 L4; prod: g2-standard-8 = 8 vCPU, 32 GB, 1 L4
    assert container(gpu_deployments("dev")[0])["resources"]["requests"] | {} == {
        "cpu": "3",
        "memory": "10Gi",
        GPU_RESOURCE: "1",
    }
    assert container(gpu_deployments("prod")[0])["resources"]["requests"]["memory"] == "23Gi"
    assert default_requests(48, 192, 4, 2) == ("23", "75Gi")  # half of a 4-GPU node


def test_startup_budget_grows_with_the_weights_and_never_drops_below_the_minimum():
    assert probes.startup_budget_s(0.1, 0.1) == probes.MIN_STARTUP_BUDGET_S
    small, large = probes.startup_budget_s(16, 0.1), probes.startup_budget_s(141, 0.1)
    assert small == 160 + probes.ENGINE_WARMUP_S and large == 1410 + probes.ENGINE_WARMUP_S
    assert probes.startup_budget_s(141, 0.4) < large  # a faster source (bucket) gets a shorter budget
    with pytest.raises(ValueError):
        probes.startup_budget_s(1, 0)


def test_rendered_startup_probe_matches_the_models_weights():
    run = prod()
    llama = container(obj(run, "Deployment", "llama-3-1-8b"))["startupProbe"]
    guard = container(obj(run, "Deployment", "llama-guard-3-1b"))["startupProbe"]
    # Llama 3.1 8B in FP8: 7.5 B params x 1 B + 0.525 B embedding x 2 B = 8.5 GB, streamed from the bucket at
    # 0.8 GB/s (11 s) + 240 s warm-up: below the 300 s minimum
    assert STREAMER_GBPS == 0.8
    assert probes.startup_budget_s(8.5, STREAMER_GBPS) == probes.MIN_STARTUP_BUDGET_S
    assert llama["failureThreshold"] * llama["periodSeconds"] == probes.MIN_STARTUP_BUDGET_S
    assert guard["failureThreshold"] * guard["periodSeconds"] == probes.MIN_STARTUP_BUDGET_S
    # Llama 3.1 70B in BF16 (141 GB) streamed: 177 s + 240 s, against 1650 s for a hub download at 0.1 GB/s
    assert probes.startup_budget_s(141.2, STREAMER_GBPS) == 417
    assert probes.startup_budget_s(141.2, 0.1) == 1652
    assert llama["httpGet"]["path"] == "/health"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_liveness_and_readiness_use_the_unauthenticated_health_endpoint(stack):
    for d in workloads(STACKS[stack]()):
        if d["spec"]["template"]["metadata"]["labels"].get(COMPONENT) != "model-server":
            continue
        c = container(d)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = c[probe]["httpGet"]
            assert get["path"] == "/health" and "httpHeaders" not in get, (d["metadata"]["name"], probe)
            assert not get["path"].startswith("/v1")  # /v1/* needs the API key: a 401 would fail the probe


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_grace_period_covers_prestop_and_vllm_drain(stack):
    for d in gpu_deployments(stack):
        pod, c = pod_spec(d), container(d)
        pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        shutdown = int(c["args"][c["args"].index("--shutdown-timeout") + 1])
        assert pre_stop == 20 and shutdown == 30
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + shutdown


def test_longer_drain_lengthens_the_grace_period():
    vals = stack_values("dev")
    vals["serving"]["models"][0]["engine"]["shutdownTimeoutS"] = 300
    vals["serving"]["preStopS"] = 45
    pod = pod_spec(obj(run_variant(vals), "Deployment", "llama-3-1-8b"))
    assert pod["terminationGracePeriodSeconds"] == 45 + 300 + probes.GRACE_MARGIN_S


def test_dev_shm_is_memory_backed_only_for_tensor_parallel():
    assert "/dev/shm" not in str(container(gpu_deployments("dev")[0])["volumeMounts"])
    vals = stack_values("prod")
    vals["cluster"]["gpuPools"][0]["instanceType"] = "g2-standard-24"  # 2 x L4 per node
    vals["monthlyBudgetUsd"] = 12000  # the whole stack at maxNodes: $10,906 (stacks/cost.py)
    vals["serving"]["models"][0]["tensorParallel"] = 2
    vals["serving"]["models"][0]["maxReplicas"] = 3
    d = obj(run_variant(vals, {"hfToken": "hf_test"}), "Deployment", "llama-3-1-8b")
    shm = [v for v in pod_spec(d)["volumes"] if v["name"] == "dshm"]
    assert shm == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container(d)["volumeMounts"]
    assert container(d)["resources"]["limits"][GPU_RESOURCE] == "2"


def test_pdb_and_topology_spread_only_for_models_that_can_have_several_replicas():
    run = prod()
    pdb = obj(run, "PodDisruptionBudget", "llama-3-1-8b")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == obj(run, "Deployment", "llama-3-1-8b")["spec"]["selector"]["matchLabels"]
    spread = pod_spec(obj(run, "Deployment", "llama-3-1-8b"))["topologySpreadConstraints"]
    assert {s["topologyKey"] for s in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert all(s["whenUnsatisfiable"] == "ScheduleAnyway" for s in spread)
    # one replica at most: no PDB (it would block node drains) and nothing to spread
    assert [p["metadata"]["name"] for p in objects_of(run, "PodDisruptionBudget")] == ["llama-3-1-8b"]
    assert "topologySpreadConstraints" not in pod_spec(obj(run, "Deployment", "llama-guard-3-1b"))
    assert objects_of(dev(), "PodDisruptionBudget") == []


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_services_are_cluster_ip_only(stack):
    services = objects_of(STACKS[stack](), "Service")
    assert services
    assert {s["spec"]["type"] for s in services} == {"ClusterIP"}


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_network_policy_admits_only_the_app_the_benchmark_prometheus_and_pickers(stack):
    run = STACKS[stack]()
    servers = [
        d["metadata"]["name"]
        for d in workloads(run)
        if d["spec"]["template"]["metadata"]["labels"].get(COMPONENT) == "model-server"
    ]
    assert servers
    for name in servers:
        policy = obj(run, "NetworkPolicy", name)["spec"]
        assert policy["podSelector"]["matchLabels"] == obj(run, "Deployment", name)["spec"]["selector"]["matchLabels"]
        assert policy["policyTypes"] == ["Ingress"]
        [rule] = policy["ingress"]
        peers = rule["from"]
        namespaces = [
            (p["namespaceSelector"]["matchLabels"][NAMESPACE_NAME], p["podSelector"]["matchLabels"])
            for p in peers
            if "namespaceSelector" in p
        ]
        expected = [
            ("rag", {}),
            ("jobs", BENCHMARK_JOB_LABELS),
            ("monitoring", {}),
            ("serving", {COMPONENT: ENDPOINT_PICKER}),
        ]
        # (not the ingest Job, the embedding model's neither: it writes through the app's API)
        assert namespaces == expected
        blocks = [p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p]
        assert blocks == (["10.58.0.0/23", "35.191.0.0/16", "130.211.0.0/22"] if stack == "prod" else [])
        assert [p["port"] for p in rule["ports"]] == [
            container(obj(run, "Deployment", name))["ports"][0]["containerPort"]
        ]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_every_serving_pod_meets_pod_security_restricted(stack):
    pods = workloads(STACKS[stack]())
    assert pods
    assert {d["metadata"]["name"]: restricted_violations(pod_spec(d)) for d in pods} == {
        d["metadata"]["name"]: [] for d in pods
    }


def test_restricted_check_catches_a_root_privileged_pod():
    bad = {
        "hostNetwork": True,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"privileged": True, "runAsUser": 0}}],
    }
    found = " ".join(restricted_violations(bad))
    for problem in ("hostNetwork", "hostPath", "privileged", "uid 0", "seccomp", "capabilities"):
        assert problem in found


def test_serving_namespace_enforces_restricted():
    [ns] = [r for r in prod().of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == "serving"]
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_vllm_metrics_are_scrapable(stack):
    for d in gpu_deployments(stack):
        ann = d["spec"]["template"]["metadata"]["annotations"]
        assert ann == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "8000",
            "prometheus.io/path": "/metrics",
            "leanrag.dev/weights": ann["leanrag.dev/weights"],  # what the prefetch Job copied (test_serving_weights)
        }


def test_service_monitors_follow_autoscaling_unless_configured():
    assert objects_of(dev(), "ServiceMonitor") == []  # no autoscaling in dev
    monitors = {m["metadata"]["name"]: m["spec"] for m in objects_of(prod(), "ServiceMonitor")}
    assert set(monitors) == {"llama-3-1-8b", "llama-guard-3-1b", "llama-3-1-8b-epp", "llama-guard-3-1b-epp"}
    llama = monitors["llama-3-1-8b"]
    assert llama["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s", "scheme": "http"}]
    assert llama["selector"]["matchLabels"] == obj(prod(), "Service", "llama-3-1-8b")["spec"]["selector"]
    vals = stack_values("dev")
    vals["serving"]["monitoring"] = {"serviceMonitor": True, "serviceMonitorLabels": {"release": "kps"}}
    [m] = objects_of(run_variant(vals), "ServiceMonitor")
    assert m["metadata"]["labels"]["release"] == "kps"


def test_rollouts_surge_instead_of_dropping_a_serving_replica():
    strategy = gpu_deployments("dev")[0]["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
