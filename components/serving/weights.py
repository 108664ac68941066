"""Model weights come from the stack's model store, never from the Hugging Face Hub when a server starts.

Pure builders, no resources (components/serving/prefetch.py creates them):
- `prefetch_job_spec`: the Job that copies one model from the hub into the model store once (the image and CLI of
  workloads/prefetch: idempotent, manifest.json written last), into the bucket through the model-store
  ServiceAccount (aws, gcp) or into the store's PersistentVolumeClaim (an existing cluster);
- `local_weights`: how a CPU server (text-embeddings-inference, llama-server), which reads only local files, gets
  the copy onto its disk: an init container that syncs the bucket folder into an emptyDir (aws s3 sync, gcloud
  storage rsync: the clouds' own, pinned CLIs, through the same workload identity), or the store's claim mounted
  read-only.
vLLM needs neither: it streams from the bucket itself (Run:ai streamer, components/serving/engine.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import kube, versions
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, Placement
from components.serving.engine import volume_mount
from stacks.config.serving import PrefetchConfig
from stacks.models import store_path
from stacks.uris import BucketScheme, PvcUri

PREFETCH_JOB = "prefetch"
"""`app.kubernetes.io/name` of the prefetch Jobs' pods (component `job`)."""
MODEL_LABEL = "leanrag.dev/model"
"""The served model a prefetch Job copies (a label on the Job and its pod)."""
PREFETCH_RUN_AS = 10001
"""The prefetch image's user (workloads/prefetch/Dockerfile)."""
HF_TOKEN_KEY = "token"
"""Key of the Hugging Face token in its Secret (prefetch.py writes it)."""
STORE_MOUNT = "/store"
"""Where a prefetch Job mounts the model store's claim (read-write) on an existing cluster."""
STAGING_DIR = "/staging"
"""One hub file at a time waits here while it is uploaded (the job's --staging-dir)."""
WEIGHTS_DIR = "/weights"
"""Where a CPU server reads the copy an init container synced from the bucket."""
SYNC_CONTAINER = "fetch-weights"
WEIGHTS_ANNOTATION = "leanrag.dev/weights"
"""On the pod template of a server whose weights a prefetch Job copies: <hub id>[/<file>]@<revision>. A new id or
revision rewrites the copy at the same store path (the server's arguments do not change), so the annotation
changes the template and the servers roll onto the new copy once the Job is done."""


@dataclass(frozen=True)
class PrefetchSpec:
    """One model the prefetch Job copies: which hub repository, which files, and where in the store."""

    name: str
    """Served model name: the Job's name and the store folder models/<name>/<label>."""
    hub_id: str
    revision: str | None
    label: str
    """The store folder label: the model's precision, or gguf for the CPU tier's file."""
    include: tuple[str, ...] = ()
    """Only these files (fnmatch patterns); empty: the job's default (safetensors weights, configs, tokenizer)."""

    @property
    def job_name(self) -> str:
        return f"prefetch-{self.name}"

    @property
    def path(self) -> str:
        return store_path(self.name, self.label)

    @property
    def annotations(self) -> dict[str, str]:
        """The server's pod annotation naming what this Job copies (WEIGHTS_ANNOTATION)."""
        files = "".join(f"/{pattern}" for pattern in self.include)
        return {WEIGHTS_ANNOTATION: f"{self.hub_id}{files}@{self.revision or 'main'}"}


def bucket_prefix(model_store_uri: pulumi.Input[str], spec: PrefetchSpec) -> pulumi.Output[str]:
    """s3://<bucket>/models/<name>/<label>: where the Job writes and the servers read (the quantize Job's
    layout)."""
    return pulumi.Output.concat(model_store_uri, "/", spec.path)


def prefetch_args(spec: PrefetchSpec, output: pulumi.Input[str]) -> list[pulumi.Input[str]]:
    """The job's command line (workloads/prefetch/README.md): never a token, which it reads from HF_TOKEN.
    --overwrite: the stack owns models/<name>/<label>, so a new id or revision in the config replaces the copy
    (the same revision copies nothing)."""
    args: list[pulumi.Input[str]] = ["--model", spec.hub_id]
    if spec.revision:
        args += ["--revision", spec.revision]
    for pattern in spec.include:
        args += ["--include", pattern]
    return [*args, "--output", output, "--staging-dir", STAGING_DIR, "--overwrite"]


@dataclass(frozen=True)
class PrefetchTarget:
    """Where the prefetch Jobs write: the bucket (with its identity) or the store's claim."""

    model_store_uri: pulumi.Input[str]
    """s3://<bucket> or gs://<bucket> (deploy-time), or the pvc:// URI of an existing cluster."""
    scheme: BucketScheme | None
    volume: PvcUri | None
    region: str = ""
    """Set as AWS_REGION for S3."""

    def output(self, spec: PrefetchSpec) -> pulumi.Input[str]:
        if self.volume is not None:
            inside = f"{self.volume.path}/{spec.path}" if self.volume.path else spec.path
            return f"{STORE_MOUNT}/{inside}"
        return bucket_prefix(self.model_store_uri, spec)


