"""Workload Jobs run in the cluster: ingest documents and benchmark the endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stacks.config.base import ConfigModel
from stacks.config.platform import Resources


class JobLimits(ConfigModel):
    backoff_limit: int = Field(default=2, ge=0)
    active_deadline_s: int = Field(default=3600, ge=60)
    ttl_after_finished_s: int = Field(default=86400, ge=0)


class IngestJobConfig(ConfigModel):
    enabled: bool = True
    source_uri: str = ""
    """Documents to ingest: s3:// or gs:// prefix; empty ingests the bundled sample corpus."""
    max_prune_fraction: float = Field(default=0.5, gt=0, le=1)
    """The Job prunes documents gone from the source, but refuses (and changes nothing) when the source yields
    no documents or when pruning would delete more than this share of the stored chunks
    (--max-prune-fraction)."""
    limits: JobLimits = JobLimits()
    resources: Resources = Resources(cpu="2", memory="4Gi")


class BenchmarkJobConfig(ConfigModel):
    enabled: bool = False
    scenario: Literal["chat", "rag", "long-context"] = "chat"
    profile: Literal["synchronous", "sweep", "constant"] = "sweep"
    max_seconds: int = Field(default=120, ge=5)
    upload: bool = True
    """Upload each run's report to the stack's bucket (<modelStoreUri>/benchmarks/<model>-<mode>/, stack output
    benchmarkReports), as the model-store ServiceAccount. Stacks without a bucket (existing) keep it in the
    pod."""
    limits: JobLimits = JobLimits(active_deadline_s=7200)
    resources: Resources = Resources(cpu="2", memory="4Gi")


class QuantizeJobConfig(ConfigModel):
    limits: JobLimits = JobLimits(active_deadline_s=14400, backoff_limit=1)
    resources: Resources = Resources(cpu="8", memory="64Gi")
    num_calibration_samples: int = Field(default=512, ge=1)


class JobsConfig(ConfigModel):
    namespace: str = "jobs"
    ingest: IngestJobConfig = IngestJobConfig()
    benchmark: BenchmarkJobConfig = BenchmarkJobConfig()
    quantize: QuantizeJobConfig = QuantizeJobConfig()
