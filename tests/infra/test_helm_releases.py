"""Every Helm release of every stack, rendered offline with its pinned chart and the exact values the program
passes (infra/charts.py, chart sources in LEANRAG_CHARTS or ../shared/charts): the objects validate like the
program's own (strict schemas; Pod Security `restricted` where the namespace can enforce it; checkov in
test_checkov.py), and what matters is asserted on the rendered objects, not on the values passed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.data import milvus
from infra import charts
from infra.validate import validate
from tests import renderkit as rk

UNRENDERED = {
    "agentgateway-crds": "pulled from oci://cr.agentgateway.dev/charts; its sources are not in ../shared/charts",
    "agentgateway": "pulled from oci://cr.agentgateway.dev/charts; its sources are not in ../shared/charts",
}
"""Chart -> why its releases are not rendered: charts of which the charts folder has no version at all (adding
`<chart>/<version>/` there, with its licence, renders them; the test below then asks to drop the entry)."""
HARDENED = {
    "milvus",
    "cluster-autoscaler",
    "nvidia-device-plugin",
    "dcgm-exporter",
    "keda",
    "cert-manager",
    "kserve-llmisvc-resources",
}
"""Charts with pods whose pod values the program sets itself (data layer, cluster add-ons, KEDA, cert-manager and
KServe's controller: components/serving) or whose defaults already bring what the tests ask."""
SERVING_CONTROLLERS = [
    ("prod", "leanrag-prod-keda"),
    ("kserve", "leanrag-kserve-cert-manager"),
    ("kserve", "leanrag-kserve-kserve"),
]
"""The serving layer's controllers: KEDA (autoscaling) and, in KServe mode, cert-manager and KServe's."""


def chart_of(stack: str, helm_name: str) -> str:
    return str(rk.release(rk.run_stack(stack), helm_name).inputs["chart"]).rsplit("/", 1)[-1]


def releases(stack: str) -> list[str]:
    return sorted(r.inputs["name"] for r in rk.run_stack(stack).of_type(rk.HELM_RELEASE))


EVERY = [(stack, name) for stack in rk.STACKS for name in releases(stack)]
ALL = [(stack, name) for stack, name in EVERY if chart_of(stack, name) not in UNRENDERED]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_the_charts_folder_is_found():
    assert charts.charts_dir().is_dir(), f"set {charts.CHARTS_DIR_ENV} to the chart sources (../shared/charts)"


def test_only_charts_without_any_sources_stay_unrendered():
    declared = {chart_of(stack, name) for stack, name in EVERY}
    for chart in UNRENDERED:
        assert chart in declared, f"no stack declares {chart}: drop its UNRENDERED entry"
        assert not (charts.charts_dir() / chart).exists(), f"{chart} has sources now: drop its UNRENDERED entry"


@pytest.mark.parametrize(("stack", "helm_name"), ALL)
def test_every_release_renders_with_its_pinned_chart_and_validates_strictly(stack: str, helm_name: str):
    release = rk.release(rk.run_stack(stack), helm_name)
    chart = chart_of(stack, helm_name)
    assert charts.chart_path(chart, release.inputs["version"]).is_dir()  # the version the program deploys
    objects = rk.helm_objects(stack, helm_name)
    assert objects
    errors = {f"{o['kind']}/{o['metadata'].get('name')}": validate(o) for o in objects}
    assert {k: v for k, v in errors.items() if v} == {}


def test_a_release_of_a_version_not_in_the_charts_folder_is_refused_with_the_versions_there():
    with pytest.raises(charts.ChartNotFound, match=r"milvus 4\.0\.0 is not in .* \(versions there: 5\.0\.19\)"):
        charts.chart_path("milvus", "4.0.0")


@pytest.mark.parametrize(("stack", "helm_name"), [(s, n) for s, n in ALL if chart_of(s, n) in HARDENED])
def test_every_container_has_cpu_and_memory_requests_and_limits(stack: str, helm_name: str):
    missing = []
    for where, spec in rk.pod_templates(rk.helm_objects(stack, helm_name)):
        for c in rk.containers(spec):
            res = c.get("resources") or {}
            if not all(res.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")):
                missing.append(f"{where}/{c['name']}")
    assert missing == []


# --- the pods' security where the namespace can enforce `restricted` --------------------------------------------


@pytest.mark.parametrize("stack", rk.STACKS)
def test_milvus_and_etcd_pods_meet_restricted_minio_is_the_one_reason_the_namespace_cannot(stack: str):
    objects = rk.helm_objects(stack, "milvus")
    violations = {where: rk.restricted_violations(spec) for where, spec in rk.pod_templates(objects)}
    minio = {w: v for w, v in violations.items() if "minio" in w}
    others = {w: v for w, v in violations.items() if "minio" not in w}
    assert others and all(v == [] for v in others.values()), others
    for where, spec in rk.pod_templates(objects):
        if "minio" in where:
            assert all("securityContext" not in c for c in spec["containers"]), "the sub-chart now sets it: enforce"
            assert spec["securityContext"]["runAsUser"] >= 10000  # still non-root
    assert minio and all(v for v in minio.values())


@pytest.mark.parametrize("stack", rk.STACKS)
def test_no_release_pod_calls_the_api_with_a_token_it_does_not_need(stack: str):
    run = rk.run_stack(stack)
    objects = rk.helm_objects(stack, "milvus")
    account = rk.find(run, "ServiceAccount", milvus.SERVICE_ACCOUNT, "milvus")
    assert account["automountServiceAccountToken"] is False
    for where, spec in rk.pod_templates(objects):
        assert spec.get("serviceAccountName") == milvus.SERVICE_ACCOUNT, where


# --- Milvus: auth on, credentials from Secrets only, persistence ---------------------------------------------


@pytest.mark.parametrize("stack", rk.STACKS)
def test_milvus_renders_with_auth_on_and_no_credential_in_its_config(stack: str):
    objects = rk.helm_objects(stack, "milvus")
    config_text = "\n".join(json.dumps(cm.get("data", {})) for cm in by_kind(objects, "ConfigMap"))
    user = yaml.safe_load(one(objects, "ConfigMap", "milvus")["data"]["user.yaml"])
    assert user["common"]["security"]["authorizationEnabled"] is True
    assert "minioadmin" not in config_text  # the chart's default MinIO keys are not used
    for name in rk.generated_secrets(rk.run_stack(stack)):
        assert rk.mock_secret(name) not in json.dumps(objects), name
    for where, spec in rk.pod_templates(objects):
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        if "minio" in where or "etcd" in where:
            continue
        root = env["COMMON_SECURITY_DEFAULT_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert root == {"name": milvus.ROOT_SECRET, "key": milvus.ROOT_PASSWORD_KEY}, where
    (minio,) = [spec for where, spec in rk.pod_templates(objects) if "minio" in where]
    minio_env = {e["name"]: e.get("valueFrom") for e in minio["containers"][0]["env"]}
    assert {ref["secretKeyRef"]["name"] for ref in minio_env.values() if ref} == {milvus.MINIO_SECRET}


def _claims(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Claim name -> requested size, of PVCs and StatefulSets' claim templates."""
    out = {
        o["metadata"]["name"]: o["spec"]["resources"]["requests"]["storage"]
        for o in by_kind(objects, "PersistentVolumeClaim")
    }
    for s in by_kind(objects, "StatefulSet"):
        for t in s["spec"].get("volumeClaimTemplates", []):
            out[f"{s['metadata']['name']}/{t['metadata']['name']}"] = t["spec"]["resources"]["requests"]["storage"]
    return out


def test_milvus_keeps_its_data_on_volumes_of_the_configured_sizes():
    # local: storageGb 5 and the default localDiskGb; prod: distributed with storageGb 200
    assert _claims(rk.helm_objects("local", "milvus")) == {
        "milvus": "10Gi",  # standalone's own volume (localDiskGb)
        "milvus-minio": "5Gi",  # storageGb of the local stack
        "milvus-etcd/data": "10Gi",
    }
    prod = _claims(rk.helm_objects("prod", "milvus"))
    assert prod["milvus-etcd/data"] == "10Gi"
    assert [size for name, size in prod.items() if name.startswith("milvus-minio")] == ["200Gi"]
    prod_objects = rk.helm_objects("prod", "milvus")
    assert one(prod_objects, "StatefulSet", "milvus-minio")["spec"]["replicas"] == 4  # distributed MinIO
    assert one(prod_objects, "StatefulSet", "milvus-etcd")["spec"]["replicas"] == 3


def test_milvus_is_reached_on_its_client_service_with_the_pods_the_policy_admits():
    objects = rk.helm_objects("prod", "milvus")
    service = one(objects, "Service", milvus.RELEASE)
    assert service["spec"]["type"] == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"] if p["name"] == "milvus"] == [milvus.PORT]
    proxy = one(objects, "Deployment", "milvus-proxy")["spec"]["template"]["metadata"]["labels"]
    assert milvus.client_pod_labels("distributed").items() <= proxy.items()
    standalone = one(rk.helm_objects("dev", "milvus"), "Deployment", "milvus-standalone")
    assert (
        milvus.client_pod_labels("standalone").items() <= standalone["spec"]["template"]["metadata"]["labels"].items()
    )


# --- cluster add-ons ------------------------------------------------------------------------------------------


def test_cluster_autoscaler_runs_the_release_of_the_cluster_minor_with_its_pod_identity():
    run = rk.run_stack("dev")
    objects = rk.helm_objects("dev", "leanrag-dev-cluster-autoscaler")
    (deploy,) = by_kind(objects, "Deployment")
    spec = deploy["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.1"  # EKS 1.33
    assert "--cloud-provider=aws" in container["command"]
    assert any(a.startswith("--node-group-auto-discovery=asg:tag=") for a in container["command"])
    assert {e["name"]: e.get("value") for e in container["env"]}["AWS_REGION"] == "us-east-1"
    association = next(
        r for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if "autoscaler" in r.name
    )
    assert (spec["serviceAccountName"], deploy["metadata"]["namespace"]) == (
        association.inputs["serviceAccount"],
        association.inputs["namespace"],
    )
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 10000
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_gpu_add_ons_run_only_on_gpu_nodes_and_the_exporter_without_root_or_sys_admin():
    for release in ("leanrag-dev-nvidia-device-plugin", "leanrag-dev-dcgm-exporter"):
        daemonsets = by_kind(rk.helm_objects("dev", release), "DaemonSet")
        plugin = next(d for d in daemonsets if "mps" not in d["metadata"]["name"])["spec"]["template"]["spec"]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in plugin["tolerations"]
        (term,) = plugin["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        assert term["matchExpressions"] == [{"key": "leanrag.dev/pool", "operator": "In", "values": ["gpu-l4"]}]
    objects = rk.helm_objects("dev", "leanrag-dev-dcgm-exporter")
    assert not by_kind(objects, "ServiceMonitor")
    (container,) = by_kind(objects, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and not sc["capabilities"].get("add") and sc["allowPrivilegeEscalation"] is False


def test_keda_runs_on_the_system_pool_with_its_admission_webhook():
    objects = rk.helm_objects("prod", "leanrag-prod-keda")
    deployments = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in by_kind(objects, "Deployment")}
    assert set(deployments) == {"keda-operator", "keda-operator-metrics-apiserver", "keda-admission-webhooks"}
    for name, spec in deployments.items():
        assert spec["nodeSelector"]["leanrag.dev/pool"] == "system", name
    crds = {c["metadata"]["name"] for c in by_kind(objects, "CustomResourceDefinition")}
    assert "scaledobjects.keda.sh" in crds
    assert by_kind(objects, "ValidatingWebhookConfiguration")


@pytest.mark.parametrize(("stack", "helm_name"), SERVING_CONTROLLERS)
def test_the_serving_controllers_run_as_a_high_uid_pull_always_and_have_cpu_limits(stack: str, helm_name: str):
    pods = rk.pod_templates(rk.helm_objects(stack, helm_name))
    assert pods
    for where, spec in pods:
        for c in rk.containers(spec):
            uid = (c.get("securityContext") or {}).get("runAsUser", spec.get("securityContext", {}).get("runAsUser"))
            assert uid is not None and uid >= 10000, (where, c["name"], uid)
            assert c["imagePullPolicy"] == "Always", (where, c["name"])
            assert c["resources"]["limits"]["cpu"] and c["resources"]["requests"]["memory"], (where, c["name"])
        assert rk.restricted_violations(spec) == [], where