def prefetch_job_spec(
    spec: PrefetchSpec,
    target: PrefetchTarget,
    config: PrefetchConfig,
    placement: Placement,
    hf_token_secret: str | None,
) -> dict[str, Any]:
    """The Job's spec: bounded (backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished), Pod Security
    `restricted`, on the system pool, the hub token from its Secret (the only pods that get it)."""
    labels = kube.labels(PREFETCH_JOB, kube.JOB)  # the pod labels of every workload Job (kube.job_selector)
    env = kube.env_vars(
        {
            "HOME": f"{STAGING_DIR}/home",
            "HF_HOME": f"{STAGING_DIR}/huggingface",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            **({"AWS_REGION": target.region} if target.scheme == "s3" and target.region else {}),
        }
    )
    # the hub token as a file: huggingface_hub reads the file HF_TOKEN_PATH names
    token = [kube.SecretFile("HF_TOKEN_PATH", hf_token_secret, HF_TOKEN_KEY)] if hf_token_secret is not None else []
    env += [f.env() for f in token]
    volumes: list[dict[str, Any]] = [
        {"name": "staging", "emptyDir": {"sizeLimit": f"{config.staging_gb}Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        *([kube.secrets_volume(token)] if token else []),
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "staging", "mountPath": STAGING_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        *kube.secret_mounts(token),
    ]
    if target.volume is not None:
        volumes.append({"name": "store", "persistentVolumeClaim": {"claimName": target.volume.claim}})
        mounts.append({"name": "store", "mountPath": STORE_MOUNT})
    container = kube.pulled_always(
        {
            "name": PREFETCH_JOB,
            "image": versions.workload_image(PREFETCH_JOB),
            "args": prefetch_args(spec, target.output(spec)),
            "env": env,
            "resources": kube.resources(config.resources),
            "securityContext": kube.restricted_container_security(),
            "volumeMounts": mounts,
        }
    )
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": kube.restricted_pod_security(PREFETCH_RUN_AS, PREFETCH_RUN_AS),
        "nodeSelector": dict(placement.node_selector),
        "containers": [container],
        "volumes": volumes,
    }
    if target.volume is None:
        pod["serviceAccountName"] = MODEL_STORE_SERVICE_ACCOUNT
    limits = config.limits
    return {
        "backoffLimit": limits.backoff_limit,
        "activeDeadlineSeconds": limits.active_deadline_s,
        "ttlSecondsAfterFinished": limits.ttl_after_finished_s,
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }


@dataclass(frozen=True)
class LocalWeights:
    """A model folder (or file) on a CPU server's own disk, and what its pod needs for that."""

    path: str
    """The folder (or file) the server is pointed at."""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    """The server's mounts: read-only."""
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    service_account: str | None = None
    """The model-store ServiceAccount when an init container reads the bucket."""


def _sync_command(scheme: BucketScheme, prefix: pulumi.Input[str]) -> tuple[str, list[pulumi.Input[str]]]:
    if scheme == "s3":
        return versions.AWS_CLI_IMAGE, ["aws", "s3", "sync", "--only-show-errors", prefix, WEIGHTS_DIR]
    return versions.GCLOUD_IMAGE, ["gcloud", "storage", "rsync", "--recursive", prefix, WEIGHTS_DIR]


def local_weights(
    location: pulumi.Input[str] | PvcUri,
    *,
    scheme: BucketScheme | None,
    size_gb: float,
    file: str | None = None,
    region: str = "",
) -> LocalWeights:
    """The server reads `location` (a bucket folder or a folder on a claim), or `file` inside it: from the claim
    mounted read-only, or from an emptyDir that an init container fills from the bucket first."""
    if isinstance(location, PvcUri):
        mount, volume, volume_mount_ = volume_mount(location)
        folder = f"{mount}/{location.path}" if location.path else mount
        return LocalWeights(path=f"{folder}/{file}" if file else folder, volumes=[volume], mounts=[volume_mount_])
    if scheme is None:
        raise ValueError("a bucket folder needs its scheme (s3 or gs)")
    image, command = _sync_command(scheme, location)
    env = {"HOME": "/tmp", "CLOUDSDK_CONFIG": "/tmp/gcloud"} if scheme == "gs" else {"HOME": "/tmp"}
    if scheme == "s3" and region:
        env["AWS_REGION"] = region
    sync = {
        "name": SYNC_CONTAINER,
        "image": image,
        "command": command,
        "env": kube.env_vars(env),
        "resources": kube.fixed_resources("250m", "256Mi", "512Mi"),
        "securityContext": kube.restricted_container_security(non_root=True),
        "volumeMounts": [{"name": "weights", "mountPath": WEIGHTS_DIR}, {"name": "sync-tmp", "mountPath": "/tmp"}],
    }
    size_gi = math.ceil(size_gb * 1.2) + 1
    return LocalWeights(
        path=f"{WEIGHTS_DIR}/{file}" if file else WEIGHTS_DIR,
        volumes=[
            {"name": "weights", "emptyDir": {"sizeLimit": f"{size_gi}Gi"}},
            {"name": "sync-tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
        mounts=[{"name": "weights", "mountPath": WEIGHTS_DIR, "readOnly": True}],
        init_containers=[sync],
        service_account=MODEL_STORE_SERVICE_ACCOUNT,
    )
