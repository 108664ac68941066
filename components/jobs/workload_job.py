"""A workload container (quantize, ingest, benchmark) run once as a Kubernetes Job.

pulumi-kubernetes waits for a Job to complete before resources that depend on it are created, so
`depends_on` expresses the pipeline order: quantize before the model server that loads its artifact,
ingest after Milvus is ready, benchmark after the model server is ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, Placement
from components.kube import SecretFile, secret_mounts, secrets_volume
from stacks.config.jobs import JobLimits
from stacks.config.platform import Resources

RUN_AS = 10001
WORK_DIR = "/work"


INIT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
"""Resources of an init container that brings none (downloads: a corpus, a tokenizer)."""


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable filled from a key of a Kubernetes Secret (for a program that reads its secret only
    from the environment; prefer `SecretFile`)."""

    name: str
    secret: pulumi.Input[str]
    key: str


@dataclass
class WorkloadJobArgs:
    job: str
    """quantize | ingest | benchmark: names the container and its labels."""
    image: str
    args: list[pulumi.Input[str]]
    namespace: str
    limits: JobLimits
    resources: Resources
    placement: Placement
    gpus: int = 0
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: list[SecretEnv] = field(default_factory=list)
    secret_files: list[SecretFile] = field(default_factory=list)
    """Secret keys the job's container reads, as files."""
    init_secret_files: list[SecretFile] = field(default_factory=list)
    """Secret keys only init containers read (they mount them with `secret_mounts`)."""
    uses_model_store: bool = False
    """Run as the model-store ServiceAccount (bucket access through Pod Identity / Workload Identity)."""
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)
    termination_grace_s: int | None = None
    """Seconds between SIGTERM and SIGKILL (activeDeadlineSeconds, eviction); None: Kubernetes' 30."""
    depends_on: Sequence[pulumi.Resource] = ()


def job_resources(resources: Resources, gpus: int) -> dict[str, dict[str, str]]:
    limits = {"cpu": resources.cpu_limit or resources.cpu, "memory": resources.memory_limit or resources.memory}
    requests = {"cpu": resources.cpu, "memory": resources.memory}
    if gpus:
        limits["nvidia.com/gpu"] = requests["nvidia.com/gpu"] = str(gpus)
    return {"requests": requests, "limits": limits}


class WorkloadJob(pulumi.ComponentResource):
    """One Job, bounded (backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished) and `restricted`.

    Outputs: `job_name`."""

    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:jobs:WorkloadJob", name, None, opts)
        # NetworkPolicies of Milvus (ingest) and the model servers (benchmark) admit pods by these labels
        labels = kube.labels(args.job, kube.JOB)
        env = kube.env_vars(args.env)
        env += [kube.secret_env(s.name, s.secret, s.key) for s in args.secret_env]
        env += [s.env() for s in args.secret_files]
        # the root filesystem is read-only: every cache goes to the writable work volume
        env += kube.env_vars(
            {"HOME": WORK_DIR, "HF_HOME": f"{WORK_DIR}/.cache/huggingface", "XDG_CACHE_HOME": f"{WORK_DIR}/.cache"}
        )
        container = {
            "name": args.job,
            "image": args.image,
            "args": args.args,
            "env": env,
            "resources": job_resources(args.resources, args.gpus),
            "securityContext": kube.restricted_container_security(),
            "volumeMounts": [
                {"name": "work", "mountPath": WORK_DIR},
                {"name": "tmp", "mountPath": "/tmp"},
                *secret_mounts(args.secret_files),
                *args.volume_mounts,
            ],
        }
        volumes = [{"name": "work", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}, *args.volumes]
        all_secret_files = list(dict.fromkeys([*args.secret_files, *args.init_secret_files]))
        if all_secret_files:
            volumes.append(secrets_volume(all_secret_files))
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": kube.restricted_pod_security(RUN_AS, RUN_AS),
            "nodeSelector": args.placement.node_selector,
            "tolerations": args.placement.tolerations,
            "containers": [kube.pulled_always(container)],
            "initContainers": [kube.pulled_always({"resources": INIT_RESOURCES, **c}) for c in args.init_containers],
            "volumes": volumes,
        }
        if args.uses_model_store:
            pod_spec["serviceAccountName"] = MODEL_STORE_SERVICE_ACCOUNT
        if args.termination_grace_s is not None:
            pod_spec["terminationGracePeriodSeconds"] = args.termination_grace_s
        self.job = k8s.batch.v1.Job(
            name,
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "backoffLimit": args.limits.backoff_limit,
                "activeDeadlineSeconds": args.limits.active_deadline_s,
                "ttlSecondsAfterFinished": args.limits.ttl_after_finished_s,
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.job_name = self.job.metadata["name"]
        self.register_outputs({"jobName": self.job_name})
