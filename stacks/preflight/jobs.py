"""Preflight of the workload Jobs: quantize writes to the stack's bucket; ingest reads a bucket of this cloud."""

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
