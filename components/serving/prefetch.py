"""The prefetch Jobs of a stack: one per model whose weights the stack copies from the hub into its model store,
before the server that loads them (the servers name their Job in `depends_on`; pulumi-kubernetes waits for a
Job to complete before creating what depends on it).

They run in the serving namespace: on an existing cluster the model store is a PersistentVolumeClaim there,
which only pods of that namespace can mount (the Jobs write it, the servers read it); in the clouds they run as
the namespace's model-store ServiceAccount, which holds the bucket identity. The hub token Secret exists only
for them: model servers never see it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.base import Placement
from components.serving.weights import (
    HF_TOKEN_KEY,
    MODEL_LABEL,
    PREFETCH_JOB,
    PrefetchSpec,
    PrefetchTarget,
    bucket_prefix,
    prefetch_job_spec,
)
from stacks.config.serving import PrefetchConfig
from stacks.models import GGUF_LABEL, GgufWeights, ServedModel

HF_TOKEN_SECRET = "hf-token"
"""The hub token's Secret in the serving namespace (read by the prefetch Jobs only)."""


def model_specs(models: Sequence[ServedModel], gguf: Mapping[str, GgufWeights]) -> list[PrefetchSpec]:
    """What the stack prefetches: every model whose source is `prefetched`, and each hf:// GGUF of a llama.cpp
    server (`gguf`: served name -> its weights; the CPU tier, the CPU safety model)."""
    specs = [
        PrefetchSpec(name=m.name, hub_id=m.source.hub_id, revision=m.source.revision, label=m.store_label)
        for m in models
        if m.source.prefetched
    ]
    specs += [
        PrefetchSpec(name=server, hub_id=w.repo, revision=w.revision, label=GGUF_LABEL, include=(w.file,))
        for server, w in gguf.items()
        if w.kind == "prefetched" and w.repo is not None
    ]
    return specs


@dataclass
class PrefetchArgs:
    specs: Sequence[PrefetchSpec]
    target: PrefetchTarget
    config: PrefetchConfig
    namespace: str
    placement: Placement
    """The system pool."""
    hf_token: pulumi.Output[str] | None
    storage_class: str | None
    """StorageClass of the model store's claim on an existing cluster (None: the cluster's default)."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The namespace and its model-store ServiceAccount."""


@dataclass
class Prefetched:
    """What the servers wait for and read."""

    jobs: dict[str, k8s.batch.v1.Job]
    """Served model name (or the CPU tier's) -> its prefetch Job."""
    prefixes: Mapping[str, pulumi.Output[str]]
    """Served model name -> the bucket folder of its copy (aws, gcp; empty on an existing cluster)."""
    volume: k8s.core.v1.PersistentVolumeClaim | None
    hf_token_secret: str | None
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    """Served model name -> the pod annotation naming what its Job copies (weights.WEIGHTS_ANNOTATION)."""


def prefetch_weights(name: str, args: PrefetchArgs, parent: pulumi.Resource) -> Prefetched:
    """The model store's claim (existing clusters, unless it exists), the hub token Secret and one Job per
    model; children of `parent` (the serving layer)."""
    deps = list(args.depends_on)
    target = args.target
    volume = None
    if target.volume is not None and args.specs and args.config.volume_gb is not None:
        claim = {
            "accessModes": [args.config.volume_access_mode],
            "resources": {"requests": {"storage": f"{args.config.volume_gb}Gi"}},
            **({"storageClassName": args.storage_class} if args.storage_class else {}),
        }
        volume = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-model-store",
            metadata={"name": target.volume.claim, "namespace": args.namespace, "labels": kube.PART_OF},
            spec=claim,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=deps),
        )
        deps.append(volume)
    secret_name = None
    if args.hf_token is not None and args.specs:
        deps.append(
            kube.secret(
                f"{name}-hf-token",
                HF_TOKEN_SECRET,
                args.namespace,
                {HF_TOKEN_KEY: args.hf_token},
                pulumi.ResourceOptions(parent=parent, depends_on=list(args.depends_on)),
            )
        )
        secret_name = HF_TOKEN_SECRET
    jobs = {}
    for spec in args.specs:
        labels = {**kube.labels(PREFETCH_JOB, kube.JOB), MODEL_LABEL: spec.name}
        jobs[spec.name] = k8s.batch.v1.Job(
            f"{name}-{spec.job_name}",
            metadata={"name": spec.job_name, "namespace": args.namespace, "labels": labels},
            spec=prefetch_job_spec(spec, target, args.config, args.placement, secret_name),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=deps),
        )
    prefixes = {s.name: bucket_prefix(target.model_store_uri, s) for s in args.specs} if target.volume is None else {}
    annotations = {s.name: s.annotations for s in args.specs}
    return Prefetched(jobs, prefixes, volume, secret_name, annotations)
