"""The Kubernetes helper library every layer uses (components/kube): pure builders."""

from __future__ import annotations

from components import kube
from stacks.config.platform import Resources
from tests import renderkit as rk


def test_labels_are_the_selector_plus_part_of_and_extras():
    assert kube.selector("m", kube.MODEL_SERVER) == {
        "app.kubernetes.io/name": "m",
        "app.kubernetes.io/component": "model-server",
    }
    assert kube.labels("m", kube.MODEL_SERVER, tier="gpu") == {
        **kube.selector("m", kube.MODEL_SERVER),
        "app.kubernetes.io/part-of": "leanrag",
        "tier": "gpu",
    }


def test_job_pod_labels_are_what_the_network_policies_admit():
    """One definition: the Jobs label their pods with job_selector, Milvus and the model servers admit it."""
    assert kube.INGEST_JOB_POD_LABELS == kube.job_selector("ingest") == kube.selector("ingest", kube.JOB)
    assert kube.BENCHMARK_JOB_POD_LABELS == {
        "app.kubernetes.io/name": "benchmark",
        "app.kubernetes.io/component": "job",
    }
    jobs = rk.run_stack("dev").of_type("kubernetes:batch/v1:Job")
    assert jobs
    for job in jobs:
        pod_labels = job.inputs["spec"]["template"]["metadata"]["labels"]
        assert pod_labels == kube.labels(pod_labels["app.kubernetes.io/name"], kube.JOB)


def test_restricted_security_contexts():
    pod = kube.restricted_pod_security(1001, 1002)
    assert pod["runAsNonRoot"] is True and (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (1001, 1002, 1002)
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = kube.restricted_container_security()
    assert container == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert kube.restricted_container_security(False, non_root=True)["runAsNonRoot"] is True
    assert (
        rk.restricted_violations({"securityContext": pod, "containers": [{"name": "c", "securityContext": container}]})
        == []
    )


def test_env_from_secrets_never_holds_a_value():
    ref = kube.SecretRef("s", "k")
    assert (
        ref.env("VAR")
        == kube.secret_env("VAR", "s", "k")
        == {
            "name": "VAR",
            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
        }
    )
    assert kube.env_vars({"A": "1", "B": "2"}) == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


def test_probes_and_the_pre_stop_sleep():
    assert kube.http_probe("/health", "http", 10, 6, timeout_s=5) == {
        "httpGet": {"path": "/health", "port": "http", "scheme": "HTTP"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }
    assert kube.grpc_probe(9003, 2, "readiness") == {"grpc": {"port": 9003, "service": "readiness"}, "periodSeconds": 2}
    assert kube.grpc_probe(9005, 5) == {"grpc": {"port": 9005}, "periodSeconds": 5}
    assert kube.pre_stop_sleep(20) == {"preStop": {"sleep": {"seconds": 20}}}


def test_ingress_rules_admit_pods_by_namespace_and_labels_or_cidrs():
    rule = kube.ingress_rule([kube.Peer("rag", kube.APP_POD_LABELS), kube.IpBlock("10.0.0.0/8")], [8000])
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {kube.NAMESPACE_NAME: "rag"}},
            "podSelector": {"matchLabels": kube.APP_POD_LABELS},
        },
        {"ipBlock": {"cidr": "10.0.0.0/8"}},
    ]
    policy = {"metadata": {"namespace": "serving"}, "spec": {"podSelector": {}, "ingress": [rule]}}
    assert rk.admits([policy], ("rag", kube.APP_POD_LABELS), ("serving", {}), 8000)
    assert not rk.admits([policy], ("rag", kube.GATEWAY_POD_LABELS), ("serving", {}), 8000)


def test_addresses_of_services():
    assert kube.service_host("redis", "rag") == "redis.rag.svc.cluster.local"
    assert kube.service_url("gateway", "rag", 4000, "/v1") == "http://gateway.rag.svc.cluster.local:4000/v1"


def test_resources_limit_cpu_to_twice_the_request_unless_configured():
    assert kube.cpu_limit("250m") == "500m" and kube.cpu_limit("1.5") == "3000m"
    assert kube.resources(Resources(cpu="500m", memory="1Gi")) == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1000m", "memory": "1Gi"},
    }
    configured = kube.resources(Resources(cpu="1", memory="1Gi", cpu_limit="4", memory_limit="2Gi"))
    assert configured["limits"] == {"cpu": "4", "memory": "2Gi"}


def test_pods_pull_their_pinned_tag_always_unless_a_container_says_otherwise():
    spec = kube.restricted_pod_spec(
        [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1", "imagePullPolicy": "IfNotPresent"}],
        [],
        run_as=(10001, 10001),
        node_selector={},
    )
    assert [c["imagePullPolicy"] for c in spec["containers"]] == ["Always", "IfNotPresent"]


def test_secret_files_are_readable_by_the_pods_group_only():
    assert kube.secret_volume("auth", "s", {"k": "f"}) == {
        "name": "auth",
        "secret": {"secretName": "s", "defaultMode": 0o440, "items": [{"key": "k", "path": "f"}]},
    }
