"""The jobs layer: quantize, ingest and benchmark run once as Kubernetes Jobs, in pipeline order."""

from components.jobs.layer import (
    IngestAndBenchmarkJobs,
    IngestAndBenchmarkJobsArgs,
    IngestApp,
    JobsOutputs,
    QuantizeJobs,
    QuantizeJobsArgs,
    QuantizeOutputs,
)
from components.jobs.pipeline import IngestTarget

__all__ = [
    "IngestAndBenchmarkJobs",
    "IngestAndBenchmarkJobsArgs",
    "IngestApp",
    "IngestTarget",
    "JobsOutputs",
    "QuantizeJobs",
    "QuantizeJobsArgs",
    "QuantizeOutputs",
]
